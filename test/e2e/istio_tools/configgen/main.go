// configgen renders what istiod serves each proxy of a golden case: the oracle of
// Keel's differential test (test/e2e/istiod_diff_test.py). It reads the case the way
// Keel's golden test does (test/pilot/networking/testdata/<case>/case.yaml: inputs,
// proxies), loads the inputs into Istio's own in-process discovery server
// (istio.io/istio/pilot/test/xds, the fake kube client and config store istiod's
// tests use), connects one ADS stream per proxy and subscribes as Keel's golden
// renderer does (test/pilot/networking/golden/golden_util.cc): LDS (wildcard, or the
// case's names for proxyless clients), RDS for the HttpConnectionManagers' route
// names, CDS (wildcard, or the clusters the routes name for proxyless), EDS for the
// EDS clusters, SDS for the kubernetes:// credentials the listeners name. It writes
// OUT/<case>/<proxy>.json: {"listeners", "routes", "clusters", "endpoints", "secrets"},
// each a list of resources as protojson. A case's `mesh` (ConfigMap istio's mesh key)
// is applied over istiod's defaults, as istiod's mesh watcher does.
//
//	configgen --repo REPO_ROOT --out OUT CASE_DIR...
//
// The inputs hold no EndpointSlices (as Keel's config directory, endpoints come from
// Pods); configgen writes the slices Kubernetes' EndpointSlice controller would: one
// per Service with a selector, an endpoint per Running Pod with an IP that it selects,
// ports resolved from the Service's targetPort. Proxies are authenticated as
// ns/<proxy namespace>/sa/golden, as Keel's golden renderer serves them, so gateways
// get their credentials over SDS.
//
// Exit codes: 0 success, 2 a case failed (the message names it).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"istio.io/istio/pilot/pkg/config/kube/crd"
	"istio.io/istio/pilot/pkg/model"
	v3 "istio.io/istio/pilot/pkg/xds/v3"
	xdsfake "istio.io/istio/pilot/test/xds"
	"istio.io/istio/pkg/config/mesh"
	_ "istio.io/istio/pkg/config/xds" // every Envoy extension type, so protojson resolves each Any
	kubelib "istio.io/istio/pkg/kube"
	istiolog "istio.io/istio/pkg/log"
	"istio.io/istio/pkg/security"
)

type caseProxy struct {
	Name      string            `json:"name"`
	ID        string            `json:"id"`
	Metadata  map[string]string `json:"metadata"`
	Labels    map[string]string `json:"labels"`
	Listeners []string          `json:"listeners"`
}

type goldenCase struct {
	Inputs  []string    `json:"inputs"`
	Proxies []caseProxy `json:"proxies"`
	// The case's mesh config (ConfigMap istio, key mesh), over istiod's defaults.
	Mesh string `json:"mesh"`
}

// failer is the test.Failer the fake server wants, outside `go test`: a fatal error
// panics with the message, recovered per case.
type failer struct{ cleanups []func() }

type fatal struct{ msg string }

func (f *failer) Fail()                          { panic(fatal{"failed"}) }
func (f *failer) FailNow()                       { panic(fatal{"failed"}) }
func (f *failer) Fatal(args ...any)              { panic(fatal{fmt.Sprint(args...)}) }
func (f *failer) Fatalf(format string, a ...any) { panic(fatal{fmt.Sprintf(format, a...)}) }
func (f *failer) Log(args ...any)                {}
func (f *failer) Logf(format string, a ...any)   {}
func (f *failer) TempDir() string                { d, _ := os.MkdirTemp("", "configgen-"); return d }
func (f *failer) Helper()                        {}
func (f *failer) Cleanup(fn func())              { f.cleanups = append(f.cleanups, fn) }
func (f *failer) Skip(args ...any)               { panic(fatal{"skip: " + fmt.Sprint(args...)}) }
func (f *failer) done() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

// goldenIdentity authenticates every stream as ns/<node's namespace>/sa/golden.
type goldenIdentity struct{ namespace string }

func (g goldenIdentity) AuthenticatorType() string { return "golden" }
func (g goldenIdentity) Authenticate(security.AuthContext) (*security.Caller, error) {
	return &security.Caller{Identities: []string{"spiffe://cluster.local/ns/" + g.namespace + "/sa/golden"}}, nil
}

// inputFiles expands the case's inputs: "//x" is relative to the repo, a directory
// means its *.yaml files in name order (as golden_util.cc LoadCase).
func inputFiles(repo, dir string, inputs []string) ([]string, error) {
	var out []string
	for _, in := range inputs {
		p := filepath.Join(dir, in)
		if strings.HasPrefix(in, "//") {
			p = filepath.Join(repo, in[2:])
		}
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		matches, _ := filepath.Glob(filepath.Join(p, "*.yaml"))
		sort.Strings(matches)
		out = append(out, matches...)
	}
	return out, nil
}

// splitInputs divides the documents into Istio configs and Kubernetes objects.
func splitInputs(files []string) (istio, kube []string, err error) {
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, err
		}
		for _, doc := range strings.Split("\n"+string(data), "\n---") {
			var obj map[string]any
			if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
				return nil, nil, fmt.Errorf("%s: %v", f, err)
			}
			apiVersion, _ := obj["apiVersion"].(string)
			if apiVersion == "" {
				continue
			}
			// kubectl apply's default namespace, as Keel's config directory gives it.
			if kind, _ := obj["kind"].(string); kind != "Namespace" {
				meta, _ := obj["metadata"].(map[string]any)
				if meta == nil {
					meta = map[string]any{}
					obj["metadata"] = meta
				}
				if ns, _ := meta["namespace"].(string); ns == "" {
					meta["namespace"] = "default"
				}
			}
			out, _ := yaml.Marshal(obj)
			if strings.Contains(apiVersion, "istio.io") {
				istio = append(istio, string(out))
			} else {
				kube = append(kube, string(out))
			}
		}
	}
	return istio, kube, nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// targetPort resolves a Service port to the Pod's port, as the EndpointSlice controller does.
func targetPort(sp corev1.ServicePort, pod *corev1.Pod) int32 {
	switch {
	case sp.TargetPort.Type == intstr.String && sp.TargetPort.StrVal != "":
		for _, c := range pod.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == sp.TargetPort.StrVal {
					return cp.ContainerPort
				}
			}
		}
		return 0
	case sp.TargetPort.IntVal != 0:
		return sp.TargetPort.IntVal
	}
	return sp.Port
}

// endpointSlices writes the slices Kubernetes would for the Services and Pods given.
func endpointSlices(objects []runtime.Object) []runtime.Object {
	var pods []*corev1.Pod
	for _, o := range objects {
		if p, ok := o.(*corev1.Pod); ok && p.Status.PodIP != "" && p.Status.Phase == corev1.PodRunning {
			pods = append(pods, p)
		}
	}
	var out []runtime.Object
	for _, o := range objects {
		svc, ok := o.(*corev1.Service)
		if !ok || len(svc.Spec.Selector) == 0 {
			continue
		}
		slice := &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{
				Name: svc.Name + "-configgen", Namespace: svc.Namespace,
				Labels: map[string]string{discoveryv1.LabelServiceName: svc.Name},
			},
			AddressType: discoveryv1.AddressTypeIPv4,
		}
		var first *corev1.Pod
		for _, p := range pods {
			if p.Namespace != svc.Namespace || !selects(svc.Spec.Selector, p.Labels) {
				continue
			}
			if first == nil {
				first = p
			}
			ready := podReady(p)
			slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{
				Addresses:  []string{p.Status.PodIP},
				Conditions: discoveryv1.EndpointConditions{Ready: &ready},
				TargetRef:  &corev1.ObjectReference{Kind: "Pod", Name: p.Name, Namespace: p.Namespace},
			})
		}
		for _, sp := range svc.Spec.Ports {
			name, protocol, port := sp.Name, sp.Protocol, sp.Port
			if first != nil {
				port = targetPort(sp, first)
			}
			if protocol == "" {
				protocol = corev1.ProtocolTCP
			}
			slice.Ports = append(slice.Ports, discoveryv1.EndpointPort{Name: &name, Protocol: &protocol, Port: &port})
		}
		out = append(out, slice)
	}
	return out
}

func selects(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func decodeKube(docs []string) ([]runtime.Object, error) {
	decode := kubelib.IstioCodec.UniversalDeserializer().Decode
	var out []runtime.Object
	for _, d := range docs {
		o, _, err := decode([]byte(d), nil, nil)
		if err != nil {
			return nil, fmt.Errorf("decoding %q: %v", strings.TrimSpace(d)[:min(60, len(strings.TrimSpace(d)))], err)
		}
		if secret, ok := o.(*corev1.Secret); ok {
			// The API server folds stringData into data; the fake client does not.
			for k, v := range secret.StringData {
				if secret.Data == nil {
					secret.Data = map[string][]byte{}
				}
				secret.Data[k] = []byte(v)
			}
			secret.StringData = nil
		}
		out = append(out, o)
	}
	return out, nil
}

// asGeneric turns a resource into plain JSON values, to walk it for names.
func asGeneric(resources []map[string]any) any {
	out := make([]any, len(resources))
	for i, r := range resources {
		out[i] = r
	}
	return out
}

// collect adds every string under key anywhere in v.
func collect(v any, key string, out map[string]bool) {
	switch t := v.(type) {
	case map[string]any:
		for k, f := range t {
			if s, ok := f.(string); ok && k == key {
				out[s] = true
			}
			collect(f, key, out)
		}
	case []any:
		for _, e := range t {
			collect(e, key, out)
		}
	}
}

// routeClusters adds the cluster names routes refer to ("cluster", weightedClusters' names).
func routeClusters(v any, out map[string]bool) {
	switch t := v.(type) {
	case map[string]any:
		for k, f := range t {
			if s, ok := f.(string); ok && k == "cluster" {
				out[s] = true
			}
			if k == "weightedClusters" {
				collect(f, "name", out)
			}
			routeClusters(f, out)
		}
	case []any:
		for _, e := range t {
			routeClusters(e, out)
		}
	}
}

func sorted(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func renderCase(repo, dir, out string) (err error) {
	t := &failer{}
	defer func() {
		if r := recover(); r != nil {
			if f, ok := r.(fatal); ok {
				err = fmt.Errorf("%s", f.msg)
				return
			}
			panic(r)
		}
	}()
	defer t.done()

	raw, err := os.ReadFile(filepath.Join(dir, "case.yaml"))
	if err != nil {
		return err
	}
	var c goldenCase
	if err := yaml.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("case.yaml: %v", err)
	}
	files, err := inputFiles(repo, dir, c.Inputs)
	if err != nil {
		return err
	}
	istioDocs, kubeDocs, err := splitInputs(files)
	if err != nil {
		return err
	}
	objects, err := decodeKube(kubeDocs)
	if err != nil {
		return err
	}
	objects = append(objects, endpointSlices(objects)...)

	configs, _, err := crd.ParseInputs(strings.Join(istioDocs, "\n---\n"))
	if err != nil {
		return err
	}
	created := time.Now()
	for i := range configs {
		// As istiod's Kubernetes config client gives them (the fake's string parser leaves
		// Domain empty, so a short host would resolve to "name.namespace" only).
		configs[i].Domain = "cluster.local"
		if configs[i].CreationTimestamp.IsZero() { // istiod orders configs by it, then by name
			configs[i].CreationTimestamp = created
		}
	}
	meshConfig := mesh.DefaultMeshConfig()
	if c.Mesh != "" {
		if meshConfig, err = mesh.ApplyMeshConfigDefaults(c.Mesh); err != nil {
			return fmt.Errorf("case.yaml mesh: %v", err)
		}
	}
	s := xdsfake.NewFakeDiscoveryServer(t, xdsfake.FakeOptions{
		KubernetesObjects:          objects,
		Configs:                    configs,
		MeshConfig:                 meshConfig,
		DisableSecretAuthorization: true,
	})
	for _, p := range c.Proxies {
		ns := p.Metadata["NAMESPACE"]
		if ns == "" {
			// sidecar~IP~pod.NS~NS.svc.cluster.local
			if parts := strings.Split(p.ID, "~"); len(parts) == 4 {
				ns = strings.SplitN(parts[3], ".", 2)[0]
			}
		}
		s.Discovery.Authenticators = []security.Authenticator{goldenIdentity{ns}}
		result, err := renderProxy(s, t, p, ns)
		if err != nil {
			return fmt.Errorf("%s: %v", p.Name, err)
		}
		if err := os.MkdirAll(filepath.Join(out, filepath.Base(dir)), 0o755); err != nil {
			return err
		}
		data, _ := json.MarshalIndent(result, "", "  ")
		if err := os.WriteFile(filepath.Join(out, filepath.Base(dir), p.Name+".json"), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func renderProxy(s *xdsfake.FakeDiscoveryServer, t *failer, p caseProxy, ns string) (map[string]any, error) {
	meta := map[string]any{}
	for k, v := range p.Metadata {
		meta[k] = v
	}
	if len(p.Labels) > 0 {
		meta["LABELS"] = p.Labels
	}
	if _, ok := meta["NAMESPACE"]; !ok {
		meta["NAMESPACE"] = ns
	}
	if _, ok := meta["CLUSTER_ID"]; !ok {
		meta["CLUSTER_ID"] = "Kubernetes" // as pilot-agent sets it; istiod serves no credentials to an unknown cluster
	}
	js, _ := json.Marshal(meta)
	var nm model.NodeMetadata
	if err := json.Unmarshal(js, &nm); err != nil {
		return nil, fmt.Errorf("metadata: %v", err)
	}
	conn, err := grpc.NewClient("passthrough:///configgen", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) { return s.BufListener.Dial() }))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ads, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return nil, err
	}
	node := &core.Node{Id: p.ID, Metadata: nm.ToStruct()}
	send := func(req *discovery.DiscoveryRequest) {
		req.Node = node
		if err := ads.Send(req); err != nil {
			t.Fatalf("send %s: %v", req.TypeUrl, err)
		}
	}

	// request subscribes to typeURL with names (nil: wildcard) and returns the response
	// of that type, ACKed; responses of other types (pushes) are ACKed and skipped.
	request := func(typeURL string, names []string) []map[string]any {
		send(&discovery.DiscoveryRequest{TypeUrl: typeURL, ResourceNames: names})
		for range 10 {
			resp, err := ads.Recv()
			if err != nil {
				t.Fatalf("%s: %v", typeURL, err)
			}
			ack := &discovery.DiscoveryRequest{TypeUrl: resp.TypeUrl, ResponseNonce: resp.Nonce, VersionInfo: resp.VersionInfo}
			if resp.TypeUrl == typeURL {
				ack.ResourceNames = names
			}
			send(ack)
			if resp.TypeUrl != typeURL {
				continue
			}
			out := []map[string]any{}
			for _, r := range resp.Resources {
				msg, err := r.UnmarshalNew()
				if err != nil {
					t.Fatalf("%s: %v", typeURL, err)
				}
				js, err := protojson.Marshal(msg)
				if err != nil {
					t.Fatalf("%s: %v", typeURL, err)
				}
				var v map[string]any
				_ = json.Unmarshal(js, &v)
				out = append(out, v)
			}
			return out
		}
		t.Fatalf("no %s response", typeURL)
		return nil
	}
	proxyless := p.Metadata["GENERATOR"] == "grpc"
	result := map[string]any{}
	var listenerNames []string
	if len(p.Listeners) > 0 {
		listenerNames = p.Listeners
	}
	listeners := request(v3.ListenerType, listenerNames)
	if !proxyless && len(listenerNames) > 0 {
		// istiod answers an Envoy's LDS with every listener, whatever names the request
		// carries (LDS is a wildcard type for Envoy); the case asks for these only.
		want := map[string]bool{}
		for _, n := range listenerNames {
			want[n] = true
		}
		kept := []map[string]any{}
		for _, l := range listeners {
			if name, _ := l["name"].(string); want[name] {
				kept = append(kept, l)
			}
		}
		listeners = kept
	}
	result["listeners"] = listeners

	routeNames := map[string]bool{}
	collect(asGeneric(listeners), "routeConfigName", routeNames)
	routes := []map[string]any{}
	if len(routeNames) > 0 {
		routes = request(v3.RouteType, sorted(routeNames))
	}
	result["routes"] = routes

	clusters := []map[string]any{}
	if proxyless {
		names := map[string]bool{}
		routeClusters(asGeneric(routes), names)
		if len(names) > 0 {
			clusters = request(v3.ClusterType, sorted(names))
		}
	} else {
		clusters = request(v3.ClusterType, nil)
	}
	result["clusters"] = clusters

	edsNames := map[string]bool{}
	for _, cl := range clusters {
		if cl["type"] != "EDS" {
			continue
		}
		name, _ := cl["name"].(string)
		if eds, ok := cl["edsClusterConfig"].(map[string]any); ok {
			if sn, ok := eds["serviceName"].(string); ok && sn != "" {
				name = sn
			}
		}
		edsNames[name] = true
	}
	endpoints := []map[string]any{}
	if len(edsNames) > 0 {
		endpoints = request(v3.EndpointType, sorted(edsNames))
	}
	result["endpoints"] = endpoints

	allNames := map[string]bool{}
	collect(asGeneric(listeners), "name", allNames)
	secretNames := map[string]bool{}
	for n := range allNames {
		if strings.HasPrefix(n, "kubernetes://") {
			secretNames[n] = true
		}
	}
	secrets := []map[string]any{}
	if len(secretNames) > 0 {
		secrets = request(v3.SecretType, sorted(secretNames))
	}
	result["secrets"] = secrets
	return result, nil
}

func main() {
	repo := flag.String("repo", ".", "the repository root (case inputs starting with // are relative to it)")
	out := flag.String("out", "", "output directory: OUT/<case>/<proxy>.json")
	logLevel := flag.String("log-level", "none", "istiod's log level (none, error, warn, info, debug)")
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: configgen --repo REPO --out OUT CASE_DIR...")
		os.Exit(2)
	}
	level := istiolog.StringToLevel(*logLevel)
	if level == istiolog.NoneLevel && *logLevel != "none" {
		fmt.Fprintf(os.Stderr, "configgen: --log-level %q: not a level\n", *logLevel)
		os.Exit(2)
	}
	for _, scope := range istiolog.Scopes() {
		scope.SetOutputLevel(level)
	}
	security.AuthPlaintext = true // the streams are plaintext (in-memory); authenticate them anyway, for SDS
	failed := false
	for _, dir := range flag.Args() {
		if err := renderCase(*repo, dir, *out); err != nil {
			fmt.Fprintf(os.Stderr, "configgen: %s: %v\n", filepath.Base(dir), err)
			failed = true
		}
	}
	if failed {
		os.Exit(2)
	}
}
