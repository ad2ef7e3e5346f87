// delta_client is an end-to-end test client for Keel's delta xDS server. It
// drives Istio's own delta ADS client (istio.io/istio/pkg/adsc, adsc.NewDelta)
// over plaintext gRPC and reports the resource names it holds per type URL.
//
//	delta_client --addr HOST:PORT|unix:PATH (--node-id ID [--meta KEY=VALUE ...] | --node-from-bootstrap FILE)
//	    --watch TYPE_URL[=name1,name2] ... --expect-json OUT.json --timeout 20s
//	    [--resources-json OUT.json] [--then-wait-for NAME_SUBSTRING] [--hold]
//
// --node-from-bootstrap takes the node (id, metadata, locality) from an Envoy bootstrap
// JSON file, such as the envoy-rev.json pilot-agent writes, so the client presents itself
// as that Envoy would. --resources-json also writes the held resources themselves
// ({type URL: {name: resource as protojson}}) each time the names file is written.
//
// A --meta VALUE that starts with "{" is a JSON object (LABELS={"istio":"ingressgateway"});
// any other is a string. --hold keeps the stream open after the last write until
// stdin is closed, so a test can read the server's view of the connected proxy.
//
// Exit codes: 0 success, 2 usage or stream error, 3 timeout.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pkg/adsc"
	nds "istio.io/istio/pkg/dns/proto"
	istiolog "istio.io/istio/pkg/log"
	"istio.io/istio/pkg/workloadapi"
	"istio.io/istio/pkg/workloadapi/security"
)

const typePrefix = "type.googleapis.com/"

func fail(code int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "delta_client: "+format+"\n", args...)
	os.Exit(code)
}

// state is the set of resource names held per type URL, maintained from the
// add/delete events Istio's client hands to the registered handlers.
type state struct {
	mu       sync.Mutex
	changed  chan struct{}                       // receives a token after each fully processed response
	held     map[string]map[string]proto.Message // working state, written by handlers
	done     map[string]map[string]proto.Message // copy of held after the last fully processed response
	seen     map[string]bool                     // type URLs that got at least one processed response
	pending  *discovery.DeltaDiscoveryResponse
	streamEr error
	streams  int
	nodeID   string          // non-empty: override Node.Id in outgoing requests
	unacked  map[string]bool // nonces received whose ACK/NACK has not been sent yet
}

func (s *state) setErr(err error) {
	s.mu.Lock()
	if s.streamEr == nil {
		s.streamEr = err
	}
	s.mu.Unlock()
	s.notify()
}

func (s *state) apply(typeURL, name string, resource proto.Message, ev adsc.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ev == adsc.EventDelete {
		delete(s.held[typeURL], name)
	} else {
		s.held[typeURL][name] = resource
	}
}

func (s *state) notify() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

func (s *state) snapshot() map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]string{}
	for t, names := range s.done {
		l := make([]string, 0, len(names))
		for n := range names {
			l = append(l, n)
		}
		sort.Strings(l)
		out[t] = l
	}
	return out
}

// resources is the held resources of the last fully processed response, as protojson.
func (s *state) resources() (map[string]map[string]json.RawMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]map[string]json.RawMessage{}
	for t, held := range s.done {
		out[t] = map[string]json.RawMessage{}
		for n, r := range held {
			b, err := protojson.Marshal(r)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %v", t, n, err)
			}
			out[t][n] = b
		}
	}
	return out, nil
}

// leave returns once every response received has been answered (ACK or NACK sent), and
// then a little later: an Envoy stays connected, and a client that leaves right after its
// last ACK races a forwarding proxy (pilot-agent's xDS proxy logs "send error ... EOF" when
// the downstream goes while it still forwards that ACK upstream). Bounded: 2 s, then 300 ms.
func leave(s *state) {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		n := len(s.unacked)
		s.mu.Unlock()
		if n == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
}

// stream wraps the ADS client stream so we can see every raw delta response
// (nonce, removed names) and stream errors, which the adsc.Client keeps private.
type stream struct {
	grpc.ClientStream
	s *state
}

func (w *stream) SendMsg(m any) error {
	if req, ok := m.(*discovery.DeltaDiscoveryRequest); ok && w.s.nodeID != "" && req.Node != nil {
		req.Node.Id = w.s.nodeID
	}
	err := w.ClientStream.SendMsg(m)
	if req, ok := m.(*discovery.DeltaDiscoveryRequest); ok && err == nil && req.ResponseNonce != "" {
		w.s.mu.Lock()
		delete(w.s.unacked, req.ResponseNonce)
		w.s.mu.Unlock()
	}
	return err
}

func (w *stream) RecvMsg(m any) error {
	// adsc.Client calls Recv, then handles the response (handlers + ACK) and
	// only then calls Recv again: so the previous response is fully applied now.
	w.s.mu.Lock()
	if p := w.s.pending; p != nil {
		w.s.seen[p.TypeUrl] = true
		for t, names := range w.s.held {
			w.s.done[t] = make(map[string]proto.Message, len(names))
			for n, r := range names {
				w.s.done[t][n] = r
			}
		}
		w.s.pending = nil
		w.s.mu.Unlock()
		w.s.notify()
	} else {
		w.s.mu.Unlock()
	}
	err := w.ClientStream.RecvMsg(m)
	if err != nil {
		w.s.setErr(err)
		return err
	}
	if r, ok := m.(*discovery.DeltaDiscoveryResponse); ok {
		fmt.Fprintf(os.Stderr, "delta_client: response type=%s resources=%d removed=[%s] nonce=%s\n",
			r.TypeUrl, len(r.Resources), strings.Join(r.RemovedResources, ","), r.Nonce)
		w.s.mu.Lock()
		w.s.pending = r
		w.s.unacked[r.Nonce] = true
		w.s.mu.Unlock()
	}
	return nil
}

// typeEntry binds a type URL to Istio's generic Register/Watch options.
type typeEntry struct {
	register func(s *state) adsc.Option
	watch    func(name string) adsc.Option
}

func entry[T proto.Message]() (string, typeEntry) {
	var zero T
	url := typePrefix + string(zero.ProtoReflect().Descriptor().FullName())
	return url, typeEntry{
		register: func(s *state) adsc.Option {
			return adsc.Register(func(_ adsc.HandlerContext, name, _ string, resource T, ev adsc.Event) {
				s.apply(url, name, resource, ev)
			})
		},
		watch: adsc.Watch[T],
	}
}

func knownTypes() map[string]typeEntry {
	m := map[string]typeEntry{}
	for _, f := range []func() (string, typeEntry){
		entry[*cluster.Cluster],
		entry[*listener.Listener],
		entry[*route.RouteConfiguration],
		entry[*endpoint.ClusterLoadAssignment],
		entry[*tls.Secret],
		entry[*core.TypedExtensionConfig],
		entry[*nds.NameTable],
		entry[*workloadapi.Address],
		entry[*security.Authorization],
	} {
		u, e := f()
		m[u] = e
	}
	return m
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// configureNode fills Istio's node fields from an Istio-style node id
// (TYPE~IP~WORKLOAD.NS~NS.svc.cluster.local). adsc builds Node.Id from these
// fields; any other id shape is sent by rewriting Node.Id on the wire.
func configureNode(cfg *adsc.Config, s *state, id string) {
	p := strings.Split(id, "~")
	if len(p) == 4 && strings.HasSuffix(p[3], ".svc.cluster.local") {
		ns := strings.TrimSuffix(p[3], ".svc.cluster.local")
		if wl, ok := strings.CutSuffix(p[2], "."+ns); ok && wl != "" && ns != "" && p[0] != "" && p[1] != "" {
			cfg.NodeType, cfg.IP, cfg.Workload, cfg.Namespace = model.NodeType(p[0]), p[1], wl, ns
			return
		}
	}
	s.nodeID = id
}

// nodeFromBootstrap reads the node of an Envoy bootstrap JSON file.
func nodeFromBootstrap(path string) (*core.Node, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Node json.RawMessage `json:"node"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if len(doc.Node) == 0 {
		return nil, fmt.Errorf("%s has no node", path)
	}
	node := &core.Node{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(doc.Node, node); err != nil {
		return nil, fmt.Errorf("%s: node: %v", path, err)
	}
	if node.Id == "" {
		return nil, fmt.Errorf("%s: node has no id", path)
	}
	return node, nil
}

func main() {
	var metas, watches listFlag
	addr := flag.String("addr", "", "xDS server HOST:PORT or unix:PATH (plaintext gRPC)")
	nodeID := flag.String("node-id", "", "node id")
	bootstrap := flag.String("node-from-bootstrap", "", "Envoy bootstrap JSON whose node (id, metadata, locality) to send")
	out := flag.String("expect-json", "", "output JSON file")
	resourcesOut := flag.String("resources-json", "", "also write the held resources ({type: {name: protojson}}) here")
	timeout := flag.Duration("timeout", 20*time.Second, "bound for each wait")
	thenWait := flag.String("then-wait-for", "", "after the first write, wait for a held name containing this, or a removal")
	hold := flag.Bool("hold", false, "after the last write, stay connected until stdin is closed")
	flag.Var(&metas, "meta", "node metadata KEY=VALUE (repeatable)")
	flag.Var(&watches, "watch", "TYPE_URL[=name1,name2] (repeatable; no names = wildcard)")
	flag.Parse()
	if *addr == "" || (*nodeID == "") == (*bootstrap == "") || *out == "" || len(watches) == 0 || flag.NArg() != 0 {
		fail(2, "usage: delta_client --addr HOST:PORT|unix:PATH (--node-id ID [--meta KEY=VALUE ...] | --node-from-bootstrap FILE) --watch TYPE_URL[=n1,n2] ... --expect-json OUT.json --timeout 20s [--resources-json OUT.json] [--then-wait-for SUBSTR] [--hold]")
	}

	// Istio's log package writes to stdout by default; send it to stderr, and
	// silence it: deltaadsc's Client.drop calls Fatalf (os.Exit(1)) when the
	// server removes a resource that was subscribed by explicit name, and a
	// silenced Fatalf does not exit.
	logOpts := istiolog.DefaultOptions()
	logOpts.OutputPaths = []string{"stderr"}
	if err := istiolog.Configure(logOpts); err != nil {
		fail(2, "configure istio log: %v", err)
	}
	level := istiolog.NoneLevel // DELTA_CLIENT_ISTIO_LOG=info|debug re-enables (and the Fatalf)
	switch os.Getenv("DELTA_CLIENT_ISTIO_LOG") {
	case "info":
		level = istiolog.InfoLevel
	case "debug":
		level = istiolog.DebugLevel
	}
	for _, sc := range istiolog.Scopes() {
		sc.SetOutputLevel(level)
	}

	s := &state{changed: make(chan struct{}, 1), held: map[string]map[string]proto.Message{}, done: map[string]map[string]proto.Message{}, seen: map[string]bool{}, unacked: map[string]bool{}}
	meta := &structpb.Struct{Fields: map[string]*structpb.Value{}}
	var locality *core.Locality
	if *bootstrap != "" {
		node, err := nodeFromBootstrap(*bootstrap)
		if err != nil {
			fail(2, "--node-from-bootstrap: %v", err)
		}
		*nodeID, locality = node.Id, node.Locality
		if node.Metadata != nil {
			meta = node.Metadata
		}
	}
	for _, kv := range metas {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			fail(2, "bad --meta %q, want KEY=VALUE", kv)
		}
		if strings.HasPrefix(v, "{") {
			var obj map[string]any
			if err := json.Unmarshal([]byte(v), &obj); err != nil {
				fail(2, "bad --meta %q: %v", kv, err)
			}
			sv, err := structpb.NewStruct(obj)
			if err != nil {
				fail(2, "bad --meta %q: %v", kv, err)
			}
			meta.Fields[k] = structpb.NewStructValue(sv)
			continue
		}
		meta.Fields[k] = structpb.NewStringValue(v)
	}

	known := knownTypes()
	var opts []adsc.Option
	for _, w := range watches {
		t, names, _ := strings.Cut(w, "=")
		e, ok := known[t]
		if !ok {
			l := make([]string, 0, len(known))
			for u := range known {
				l = append(l, u)
			}
			sort.Strings(l)
			fail(2, "unsupported --watch type %q (supported: %s)", t, strings.Join(l, " "))
		}
		if _, dup := s.held[t]; !dup {
			s.held[t] = map[string]proto.Message{}
			opts = append(opts, e.register(s))
		}
		if names == "" {
			opts = append(opts, e.watch("*"))
		}
		for _, n := range strings.Split(names, ",") {
			if n != "" {
				opts = append(opts, e.watch(n))
			}
		}
	}

	cfg := &adsc.DeltaADSConfig{Config: adsc.Config{
		ClientName: "delta_client",
		Meta:       meta,
		Locality:   locality,
		GrpcOpts: []grpc.DialOption{
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			// Wait for the server to come up (bounded by --timeout) instead of failing fast.
			grpc.WithDefaultCallOptions(grpc.WaitForReady(true)),
			grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn,
				method string, streamer grpc.Streamer, callOpts ...grpc.CallOption,
			) (grpc.ClientStream, error) {
				s.mu.Lock()
				s.streams++
				n := s.streams
				s.mu.Unlock()
				if n > 1 {
					// adsc reconnects after any failure, including its own
					// handling errors that it only logs; treat that as fatal.
					s.setErr(errors.New("adsc client dropped the stream and reconnected (set DELTA_CLIENT_ISTIO_LOG=info to see why)"))
				}
				cs, err := streamer(ctx, desc, cc, method, callOpts...)
				if err != nil {
					s.setErr(err)
					return nil, err
				}
				return &stream{ClientStream: cs, s: s}, nil
			}),
		},
	}}
	configureNode(&cfg.Config, s, *nodeID)

	ctx, cancel := context.WithCancel(context.Background())
	client := adsc.NewDelta(*addr, cfg, opts...)
	go client.Run(ctx)

	// wait blocks until cond holds (checked under s.mu), a stream error, or timeout.
	wait := func(what string, cond func() bool) {
		deadline := time.After(*timeout)
		for {
			s.mu.Lock()
			ok, err := cond(), s.streamEr
			s.mu.Unlock()
			if ok {
				return
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					fail(2, "stream closed by server (EOF) while waiting for %s", what)
				}
				fail(2, "stream error while waiting for %s: %v", what, err)
			}
			select {
			case <-s.changed:
			case <-deadline:
				s.mu.Lock()
				var missing []string
				for t := range s.held {
					if !s.seen[t] {
						missing = append(missing, t)
					}
				}
				s.mu.Unlock()
				sort.Strings(missing)
				fail(3, "timeout after %v waiting for %s (types without a response: [%s])", *timeout, what, strings.Join(missing, ","))
			}
		}
	}
	writeJSON := func(path string, v any) {
		// Atomically: a test polls for the file and reads it at once.
		b, err := json.MarshalIndent(v, "", "  ")
		if err == nil {
			err = os.WriteFile(path+".tmp", append(b, '\n'), 0o644)
		}
		if err == nil {
			err = os.Rename(path+".tmp", path)
		}
		if err != nil {
			fail(2, "write %s: %v", path, err)
		}
	}
	write := func(snap map[string][]string) {
		if *resourcesOut != "" { // first: a test that sees the names file finds the resources too
			res, err := s.resources()
			if err != nil {
				fail(2, "encode resources: %v", err)
			}
			writeJSON(*resourcesOut, res)
		}
		writeJSON(*out, snap)
	}

	wait("a first response for every watched type", func() bool {
		for t := range s.held {
			if !s.seen[t] {
				return false
			}
		}
		return true
	})
	first := s.snapshot()
	write(first)

	if *thenWait != "" {
		wait(fmt.Sprintf("a name containing %q or a removal", *thenWait), func() bool {
			for t, names := range first {
				for _, n := range names {
					if _, ok := s.done[t][n]; !ok {
						return true
					}
				}
			}
			for _, names := range s.done {
				for n := range names {
					if strings.Contains(n, *thenWait) {
						return true
					}
				}
			}
			return false
		})
		write(s.snapshot())
	}
	if *hold {
		_, _ = io.Copy(io.Discard, os.Stdin) // until the test closes stdin
	}
	leave(s)
	cancel()
	client.Close()
}
