// Command kube-apiserver is the upstream Kubernetes API server, unchanged: this
// file only mirrors k8s.io/kubernetes/cmd/kube-apiserver/apiserver.go so that the
// binary can be built from the k8s.io/kubernetes Go module (pinned in go.mod)
// for Keel's test harness (see ../kube-harness.sh). It is not a fake.
package main

import (
	"os"
	_ "time/tzdata" // for timeZone support in CronJob

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format registration
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics plugins
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric registration
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	command := app.NewAPIServerCommand()
	code := cli.Run(command)
	os.Exit(code)
}
