package main

import (
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
)

var _ = discovery.NewAggregatedDiscoveryServiceClient
var _ = grpc.NewClient

func main() {}
