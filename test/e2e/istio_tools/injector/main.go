// Command injector runs Istio's own sidecar injection webhook (istio.io/istio
// pkg/kube/inject, the handler istiod serves on /inject) over plain HTTP on a
// loopback port, configured from files the way istiod is from its ConfigMaps: the
// `config` and `values` keys of ConfigMap istio-sidecar-injector and the `mesh` key
// of ConfigMap istio, as Istio's chart renders them. integration tests send it the
// same AdmissionReviews as Keel's /inject and compare the patched pods.
//
// Run it with ENABLE_NATIVE_SIDECARS=false (istiod reads it at start; "auto" needs
// a node informer this process does not have). It prints "listening on HOST:PORT"
// once it accepts connections, and serves until killed.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"

	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pkg/config/mesh"
	"istio.io/istio/pkg/config/mesh/meshwatcher"
	"istio.io/istio/pkg/kube/inject"
)

func main() {
	configFile := flag.String("config", "", "the injector config (ConfigMap istio-sidecar-injector, key config)")
	valuesFile := flag.String("values", "", "the injection values (ConfigMap istio-sidecar-injector, key values)")
	meshFile := flag.String("mesh", "", "the mesh config (ConfigMap istio, key mesh)")
	addr := flag.String("addr", "127.0.0.1:0", "where to listen (plain HTTP)")
	revision := flag.String("revision", "", "the istio.io/rev this injector serves")
	flag.Parse()
	if *configFile == "" || *valuesFile == "" || *meshFile == "" {
		log.Fatal("injector: --config, --values and --mesh are required")
	}

	meshYAML, err := os.ReadFile(*meshFile)
	if err != nil {
		log.Fatalf("injector: %v", err)
	}
	meshConfig, err := mesh.ApplyMeshConfigDefaults(string(meshYAML))
	if err != nil {
		log.Fatalf("injector: %s: %v", *meshFile, err)
	}
	watcher, err := inject.NewFileWatcher(*configFile, *valuesFile)
	if err != nil {
		log.Fatalf("injector: %v", err)
	}
	mux := http.NewServeMux()
	env := &model.Environment{Watcher: meshwatcher.NewTestWatcher(meshConfig)}
	// istiod always has a PushContext; with no ProxyConfig resources, the effective
	// ProxyConfig is the mesh's defaultConfig with the pod's proxy.istio.io/config.
	push := model.NewPushContext()
	push.ProxyConfigs = &model.ProxyConfigs{}
	env.SetPushContext(push)
	if _, err := inject.NewWebhook(inject.WebhookParameters{Watcher: watcher, Env: env, Mux: mux, Revision: *revision}); err != nil {
		log.Fatalf("injector: %v", err)
	}
	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("injector: %v", err)
	}
	fmt.Printf("listening on %s\n", listener.Addr())
	log.Fatal(http.Serve(listener, mux))
}
