// loadclient simulates N Envoy sidecars on SotW ADS against one xDS server
// (istiod's pilot-discovery or Keel's keel-discovery) and reports when they got
// their config. It is driven over stdin/stdout by ../run.py.
//
//	loadclient --addr HOST:PORT --sidecars FILE [--n N] [--conns C] [--delta]
//
// FILE has one sidecar per line: "POD NAMESPACE IP LABEL=VALUE,LABEL=VALUE".
// Each stream (SotW, or Delta with --delta) subscribes as Envoy does: CDS wildcard; EDS for the EDS clusters
// CDS named; LDS wildcard once EDS first arrived; RDS for the route names the
// HTTP connection managers in the listeners name. Every response is ACKed.
// Decoded resources are dropped at once: only counts, times and sizes are kept.
//
// Commands on stdin, one per line; each answers one JSON line on stdout:
//
//	initial TIMEOUT_S     wait until every stream got CDS, EDS, LDS and RDS
//	watch eds|rds MARKER  from now on, record per stream the first response of
//	                      that type whose resource bytes hold MARKER as a whole
//	                      string field (an endpoint IP, a route prefix; < 128 bytes)
//	await TIMEOUT_S       wait until every stream saw the watched marker
//	stats                 streams down now, stream failures (reconnects), bytes
//
// A stream that fails (istiod refuses streams beyond its request rate limit)
// reconnects as Envoy does, after a jittered exponential backoff.
//	quit
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

const (
	typeCDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
	typeEDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
	typeLDS = "type.googleapis.com/envoy.config.listener.v3.Listener"
	typeRDS = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
	hcmType = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
)

var typeIndex = map[string]int{typeCDS: 0, typeEDS: 1, typeLDS: 2, typeRDS: 3}

// marker is what `watch` armed: responses of type typeURL containing text.
type marker struct {
	gen        int64
	typeURL    string
	text       []byte
	bytesAtArm int64 // every stream's bytes summed when armed
}

var current atomic.Pointer[marker]

type sidecar struct {
	pod, ns, ip string
	labels      map[string]string

	firstNs  [4]atomic.Int64 // unix ns of the first response per type (CDS, EDS, LDS, RDS)
	bytes    atomic.Int64    // proto size of every response received
	seenGen  atomic.Int64    // marker generation last seen ...
	seenNs   atomic.Int64    // ... and when
	down     atomic.Bool  // the stream failed and waits to reconnect
	errors   atomic.Int64 // stream failures (each followed by a reconnect)
	failMsg  atomic.Value
	startNs  int64
	sentNode bool
}

func (s *sidecar) node() *core.Node {
	labels := map[string]any{}
	for k, v := range s.labels {
		labels[k] = v
	}
	meta, _ := structpb.NewStruct(map[string]any{
		"NAMESPACE":         s.ns,
		"NAME":              s.pod,
		"LABELS":            labels,
		"CLUSTER_ID":        "Kubernetes",
		"ISTIO_VERSION":     "1.31.0",
		"INTERCEPTION_MODE": "REDIRECT",
		"SERVICE_ACCOUNT":   "default",
		"MESH_ID":           "cluster.local",
		"WORKLOAD_NAME":     s.labels["app"],
		"INSTANCE_IPS":      s.ip,
		"PILOT_SAN":         []any{"istiod.istio-system.svc"},
	})
	return &core.Node{
		Id:            fmt.Sprintf("sidecar~%s~%s.%s~%s.svc.cluster.local", s.ip, s.pod, s.ns, s.ns),
		Cluster:       s.labels["app"] + "." + s.ns,
		Metadata:      meta,
		UserAgentName: "envoy",
	}
}

// clusterEDS scans a Cluster's top-level wire fields (name 1, type 2,
// eds_cluster_config 3 { service_name 2 }) for its name and, if it is an EDS
// cluster, the name it is fetched by (service_name, else its name).
func clusterEDS(b []byte) (name, edsName string) {
	var svc string
	var typ uint64
	for len(b) > 0 {
		num, wt, n := protowire.ConsumeTag(b)
		if n < 0 {
			break
		}
		b = b[n:]
		switch {
		case num == 1 && wt == protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			name, n = string(v), m
		case num == 2 && wt == protowire.VarintType:
			typ, n = protowire.ConsumeVarint(b)
		case num == 3 && wt == protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			n = m
			for len(v) > 0 {
				f, w, k := protowire.ConsumeTag(v)
				if k < 0 {
					break
				}
				v = v[k:]
				if f == 2 && w == protowire.BytesType {
					sv, j := protowire.ConsumeBytes(v)
					svc, k = string(sv), j
				} else {
					k = protowire.ConsumeFieldValue(f, w, v)
				}
				if k < 0 {
					break
				}
				v = v[k:]
			}
		default:
			n = protowire.ConsumeFieldValue(num, wt, b)
		}
		if n < 0 {
			break
		}
		b = b[n:]
	}
	if typ != 3 { // not EDS
		return name, ""
	}
	if svc == "" {
		svc = name
	}
	return name, svc
}

// edsNames returns the EDS names of the clusters in a SotW CDS response.
func edsNames(resp *discovery.DiscoveryResponse) []string {
	var out []string
	for _, r := range resp.Resources {
		if _, e := clusterEDS(r.Value); e != "" {
			out = append(out, e)
		}
	}
	sort.Strings(out)
	return out
}

// listenerRDS returns the route configuration names a Listener's HTTP
// connection managers fetch over RDS.
func listenerRDS(b []byte) []string {
	var l listener.Listener
	if proto.Unmarshal(b, &l) != nil {
		return nil
	}
	var out []string
	chains := l.FilterChains
	if l.DefaultFilterChain != nil {
		chains = append(chains, l.DefaultFilterChain)
	}
	for _, fc := range chains {
		for _, f := range fc.Filters {
			tc := f.GetTypedConfig()
			if tc == nil || tc.TypeUrl != hcmType {
				continue
			}
			var h hcm.HttpConnectionManager
			if proto.Unmarshal(tc.Value, &h) == nil && h.GetRds() != nil {
				out = append(out, h.GetRds().RouteConfigName)
			}
		}
	}
	return out
}

// rdsNames returns the route names the listeners of a SotW LDS response fetch.
func rdsNames(resp *discovery.DiscoveryResponse) []string {
	set := map[string]bool{}
	for _, r := range resp.Resources {
		for _, n := range listenerRDS(r.Value) {
			set[n] = true
		}
	}
	return sortedKeys(set)
}

func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func sameNames(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// received records a response's arrival: its size, the first of its type.
func (s *sidecar) received(typeURL string, size int, now int64) {
	s.bytes.Add(int64(size))
	s.down.Store(false)
	if i, ok := typeIndex[typeURL]; ok {
		s.firstNs[i].CompareAndSwap(0, now)
	}
}

// checkMarker reports whether the watched marker is in a resource of the
// watched type, recording when this stream first saw it.
func (s *sidecar) checkMarker(typeURL string, value []byte, now int64) bool {
	m := current.Load()
	if m == nil || m.typeURL != typeURL || s.seenGen.Load() == m.gen {
		return false
	}
	if !bytes.Contains(value, m.text) {
		return false
	}
	s.seenNs.Store(now)
	s.seenGen.Store(m.gen)
	return true
}

func (s *sidecar) clock() int64 { return time.Now().UnixNano() }

func (s *sidecar) fail(err error) {
	s.failMsg.Store(err.Error())
	s.errors.Add(1)
	s.down.Store(true)
}

// runSotW is one sidecar's state-of-the-world ADS stream, until ctx ends or the stream fails.
func (s *sidecar) runSotW(ctx context.Context, conn *grpc.ClientConn) {
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		s.fail(err)
		return
	}
	send := func(req *discovery.DiscoveryRequest) error {
		if !s.sentNode { // Istio's bootstrap: set_node_on_first_message_only
			req.Node = s.node()
			s.sentNode = true
		}
		return stream.Send(req)
	}
	names := map[string][]string{}
	versions := map[string]string{}
	nonces := map[string]string{}
	request := func(typeURL string) error {
		return send(&discovery.DiscoveryRequest{TypeUrl: typeURL, ResourceNames: names[typeURL],
			VersionInfo: versions[typeURL], ResponseNonce: nonces[typeURL]})
	}
	if err := request(typeCDS); err != nil {
		s.fail(err)
		return
	}
	ldsSent := false
	for {
		resp, err := stream.Recv()
		if err != nil {
			if ctx.Err() == nil {
				s.fail(err)
			}
			return
		}
		now := s.clock()
		t := resp.TypeUrl
		s.received(t, proto.Size(resp), now)
		for _, r := range resp.Resources {
			if s.checkMarker(t, r.Value, now) {
				break
			}
		}
		versions[t], nonces[t] = resp.VersionInfo, resp.Nonce
		var follow []string
		switch t {
		case typeCDS:
			if n := edsNames(resp); !sameNames(n, names[typeEDS]) {
				names[typeEDS] = n
				follow = append(follow, typeEDS)
			}
			if len(names[typeEDS]) == 0 && !ldsSent { // nothing to warm
				ldsSent = true
				follow = append(follow, typeLDS)
			}
		case typeEDS:
			if !ldsSent {
				ldsSent = true
				follow = append(follow, typeLDS)
			}
		case typeLDS:
			if n := rdsNames(resp); !sameNames(n, names[typeRDS]) {
				names[typeRDS] = n
				follow = append(follow, typeRDS)
			}
		}
		resp = nil
		if err := request(t); err != nil { // ACK
			s.fail(err)
			return
		}
		for _, f := range follow {
			if err := request(f); err != nil {
				s.fail(err)
				return
			}
		}
	}
}

func readSidecars(path string, n int) ([]*sidecar, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []*sidecar
	sc := bufio.NewScanner(f)
	for sc.Scan() && (n <= 0 || len(out) < n) {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 {
			continue
		}
		s := &sidecar{pod: fields[0], ns: fields[1], ip: fields[2], labels: map[string]string{}}
		if len(fields) > 3 {
			for _, kv := range strings.Split(fields[3], ",") {
				if k, v, ok := strings.Cut(kv, "="); ok {
					s.labels[k] = v
				}
			}
		}
		out = append(out, s)
	}
	if n > 0 && len(out) < n {
		return nil, fmt.Errorf("%s has %d sidecars, %d wanted", path, len(out), n)
	}
	return out, sc.Err()
}

// quantiles of a sorted slice, in ms relative to base.
func quantiles(v []int64, base int64) map[string]float64 {
	if len(v) == 0 {
		return nil
	}
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	at := func(q float64) float64 {
		i := int(q * float64(len(v)-1))
		return float64(v[i]-base) / 1e6
	}
	return map[string]float64{"p50_ms": at(0.5), "p99_ms": at(0.99), "max_ms": at(1)}
}

func main() {
	addr := flag.String("addr", "", "xDS server HOST:PORT (plaintext gRPC)")
	file := flag.String("sidecars", "", "sidecar list file")
	n := flag.Int("n", 0, "streams to open (default: every line of --sidecars)")
	conns := flag.Int("conns", 0, "gRPC connections the streams share (default: one per stream, as Envoy)")
	delta := flag.Bool("delta", false, "incremental (Delta) ADS, as Istio's sidecars since 1.22, instead of SotW")
	flag.Parse()
	cars, err := readSidecars(*file, *n)
	if err == nil && len(cars) == 0 {
		err = fmt.Errorf("no sidecars in %q", *file)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadclient:", err)
		os.Exit(2)
	}
	if *conns <= 0 || *conns > len(cars) {
		*conns = len(cars)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cc := make([]*grpc.ClientConn, *conns)
	for i := range cc {
		cc[i], err = grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<30), grpc.WaitForReady(true)),
			grpc.WithInitialWindowSize(1<<20), grpc.WithInitialConnWindowSize(1<<24))
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadclient:", err)
			os.Exit(2)
		}
	}
	start := time.Now().UnixNano()
	var wg sync.WaitGroup
	for i, s := range cars {
		s.startNs = time.Now().UnixNano()
		wg.Add(1)
		go func(s *sidecar, c *grpc.ClientConn) {
			defer wg.Done()
			// Like Envoy: after a failure, reconnect after a fully jittered
			// exponential backoff (base 500 ms, at most 30 s), from scratch.
			backoff := 500 * time.Millisecond
			for ctx.Err() == nil {
				s.sentNode = false
				before := s.bytes.Load()
				if *delta {
					s.runDelta(ctx, c)
				} else {
					s.runSotW(ctx, c)
				}
				if s.bytes.Load() != before { // it was up: start over
					backoff = 500 * time.Millisecond
				}
				select {
				case <-ctx.Done():
				case <-time.After(time.Duration(rand.Int64N(int64(backoff)))):
				}
				backoff = min(2*backoff, 30*time.Second)
			}
		}(s, cc[i%len(cc)])
	}
	fmt.Fprintf(os.Stderr, "loadclient: %d streams over %d connections to %s\n", len(cars), len(cc), *addr)

	out := json.NewEncoder(os.Stdout)
	// failed: streams down now, stream failures so far, the last failure.
	failed := func() (int, int64, string) {
		k, errs, msg := 0, int64(0), ""
		for _, s := range cars {
			if s.down.Load() {
				k++
			}
			if e := s.errors.Load(); e > 0 {
				errs += e
				msg, _ = s.failMsg.Load().(string)
			}
		}
		return k, errs, msg
	}
	var gen int64
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "initial":
			timeout, _ := strconv.ParseFloat(f[1], 64)
			deadline := time.Now().Add(time.Duration(timeout * float64(time.Second)))
			var done []int64
			for {
				done = done[:0]
				for _, s := range cars {
					complete := int64(0)
					for i := range s.firstNs {
						t := s.firstNs[i].Load()
						if t == 0 {
							complete = 0
							break
						}
						complete = max(complete, t)
					}
					if complete != 0 {
						done = append(done, complete)
					}
				}
				if len(done) == len(cars) || time.Now().After(deadline) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			var b int64
			for _, s := range cars {
				b += s.bytes.Load()
			}
			k, errs, msg := failed()
			out.Encode(map[string]any{"complete": len(done), "streams": len(cars), "down": k, "errors": errs, "last_error": msg,
				"since_start": quantiles(done, start), "bytes_per_stream": b / int64(len(cars))})
		case "watch":
			gen++
			t := map[string]string{"eds": typeEDS, "rds": typeRDS, "lds": typeLDS, "cds": typeCDS}[f[1]]
			var before int64
			for _, s := range cars {
				before += s.bytes.Load()
			}
			// A string field's bytes are preceded by their length: matching it too
			// keeps 10.250.0.1 from matching inside 10.250.0.12.
			text := append([]byte{byte(len(f[2]))}, f[2]...)
			current.Store(&marker{gen: gen, typeURL: t, text: text, bytesAtArm: before})
			out.Encode(map[string]any{"armed": gen})
		case "await":
			timeout, _ := strconv.ParseFloat(f[1], 64)
			deadline := time.Now().Add(time.Duration(timeout * float64(time.Second)))
			m := current.Load()
			var seen []int64
			for {
				seen = seen[:0]
				for _, s := range cars {
					if s.seenGen.Load() == m.gen {
						seen = append(seen, s.seenNs.Load())
					}
				}
				if len(seen) >= len(cars) || time.Now().After(deadline) {
					break
				}
				time.Sleep(2 * time.Millisecond)
			}
			var b int64
			for _, s := range cars {
				b += s.bytes.Load()
			}
			k, errs, msg := failed()
			res := map[string]any{"seen": len(seen), "streams": len(cars), "down": k, "errors": errs, "last_error": msg,
				"bytes_per_stream": (b - m.bytesAtArm) / int64(len(cars))}
			if len(seen) > 0 {
				sort.Slice(seen, func(i, j int) bool { return seen[i] < seen[j] })
				res["first_ns"], res["p50_ns"], res["last_ns"] = seen[0], seen[len(seen)/2], seen[len(seen)-1]
			}
			out.Encode(res)
		case "stats":
			var b int64
			for _, s := range cars {
				b += s.bytes.Load()
			}
			k, errs, msg := failed()
			out.Encode(map[string]any{"streams": len(cars), "down": k, "errors": errs, "last_error": msg, "bytes": b})
		case "quit":
			cancel()
			for _, c := range cc {
				c.Close()
			}
			return
		}
	}
}
