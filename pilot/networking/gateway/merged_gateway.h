// MergedGateway: every Gateway that selects one gateway proxy, merged into one
// logical gateway by port (Istio's model.MergedGateway / mergeGateways). The
// listener, route and secret builders all read this one structure.
#pragma once

#include <deque>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/string_view.h"
#include "pilot/model/push_context.h"

namespace istio::networking::v1alpha3 {
class Server;
}  // namespace istio::networking::v1alpha3

namespace keel::pilot::networking::gateway {

// Istio's protocol names (protocol.Parse), case-insensitive; anything else is kUnknown.
enum class Protocol { kHttp, kHttp2, kGrpc, kGrpcWeb, kHttps, kTls, kTcp, kMongo, kRedis, kMysql, kUdp, kUnknown };
Protocol ParseProtocol(absl::string_view name);
bool IsHttp(Protocol p);  // HTTP, HTTP2, GRPC, GRPC-Web

// One server of a selected Gateway and what merging decided for it.
struct GatewayServer {
  const istio::networking::v1alpha3::Server* spec = nullptr;  // lives as long as the PushContext
  std::string gateway;                 // "ns/name" of the owning Gateway
  std::string gateway_name;
  std::string gateway_ns;
  std::vector<std::string> hosts;      // sanitized ("./h" -> "ns/h", "*/h" -> "h")
  Protocol protocol = Protocol::kUnknown;
  int listen_port = 0;                 // spec port, translated to the gateway Service's targetPort
  std::string route_name;              // RDS name: HTTP and TLS-terminated HTTPS servers, else ""
  std::vector<std::string> sni_hosts;  // servers with tls: hosts without "ns/", sorted

  int port() const;                    // spec->port().number(): virtual host names, route matches
  const std::string& bind() const;
  bool has_tls() const;
  bool IsPassthrough() const;          // tls mode PASSTHROUGH or AUTO_PASSTHROUGH
  bool IsHttpServer() const;           // HTTP, or HTTPS terminating TLS (Istio's IsHTTPServer)
  bool IsTlsServer() const;            // non-HTTP protocol with tls set (Istio's IsTLSServer)
};

// A listener address: the port listened on, the protocol of the first server
// there, and the bind address (empty for 0.0.0.0).
struct ServerPort {
  int number = 0;
  std::string protocol;
  std::string bind;
  friend bool operator<(const ServerPort& a, const ServerPort& b) {
    return std::tie(a.number, a.protocol, a.bind) < std::tie(b.number, b.protocol, b.bind);
  }
  friend bool operator==(const ServerPort& a, const ServerPort& b) {
    return a.number == b.number && a.protocol == b.protocol && a.bind == b.bind;
  }
};

struct MergedServers {
  std::vector<const GatewayServer*> servers;
  std::string route_name;  // plain-text HTTP ports: "http.<port>"
};

struct MergedGateway {
  MergedGateway() = default;
  MergedGateway(MergedGateway&&) = default;  // the pointers into `storage` stay valid
  MergedGateway& operator=(MergedGateway&&) = default;
  MergedGateway(const MergedGateway&) = delete;  // they would not in a copy
  MergedGateway& operator=(const MergedGateway&) = delete;

  std::vector<ServerPort> server_ports;                    // in merge order, unique
  std::map<ServerPort, MergedServers> servers;
  std::map<std::string, std::vector<const GatewayServer*>> servers_by_route;
  std::vector<std::string> rejected;                       // servers merging skipped, and why
  // Server port -> listen port translations applied ("80>8080;443>8443"): part of
  // what generated resources depend on, so part of their cache scope.
  std::string port_translations;
  std::deque<GatewayServer> storage;                       // stable addresses for the pointers above
  std::vector<model::ConfigPtr> gateways;                  // the selected Gateways, merge order

  bool empty() const { return server_ports.empty(); }
};

// Merges the Gateways whose selector matches `proxy`'s labels, from every
// namespace (istiod's default, PILOT_SCOPE_GATEWAY_TO_NAMESPACE=false), oldest
// first. Server ports are translated to the targetPort of a Kubernetes Service in
// the proxy's namespace that selects it (istio-ingressgateway: 80 -> 8080), else
// kept. Conflicts are resolved as istiod does: the first server on a port decides
// its protocol; later servers that cannot share the port, and TLS servers
// repeating a host already on the port, are skipped (listed in `rejected`).
MergedGateway MergeGateways(const model::Proxy& proxy, const model::PushContext& push);

// The address a server port listens on: its bind, else the proxy's wildcard
// ("0.0.0.0", or "::" for a proxy with an IPv6 address).
std::string ListenerAddress(const ServerPort& port, const model::Proxy& proxy);

// Listener name for a server port, as istiod names it: "<address>_<port>".
std::string ListenerName(const ServerPort& port, const model::Proxy& proxy);

}  // namespace keel::pilot::networking::gateway
