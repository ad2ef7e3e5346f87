package main

import (
	"context"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// runDelta is one sidecar's incremental (Delta) ADS stream, until ctx ends or
// the stream fails: CDS and LDS wildcard, EDS and RDS subscriptions following
// the clusters and listeners it holds, every response ACKed by nonce.
func (s *sidecar) runDelta(ctx context.Context, conn *grpc.ClientConn) {
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).DeltaAggregatedResources(ctx)
	if err != nil {
		s.fail(err)
		return
	}
	send := func(req *discovery.DeltaDiscoveryRequest) error {
		if !s.sentNode {
			req.Node = s.node()
			s.sentNode = true
		}
		return stream.Send(req)
	}
	// What the held resources need, by resource name: cluster -> EDS name,
	// listener -> route names. Subscriptions are the union of these.
	clusters := map[string]string{}
	listeners := map[string][]string{}
	subscribed := map[string]map[string]bool{typeEDS: {}, typeRDS: {}}
	// resubscribe sends the difference between what is wanted and subscribed.
	resubscribe := func(typeURL string, want map[string]bool) error {
		var add, remove []string
		for n := range want {
			if !subscribed[typeURL][n] {
				add = append(add, n)
			}
		}
		for n := range subscribed[typeURL] {
			if !want[n] {
				remove = append(remove, n)
			}
		}
		if len(add) == 0 && len(remove) == 0 {
			return nil
		}
		subscribed[typeURL] = want
		return send(&discovery.DeltaDiscoveryRequest{TypeUrl: typeURL,
			ResourceNamesSubscribe: add, ResourceNamesUnsubscribe: remove})
	}
	if err := send(&discovery.DeltaDiscoveryRequest{TypeUrl: typeCDS}); err != nil {
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
			if r.Resource != nil && s.checkMarker(t, r.Resource.Value, now) {
				break
			}
		}
		var follow func() error
		switch t {
		case typeCDS:
			for _, n := range resp.RemovedResources {
				delete(clusters, n)
			}
			for _, r := range resp.Resources {
				if r.Resource != nil {
					name, eds := clusterEDS(r.Resource.Value)
					clusters[name] = eds
				}
			}
			want := map[string]bool{}
			for _, e := range clusters {
				if e != "" {
					want[e] = true
				}
			}
			follow = func() error {
				if err := resubscribe(typeEDS, want); err != nil {
					return err
				}
				if len(want) == 0 && !ldsSent { // nothing to warm
					ldsSent = true
					return send(&discovery.DeltaDiscoveryRequest{TypeUrl: typeLDS})
				}
				return nil
			}
		case typeEDS:
			if !ldsSent {
				ldsSent = true
				follow = func() error { return send(&discovery.DeltaDiscoveryRequest{TypeUrl: typeLDS}) }
			}
		case typeLDS:
			for _, n := range resp.RemovedResources {
				delete(listeners, n)
			}
			for _, r := range resp.Resources {
				if r.Resource != nil {
					listeners[r.Name] = listenerRDS(r.Resource.Value)
				}
			}
			want := map[string]bool{}
			for _, names := range listeners {
				for _, n := range names {
					want[n] = true
				}
			}
			follow = func() error { return resubscribe(typeRDS, want) }
		}
		nonce := resp.Nonce
		resp = nil
		if err := send(&discovery.DeltaDiscoveryRequest{TypeUrl: t, ResponseNonce: nonce}); err != nil { // ACK
			s.fail(err)
			return
		}
		if follow != nil {
			if err := follow(); err != nil {
				s.fail(err)
				return
			}
		}
	}
}
