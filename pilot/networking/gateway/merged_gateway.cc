#include "pilot/networking/gateway/merged_gateway.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "networking/v1alpha3/gateway.pb.h"
#include "keel/k8s/v1/objects.pb.h"
#include "pilot/model/dependencies.h"
#include "pilot/networking/gateway/gateway_hosts.h"

namespace keel::pilot::networking::gateway {
namespace {

namespace networking = ::istio::networking::v1alpha3;
namespace k8s = ::keel::k8s::v1;

// Istio: a Service with this label opts out of gateway port translation.
constexpr char kDisablePortTranslationLabel[] = "experimental.istio.io/disable-gateway-port-translation";

// The configs of one kind, in key order (the map is sorted by kind first).
template <typename Fn>
void ForEachOfKind(const model::ConfigMap& configs, model::Kind kind, absl::string_view ns, Fn&& fn) {
  model::DependencyRecorder::AllOfKind(kind);
  for (auto it = configs.lower_bound(model::ConfigKey{kind, std::string(ns), ""});
       it != configs.end() && it->first.kind == kind && (ns.empty() || it->first.ns == ns); ++it) {
    fn(it->second);
  }
}

// The container port a Service port targets on the proxy's own Pod, or 0.
int TargetPort(const k8s::ServicePort& sp, const model::Proxy& proxy, const model::PushContext& push) {
  const auto& tp = sp.target_port();
  if (tp.kind_case() == google::protobuf::Value::KIND_NOT_SET) return sp.port();
  if (tp.kind_case() == google::protobuf::Value::kNumberValue) {
    return tp.number_value() >= 1 && tp.number_value() <= 65535 ? static_cast<int>(tp.number_value()) : 0;
  }
  int n = 0;
  if (absl::SimpleAtoi(tp.string_value(), &n)) return n >= 1 && n <= 65535 ? n : 0;
  model::ConfigPtr pod = push.FindConfig(model::ConfigKey{model::Kind::kPod, proxy.ns, proxy.pod_name});
  if (!pod) return 0;
  for (const auto& c : pod->As<k8s::Pod>().spec().containers()) {
    for (const auto& cp : c.ports()) {
      if (cp.name() == tp.string_value()) return cp.container_port();
    }
  }
  return 0;
}

// Istio's resolvePorts for label-selected gateways: the targetPort of the first
// port numbered `number` of a Service in the proxy's namespace that selects the
// proxy; `number` itself when there is none.
int ResolveListenPort(int number, const model::Proxy& proxy, const model::PushContext& push) {
  int out = 0;
  ForEachOfKind(*push.configs(), model::Kind::kService, proxy.ns, [&](const model::ConfigPtr& c) {
    if (out) return;
    const auto& svc = c->As<k8s::Service>();
    if (svc.spec().selector().empty() || c->meta.labels.count(kDisablePortTranslationLabel)) return;
    std::map<std::string, std::string> selector(svc.spec().selector().begin(), svc.spec().selector().end());
    if (!model::LabelsMatch(selector, proxy.labels)) return;
    for (const auto& sp : svc.spec().ports()) {
      if (sp.port() != number) continue;
      if (int target = TargetPort(sp, proxy, push)) {
        out = target;
        return;
      }
    }
  });
  return out ? out : number;
}

// Istio's gatewayRDSRouteName: "http.<listen port>" for HTTP servers,
// "https.<port>.<port name>.<gateway>.<namespace>" for HTTPS terminating TLS,
// "" for everything else; ".<bind>" appended when the server binds an address.
std::string RouteName(const GatewayServer& s) {
  const std::string bind = s.bind().empty() ? "" : absl::StrCat(".", s.bind());
  if (IsHttp(s.protocol)) return absl::StrCat("http.", s.listen_port, bind);
  if (s.protocol == Protocol::kHttps && !s.IsPassthrough()) {
    return absl::StrCat("https.", s.port(), ".", s.spec->port().name(), ".", s.gateway_name, ".", s.gateway_ns, bind);
  }
  return "";
}

bool CanMergeProtocols(Protocol incoming, Protocol existing) {
  return (IsHttp(incoming) || incoming == existing) && IsHttp(existing);
}

// Istio's CheckDuplicates: the hosts already on the port with the same bind; when
// there are none, records `hosts` as taken.
std::vector<std::string> DuplicateHosts(const std::vector<std::string>& hosts, const std::string& bind,
                                        std::map<std::string, std::string>* known) {
  std::vector<std::string> dups;
  for (const auto& h : hosts) {
    auto it = known->find(h);
    if (it != known->end() && it->second == bind) dups.push_back(h);
  }
  if (dups.empty()) {
    for (const auto& h : hosts) (*known)[h] = bind;
  }
  return dups;
}

}  // namespace

Protocol ParseProtocol(absl::string_view name) {
  const std::string p = absl::AsciiStrToUpper(name);
  if (p == "HTTP") return Protocol::kHttp;
  if (p == "HTTP2") return Protocol::kHttp2;
  if (p == "GRPC") return Protocol::kGrpc;
  if (p == "GRPC-WEB") return Protocol::kGrpcWeb;
  if (p == "HTTPS") return Protocol::kHttps;
  if (p == "TLS") return Protocol::kTls;
  if (p == "TCP") return Protocol::kTcp;
  if (p == "MONGO") return Protocol::kMongo;
  if (p == "REDIS") return Protocol::kRedis;
  if (p == "MYSQL") return Protocol::kMysql;
  if (p == "UDP") return Protocol::kUdp;
  return Protocol::kUnknown;
}

bool IsHttp(Protocol p) {
  return p == Protocol::kHttp || p == Protocol::kHttp2 || p == Protocol::kGrpc || p == Protocol::kGrpcWeb;
}

int GatewayServer::port() const { return static_cast<int>(spec->port().number()); }
const std::string& GatewayServer::bind() const { return spec->bind(); }
bool GatewayServer::has_tls() const { return spec->has_tls(); }
bool GatewayServer::IsPassthrough() const {
  return spec->has_tls() && (spec->tls().mode() == networking::ServerTLSSettings::PASSTHROUGH ||
                             spec->tls().mode() == networking::ServerTLSSettings::AUTO_PASSTHROUGH);
}
bool GatewayServer::IsHttpServer() const {
  return IsHttp(protocol) || (protocol == Protocol::kHttps && has_tls() && !IsPassthrough());
}
bool GatewayServer::IsTlsServer() const { return has_tls() && !IsHttp(protocol); }

std::string ListenerAddress(const ServerPort& port, const model::Proxy& proxy) {
  if (!port.bind.empty()) return port.bind;
  return proxy.ip.find(':') != std::string::npos ? "::" : "0.0.0.0";
}

std::string ListenerName(const ServerPort& port, const model::Proxy& proxy) {
  return absl::StrCat(ListenerAddress(port, proxy), "_", port.number);
}

MergedGateway MergeGateways(const model::Proxy& proxy, const model::PushContext& push) {
  MergedGateway out;
  ForEachOfKind(*push.configs(), model::Kind::kGateway, "", [&](const model::ConfigPtr& c) {
    const auto& gw = c->As<networking::Gateway>();
    std::map<std::string, std::string> selector(gw.selector().begin(), gw.selector().end());
    if (model::LabelsMatch(selector, proxy.labels)) out.gateways.push_back(c);
  });
  // Istio's sortConfigByCreationTime: creation time, then name, then namespace.
  std::stable_sort(out.gateways.begin(), out.gateways.end(), [](const auto& a, const auto& b) {
    return std::tie(a->meta.creation_timestamp, a->key.name, a->key.ns) <
           std::tie(b->meta.creation_timestamp, b->key.name, b->key.ns);
  });

  std::set<int> ports_seen;
  std::map<int, ServerPort> plaintext;                        // listen port -> its plain-text server port
  std::map<int, std::set<std::string>> tls_binds;             // listen port -> binds used by TLS servers
  std::map<int, std::map<std::string, std::string>> tls_hosts;  // listen port -> host -> bind
  std::map<int, int> translations;

  for (const auto& config : out.gateways) {
    const std::string gateway = absl::StrCat(config->key.ns, "/", config->key.name);
    for (const auto& spec : config->As<networking::Gateway>().servers()) {
      GatewayServer s;
      s.spec = &spec;
      s.gateway = gateway;
      s.gateway_name = config->key.name;
      s.gateway_ns = config->key.ns;
      s.hosts = SanitizeServerHosts(std::vector<std::string>(spec.hosts().begin(), spec.hosts().end()), s.gateway_ns);
      s.protocol = ParseProtocol(spec.port().protocol());
      s.listen_port = ResolveListenPort(s.port(), proxy, push);
      if (s.listen_port != s.port()) translations[s.port()] = s.listen_port;
      s.route_name = RouteName(s);
      auto reject = [&](absl::string_view why) {
        out.rejected.push_back(absl::StrCat(gateway, " server ", spec.port().name(), " (port ", s.port(), "): ", why));
      };
      if (s.has_tls()) {
        // Envoy rejects two filter chains with the same SNI match on one listener.
        auto dups = DuplicateHosts(s.hosts, s.bind(), &tls_hosts[s.listen_port]);
        if (!dups.empty()) {
          reject(absl::StrCat("duplicate TLS hosts ", absl::StrJoin(dups, ",")));
          continue;
        }
        s.sni_hosts = StripNamespaces(s.hosts);
      }
      const ServerPort sp{s.listen_port, spec.port().protocol(), s.bind()};
      const GatewayServer* stored = nullptr;
      auto store = [&]() { return stored = &out.storage.emplace_back(std::move(s)); };

      if (!ports_seen.count(sp.number)) {
        ports_seen.insert(sp.number);
        if (!s.IsTlsServer()) plaintext[sp.number] = sp;
        const bool http = s.IsHttpServer();
        const std::string route = s.route_name;
        store();
        if (http) out.servers_by_route[route] = {stored};
        out.servers[sp] = MergedServers{{stored}, route};
        out.server_ports.push_back(sp);
        continue;
      }
      if (auto current = plaintext.find(sp.number); current != plaintext.end()) {
        // A plain-text port: only HTTP servers merge (into one "http.<port>" route).
        const bool same_bind = current->second.bind == sp.bind;
        if (same_bind && !CanMergeProtocols(s.protocol, ParseProtocol(current->second.protocol))) {
          reject(absl::StrCat("conflicts with ", current->second.protocol, " server on the port"));
          continue;
        }
        if (same_bind && s.route_name.empty()) {
          reject("no route name for the server");
          continue;
        }
        const std::string route = s.route_name;
        store();
        if (!same_bind) {
          auto [it, added] = out.servers.try_emplace(sp);
          if (added) out.server_ports.push_back(sp);
          it->second.route_name = route;
          it->second.servers.push_back(stored);
        } else {
          out.servers[current->second].servers.push_back(stored);
        }
        out.servers_by_route[route].push_back(stored);
        continue;
      }
      // A TLS port: servers are told apart by SNI; HTTPS ones each get their own route.
      if (s.IsHttpServer()) {
        if (s.route_name.empty()) {
          reject("no route name for the server");
          continue;
        }
        if (out.servers_by_route.count(s.route_name)) {
          reject(absl::StrCat("route ", s.route_name, " is already used (non-unique port name)"));
          continue;
        }
      }
      const bool new_bind = tls_binds[sp.number].insert(sp.bind).second;
      if (!s.has_tls() && !new_bind) {
        reject("a server without tls on a TLS port");
        continue;
      }
      const bool http = s.IsHttpServer();
      const std::string route = s.route_name;
      store();
      if (http) out.servers_by_route[route] = {stored};
      auto [it, added] = out.servers.try_emplace(sp);
      if (added) out.server_ports.push_back(sp);
      it->second.servers.push_back(stored);
    }
  }
  std::vector<std::string> t;
  for (const auto& [from, to] : translations) t.push_back(absl::StrCat(from, ">", to));
  out.port_translations = absl::StrJoin(t, ";");
  return out;
}

}  // namespace keel::pilot::networking::gateway
