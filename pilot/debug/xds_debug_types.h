// istioctl's xDS debug types, as istiod's StatusGen serves them on its xDS
// ports (pilot/pkg/xds/statusgen.go), so an unchanged `istioctl proxy-status
// --xds-address` and `istioctl x version --xds-address` work against Keel:
//  - istio.io/debug/syncz: one envoy.service.status.v3.ClientConfig per
//    connected proxy (node id and CLUSTER_ID / NAMESPACE / ISTIO_VERSION
//    metadata; per watched type its status: ERROR after a NACK, NOT_SENT,
//    SYNCED when the last response is ACKed, else STALE; when it was last sent),
//    proxies being the connections whose node metadata has PROXY_CONFIG (Envoy
//    via pilot-agent), as istiod; responses carry istiod's control_plane
//    identifier {"Component":"istiod","ID":POD_NAME,"Info":{version...}} with
//    Keel's version;
//  - istio.io/debug/config_dump, one resource name (a proxy id): what Keel last
//    sent that proxy, as admin.v3 ClustersConfigDump, ListenersConfigDump and
//    RoutesConfigDump (istiod regenerates the config and adds secrets; Keel shows
//    what the proxy holds and leaves secrets out).
// Both need a verified identity (the TLS port with a token, or
// --xds-auth-plaintext; others are closed with UNAUTHENTICATED), and a caller
// outside the root namespace sees only proxies of its own namespace, as istiod
// with ENABLE_DEBUG_ENDPOINT_AUTH (its default).
#pragma once

#include <functional>
#include <vector>

#include "pilot/xds/generator.h"
#include "pilot/xds/xds_connection.h"

namespace keel::pilot::debug {

// The two generators; `connections` lists the server's connections (AdsServer::Connections).
xds::GeneratorMap MakeXdsDebugGenerators(std::function<std::vector<xds::ConnectionSnapshot>()> connections);

}  // namespace keel::pilot::debug
