// XdsCache across pushes: after every config change, what a proxy is sent
// through the cache equals a fresh build (differential), and a change rebuilds
// only what depends on it (hits and misses).
#include "pilot/xds/xds_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "pilot/model/config_store.h"
#include "pilot/networking/grpcgen/grpc_listener_builder.h"
#include "pilot/xds/generator.h"
#include "pilot/xds/resource_types.h"
#include "test/pilot/testing/configs.h"

namespace keel::pilot::xds {
namespace {

using ::keel::pilot::testing::ParseAll;

std::string Bookinfo() {
  std::string out;
  for (const char* file : {"services.yaml", "pods.yaml", "destination-rules.yaml", "bookinfo-gateway.yaml"}) {
    std::ifstream in(std::filesystem::path(KEEL_SOURCE_DIR) / "examples/bookinfo" / file);
    std::ostringstream buf;
    buf << in.rdbuf();
    out += buf.str() + "\n---\n";
  }
  return out;
}

model::Proxy Sidecar(const std::string& ns, const std::string& app) {
  model::Proxy p;
  p.type = model::ProxyType::kSidecar;
  p.ip = ns == "default" ? "10.244.0.5" : "10.244.9.5";
  p.pod_name = app + "-v1-0";
  p.ns = ns;
  p.id = "sidecar~" + p.ip + "~" + p.pod_name + "." + ns + "~" + ns + ".svc.cluster.local";
  p.dns_domain = ns + ".svc.cluster.local";
  p.labels = {{"app", app}, {"version", "v1"}};
  return p;
}

model::Proxy Gateway() {
  model::Proxy p;
  p.type = model::ProxyType::kRouter;
  p.ip = "10.244.1.9";
  p.pod_name = "istio-ingressgateway-0";
  p.ns = "istio-system";
  p.id = "router~10.244.1.9~istio-ingressgateway-0.istio-system~istio-system.svc.cluster.local";
  p.dns_domain = "istio-system.svc.cluster.local";
  p.labels = {{"istio", "ingressgateway"}};
  return p;
}

model::Proxy Proxyless() {
  model::Proxy p = Sidecar("default", "grpc-client");
  p.proxyless_grpc = true;
  return p;
}

WatchedResource Names(const std::vector<NamedResource>& from, const std::string& prefix = "") {
  std::set<std::string> names;
  for (const auto& r : from) {
    if (r.name.rfind(prefix, 0) == 0) names.insert(r.name);
  }
  WatchedResource w;
  w.names = names;
  return w;
}

WatchedResource NamesOf(std::set<std::string> names) {
  WatchedResource w;
  w.names = std::move(names);
  return w;
}

WatchedResource Wildcard() {
  WatchedResource w;
  w.wildcard = true;
  return w;
}

// One proxy's subscriptions, as a connected client would make them.
struct Subscriptions {
  std::map<std::string, WatchedResource> by_type;
};

Subscriptions SubscriptionsOf(const model::Proxy& proxy, const model::PushContext& push,
                              const GeneratorMap& generators) {
  Subscriptions s;
  if (proxy.proxyless_grpc) {
    std::set<std::string> routes;
    // The route configuration each listener names, as the client subscribes.
    for (const auto& name : networking::grpcgen::AllGrpcListenerNames(push)) {
      if (auto target = networking::grpcgen::ResolveTarget(name, proxy, push)) routes.insert(target->RouteName());
    }
    s.by_type[kRouteType] = NamesOf(routes);
  } else if (proxy.type == model::ProxyType::kRouter) {
    s.by_type[kRouteType] = NamesOf({"http.80", "https.443"});
  } else {
    s.by_type[kRouteType] = NamesOf({"9080", "80", "8080", "not-a-port"});
  }
  s.by_type[kClusterType] = Wildcard();
  auto clusters = generators.at(kClusterType)->Generate(proxy, push, Wildcard());
  s.by_type[kEndpointType] = Names(clusters, "outbound|");
  return s;
}

class Mesh {
 public:
  explicit Mesh(const std::string& yaml) { Upsert(yaml); }

  void Upsert(const std::string& yaml) {
    std::vector<model::ConfigEvent> events;
    for (const auto& c : ParseAll(yaml)) {
      events.push_back({c->key, c});
      pending_.configs_updated.insert(c->key);
    }
    store_.Apply(events);
  }
  void Delete(model::Kind kind, const std::string& ns, const std::string& name) {
    model::ConfigKey key{kind, ns, name};
    store_.Apply({{key, nullptr}});
    pending_.configs_updated.insert(key);
  }

  // A new push of the store's current state; the request names what changed since the last.
  model::PushContextPtr Push(PushRequest* request) {
    *request = pending_;
    request->full = true;
    pending_ = PushRequest{};
    return model::PushContext::Build(store_.Snapshot(), {}, ++version_);
  }
  model::PushContextPtr Fresh() const { return model::PushContext::Build(store_.Snapshot(), {}, version_); }

 private:
  model::ConfigStore store_;
  PushRequest pending_;
  uint64_t version_ = 0;
};

using Generated = std::map<std::string, std::map<std::string, std::string>>;  // type -> name -> bytes

Generated Generate(const model::Proxy& proxy, const model::PushContext& push, const GeneratorMap& generators,
                   const Subscriptions& subscriptions) {
  Generated out;
  for (const auto& [type, watch] : subscriptions.by_type) {
    auto& named = out[type];
    for (const auto& r : generators.at(type)->Generate(proxy, push, watch)) named[r.name] = r.resource->any.value();
  }
  return out;
}

const std::vector<model::Proxy>& Proxies() {
  static const std::vector<model::Proxy> kProxies = {Sidecar("default", "productpage"), Sidecar("other", "client"),
                                                     Gateway(), Proxyless()};
  return kProxies;
}

TEST(XdsCacheTest, EveryPushServesWhatAFreshBuildWould) {
  Mesh mesh(Bookinfo());
  XdsCache cache;
  const GeneratorMap cached = MakeGenerators(&cache);
  const GeneratorMap uncached = MakeGenerators();

  const std::vector<std::pair<std::string, std::function<void()>>> steps = {
      {"initial", [] {}},
      {"add a reviews VirtualService", [&] {
         mesh.Upsert(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews, subset: v2}}]}]
)");
       }},
      {"add a wildcard VirtualService", [&] {
         mesh.Upsert(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: wild, namespace: default, creationTimestamp: "2024-01-02T00:00:00Z"}
spec:
  hosts: ["*.default.svc.cluster.local"]
  http: [{timeout: 3s, route: [{destination: {host: ratings}}]}]
)");
       }},
      {"change the reviews VirtualService", [&] {
         mesh.Upsert(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews, subset: v3}, weight: 60}, {destination: {host: reviews, subset: v1}, weight: 40}]}]
)");
       }},
      {"add a DestinationRule in the client's namespace", [&] {
         mesh.Upsert(R"(
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews-local, namespace: other}
spec:
  host: reviews.default.svc.cluster.local
  trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}
  subsets: [{name: v1, labels: {version: v1}}]
)");
       }},
      {"add a wildcard DestinationRule", [&] {
         mesh.Upsert(R"(
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: all-default, namespace: other}
spec:
  host: "*.default.svc.cluster.local"
  trafficPolicy: {connectionPool: {tcp: {maxConnections: 7}}}
)");
       }},
      {"bind a VirtualService to the gateway", [&] {
         mesh.Upsert(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings-gw, namespace: default, creationTimestamp: "2024-01-03T00:00:00Z"}
spec:
  hosts: ["ratings.example.com"]
  gateways: [bookinfo-gateway]
  http: [{route: [{destination: {host: ratings}}]}]
)");
       }},
      {"delete the wildcard VirtualService", [&] { mesh.Delete(model::Kind::kVirtualService, "default", "wild"); }},
      {"add a service and its pod", [&] {
         mesh.Upsert(testing::ServiceYaml("details2", 9080, "10.96.7.7") +
                     testing::PodYaml("details2-0", "details2", "10.244.7.7", 9080));
       }},
      {"relabel a pod", [&] {
         mesh.Upsert(R"(
apiVersion: v1
kind: Pod
metadata: {name: reviews-v1-0, namespace: default, labels: {app: reviews, version: v2}}
spec: {containers: [{name: reviews, ports: [{containerPort: 9080, name: http}]}]}
status: {phase: Running, podIP: 10.244.0.60, conditions: [{type: Ready, status: "True"}]}
)");
       }},
      {"add a ServiceEntry with a VirtualService", [&] {
         mesh.Upsert(R"(
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: httpbin, namespace: default}
spec:
  hosts: [httpbin.org]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
  location: MESH_EXTERNAL
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin, namespace: default}
spec:
  hosts: [httpbin.org]
  http: [{timeout: 5s, route: [{destination: {host: httpbin.org}}]}]
)");
       }},
      {"delete a DestinationRule", [&] { mesh.Delete(model::Kind::kDestinationRule, "other", "reviews-local"); }},
      {"delete a service", [&] { mesh.Delete(model::Kind::kService, "default", "details2"); }},
      // Sidecars: the selected Sidecar is part of the ScopeKey, so a new or
      // changed one gets entries of its own; under one, a VirtualService decides
      // which services are visible (its destinations are imported).
      {"add a Sidecar limiting the client to its namespace", [&] {
         mesh.Upsert(R"(
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: other, resourceVersion: "1"}
spec:
  egress: [{hosts: ["./*"]}]
)");
       }},
      {"a VirtualService for no service imports its destination into the client's Sidecar", [&] {
         mesh.Upsert(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: alias, namespace: other}
spec:
  hosts: [alias.other.svc.cluster.local]
  http: [{route: [{destination: {host: reviews.default.svc.cluster.local}}]}]
)");
       }},
      {"change the client's Sidecar: REGISTRY_ONLY, default visible", [&] {
         mesh.Upsert(R"(
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: other, resourceVersion: "2"}
spec:
  egress: [{hosts: ["./*", "default/*"]}]
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
)");
       }},
      {"add a productpage Sidecar by workload selector on one port", [&] {
         mesh.Upsert(R"(
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: productpage, namespace: default, resourceVersion: "3"}
spec:
  workloadSelector: {labels: {app: productpage}}
  egress: [{port: {number: 9080, protocol: HTTP, name: http}, hosts: ["./reviews.default.svc.cluster.local"]}]
)");
       }},
      {"delete the VirtualService the client's Sidecar imported through", [&] {
         mesh.Delete(model::Kind::kVirtualService, "other", "alias");
       }},
      {"delete the client's Sidecar", [&] { mesh.Delete(model::Kind::kSidecar, "other", "default"); }},
      {"delete the productpage Sidecar", [&] { mesh.Delete(model::Kind::kSidecar, "default", "productpage"); }},
  };
  for (const auto& [what, change] : steps) {
    change();
    PushRequest request;
    model::PushContextPtr push = mesh.Push(&request);
    cache.BeginPush(*push, request);
    model::PushContextPtr fresh = mesh.Fresh();
    for (const auto& proxy : Proxies()) {
      const Subscriptions subs = SubscriptionsOf(proxy, *fresh, uncached);
      // Twice: the second run is served from what the first filled in.
      for (int round = 0; round < 2; ++round) {
        EXPECT_EQ(Generate(proxy, *push, cached, subs), Generate(proxy, *fresh, uncached, subs))
            << "after: " << what << "; proxy " << proxy.id << " round " << round;
      }
    }
  }
  EXPECT_GT(cache.size(), 0u);
}

constexpr char kReviewsV2[] = R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews, subset: v2}}]}]
)";

using Served = std::map<std::string, std::map<std::string, model::ResourcePtr>>;  // type -> name -> resource

Served Serve(const model::Proxy& proxy, const model::PushContext& push, const GeneratorMap& generators) {
  Served out;
  for (const auto& [type, watch] : SubscriptionsOf(proxy, push, generators).by_type) {
    for (auto& r : generators.at(type)->Generate(proxy, push, watch)) out[type][r.name] = std::move(r.resource);
  }
  return out;
}

// The names whose resource is the very object served before (a cache hit), by type.
std::map<std::string, std::set<std::string>> Reused(const Served& before, const Served& after) {
  std::map<std::string, std::set<std::string>> out;
  for (const auto& [type, named] : after) {
    for (const auto& [name, resource] : named) {
      auto t = before.find(type);
      if (t == before.end()) continue;
      auto it = t->second.find(name);
      if (it != t->second.end() && it->second == resource) out[type].insert(name);
    }
  }
  return out;
}

std::set<std::string> AllNames(const Served& served, const std::string& type) {
  std::set<std::string> out;
  if (auto it = served.find(type); it != served.end()) {
    for (const auto& [name, r] : it->second) out.insert(name);
  }
  return out;
}

TEST(XdsCacheTest, AVirtualServiceChangeRebuildsOnlyTheRoutesUsingIt) {
  Mesh mesh(Bookinfo() + "---\n" + kReviewsV2);
  XdsCache cache;
  const GeneratorMap generators = MakeGenerators(&cache);
  const model::Proxy sidecar = Sidecar("default", "productpage"), gateway = Gateway(), grpc = Proxyless();

  PushRequest request;
  model::PushContextPtr push = mesh.Push(&request);
  cache.BeginPush(*push, request);
  const Served sidecar1 = Serve(sidecar, *push, generators), gateway1 = Serve(gateway, *push, generators),
               grpc1 = Serve(grpc, *push, generators);

  mesh.Upsert(std::string(kReviewsV2).replace(std::string(kReviewsV2).find("v2"), 2, "v3"));
  push = mesh.Push(&request);
  ASSERT_EQ(request.configs_updated.size(), 1u);
  cache.BeginPush(*push, request);
  const auto stats_before = cache.Stats();
  const Served sidecar2 = Serve(sidecar, *push, generators), gateway2 = Serve(gateway, *push, generators),
               grpc2 = Serve(grpc, *push, generators);
  const auto stats_after = cache.Stats();

  // Clusters and endpoints do not read the VirtualService: all served from the cache.
  auto sidecar_reused = Reused(sidecar1, sidecar2), gateway_reused = Reused(gateway1, gateway2),
             grpc_reused = Reused(grpc1, grpc2);
  // (Inbound clusters depend on the proxy's own workload and stay per push.)
  std::set<std::string> sidecar_clusters;
  for (const auto& name : AllNames(sidecar2, kClusterType)) {
    if (name.rfind("inbound|", 0) != 0 && name != "InboundPassthroughCluster") sidecar_clusters.insert(name);
  }
  EXPECT_EQ(sidecar_reused.at(kClusterType), sidecar_clusters);
  EXPECT_EQ(sidecar_reused.at(kEndpointType), AllNames(sidecar2, kEndpointType));
  EXPECT_EQ(gateway_reused.at(kClusterType), AllNames(gateway2, kClusterType));
  EXPECT_EQ(grpc_reused.at(kClusterType), AllNames(grpc2, kClusterType));
  EXPECT_EQ(stats_after.at("CDS").misses, stats_before.at("CDS").misses);
  EXPECT_EQ(stats_after.at("EDS").misses, stats_before.at("EDS").misses);

  // Routes: the sidecar's port 9080 (it holds reviews), its port 80 (where every
  // mesh VirtualService may add virtual hosts for hosts that are no service:
  // istiod's port-80 rule) and the proxyless route for reviews are rebuilt; the
  // gateway's and every other route are reused.
  const std::string reviews = "outbound|9080||reviews.default.svc.cluster.local";
  std::set<std::string> sidecar_routes = AllNames(sidecar2, kRouteType);
  ASSERT_EQ(sidecar_routes.erase("9080"), 1u);
  ASSERT_EQ(sidecar_routes.erase("80"), 1u);
  EXPECT_EQ(sidecar_reused[kRouteType], sidecar_routes);
  EXPECT_EQ(gateway_reused[kRouteType], AllNames(gateway2, kRouteType));
  EXPECT_THAT(AllNames(gateway2, kRouteType), ::testing::Contains("http.80"));
  std::set<std::string> grpc_routes = AllNames(grpc2, kRouteType);
  ASSERT_EQ(grpc_routes.erase(reviews), 1u);
  EXPECT_THAT(grpc_routes, ::testing::Contains("outbound|9080||ratings.default.svc.cluster.local"));
  EXPECT_EQ(grpc_reused[kRouteType], grpc_routes);
  EXPECT_EQ(stats_after.at("RDS").misses - stats_before.at("RDS").misses, 3u);
  EXPECT_NE(sidecar2.at(kRouteType).at("9080")->any.value(), sidecar1.at(kRouteType).at("9080")->any.value());
}

// Routes and outbound listeners depend on the proxy's labels only through
// sourceLabels matches: two sidecars of one namespace share them until a
// VirtualService with such a match is visible, then each gets its own.
TEST(XdsCacheTest, SidecarsShareRoutesUnlessAVirtualServiceMatchesSourceLabels) {
  Mesh mesh(Bookinfo() + "---\n" + kReviewsV2);
  XdsCache cache;
  const GeneratorMap generators = MakeGenerators(&cache);
  const model::Proxy productpage = Sidecar("default", "productpage"), details = Sidecar("default", "details");
  WatchedResource route_9080 = NamesOf({"9080"});

  PushRequest request;
  model::PushContextPtr push = mesh.Push(&request);
  cache.BeginPush(*push, request);
  const auto shared_a = generators.at(kRouteType)->Generate(productpage, *push, route_9080);
  const auto shared_b = generators.at(kRouteType)->Generate(details, *push, route_9080);
  ASSERT_EQ(shared_a.size(), 1u);
  ASSERT_EQ(shared_b.size(), 1u);
  EXPECT_EQ(shared_a[0].resource, shared_b[0].resource);  // one object, built once

  mesh.Upsert(R"(
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - match: [{sourceLabels: {app: productpage}}]
    route: [{destination: {host: reviews, subset: v3}}]
  - route: [{destination: {host: reviews, subset: v1}}]
)");
  push = mesh.Push(&request);
  cache.BeginPush(*push, request);
  const auto own_a = generators.at(kRouteType)->Generate(productpage, *push, route_9080);
  const auto own_b = generators.at(kRouteType)->Generate(details, *push, route_9080);
  ASSERT_EQ(own_a.size(), 1u);
  ASSERT_EQ(own_b.size(), 1u);
  EXPECT_NE(own_a[0].resource->any.value(), own_b[0].resource->any.value());
  EXPECT_THAT(own_a[0].resource->any.value(), ::testing::HasSubstr("outbound|9080|v3|reviews"));
  EXPECT_THAT(own_b[0].resource->any.value(), ::testing::Not(::testing::HasSubstr("outbound|9080|v3|reviews")));
  // And what each got is what a fresh build gives it.
  const model::PushContextPtr fresh = mesh.Fresh();
  const GeneratorMap uncached = MakeGenerators(nullptr);
  EXPECT_EQ(own_a[0].resource->any.value(), uncached.at(kRouteType)->Generate(productpage, *fresh, route_9080)[0].resource->any.value());
  EXPECT_EQ(own_b[0].resource->any.value(), uncached.at(kRouteType)->Generate(details, *fresh, route_9080)[0].resource->any.value());
}

// Outbound clusters and endpoints depend on the proxy's namespace only through
// the DestinationRule it selects: sidecars of two namespaces share them until
// one namespace gets its own rule for the host.
TEST(XdsCacheTest, NamespacesShareClustersThatSelectTheSameDestinationRule) {
  Mesh mesh(Bookinfo());
  XdsCache cache;
  const GeneratorMap generators = MakeGenerators(&cache);
  const model::Proxy mine = Sidecar("default", "productpage"), theirs = Sidecar("other", "client");
  const std::string reviews = "outbound|9080||reviews.default.svc.cluster.local";
  const std::string reviews_v1 = "outbound|9080|v1|reviews.default.svc.cluster.local";
  auto cluster = [&](const model::Proxy& p, const model::PushContext& push, const std::string& type,
                     const std::string& name) {
    auto got = generators.at(type)->Generate(p, push, NamesOf({name}));
    return got.size() == 1 ? got[0].resource : nullptr;
  };

  PushRequest request;
  model::PushContextPtr push = mesh.Push(&request);
  cache.BeginPush(*push, request);
  ASSERT_NE(cluster(mine, *push, kClusterType, reviews), nullptr);
  EXPECT_EQ(cluster(mine, *push, kClusterType, reviews), cluster(theirs, *push, kClusterType, reviews));
  EXPECT_EQ(cluster(mine, *push, kEndpointType, reviews_v1), cluster(theirs, *push, kEndpointType, reviews_v1));

  mesh.Upsert(R"(
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews-here, namespace: other}
spec:
  host: reviews.default.svc.cluster.local
  trafficPolicy: {connectionPool: {tcp: {maxConnections: 7}}}
  subsets: [{name: v1, labels: {version: v2}}]
)");
  push = mesh.Push(&request);
  cache.BeginPush(*push, request);
  const model::PushContextPtr fresh = mesh.Fresh();
  const GeneratorMap uncached = MakeGenerators(nullptr);
  for (const auto& [type, name] : std::vector<std::pair<std::string, std::string>>{{kClusterType, reviews},
                                                                                   {kEndpointType, reviews_v1}}) {
    SCOPED_TRACE(name);
    const auto a = cluster(mine, *push, type, name), b = cluster(theirs, *push, type, name);
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    EXPECT_NE(a->any.value(), b->any.value());
    EXPECT_EQ(a->any.value(), uncached.at(type)->Generate(mine, *fresh, NamesOf({name}))[0].resource->any.value());
    EXPECT_EQ(b->any.value(), uncached.at(type)->Generate(theirs, *fresh, NamesOf({name}))[0].resource->any.value());
  }
}

TEST(XdsCacheTest, ForcedPushAndEndpointUpdatesClear) {
  Mesh mesh(Bookinfo());
  XdsCache cache;
  const GeneratorMap generators = MakeGenerators(&cache);
  const model::Proxy sidecar = Sidecar("default", "productpage");
  PushRequest request;
  model::PushContextPtr push = mesh.Push(&request);
  cache.BeginPush(*push, request);
  const Served first = Serve(sidecar, *push, generators);
  ASSERT_GT(cache.size(), 0u);

  // An EDS-only push for reviews: only reviews' endpoints (and clusters) are rebuilt.
  PushRequest eds;
  eds.full = false;
  eds.endpoints_updated = {"reviews.default.svc.cluster.local"};
  push = mesh.Push(&request);
  cache.BeginPush(*push, eds);
  const Served second = Serve(sidecar, *push, generators);
  const auto reused = Reused(first, second);
  for (const auto& name : AllNames(second, kEndpointType)) {
    const bool reviews = name.find("|reviews.default.svc.cluster.local") != std::string::npos;
    EXPECT_EQ(reused.at(kEndpointType).count(name), reviews ? 0u : 1u) << name;
  }
  EXPECT_EQ(Reused(first, second).at(kRouteType), AllNames(second, kRouteType));

  PushRequest forced;
  forced.forced = true;
  push = mesh.Push(&request);
  cache.BeginPush(*push, forced);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_TRUE(Reused(second, Serve(sidecar, *push, generators)).empty());
}

TEST(XdsCacheTest, GenerationAgainstAnOlderPushNeitherReadsNorFillsTheCache) {
  Mesh mesh(Bookinfo());
  XdsCache cache;
  const GeneratorMap generators = MakeGenerators(&cache);
  PushRequest request;
  model::PushContextPtr old_push = mesh.Push(&request);
  mesh.Upsert(kReviewsV2);
  model::PushContextPtr new_push = mesh.Push(&request);
  cache.BeginPush(*new_push, request);
  const Served stale = Serve(Sidecar("default", "productpage"), *old_push, generators);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_TRUE(cache.Stats().empty());
  EXPECT_FALSE(stale.at(kRouteType).empty());
}

TEST(XdsCacheTest, StaysWithinItsBound) {
  Mesh mesh(Bookinfo());
  XdsCache cache(/*max_entries=*/3);
  const GeneratorMap generators = MakeGenerators(&cache);
  PushRequest request;
  model::PushContextPtr push = mesh.Push(&request);
  cache.BeginPush(*push, request);
  Serve(Sidecar("default", "productpage"), *push, generators);
  EXPECT_EQ(cache.size(), 3u);
}

}  // namespace
}  // namespace keel::pilot::xds
