// xds_cache_bench: what a push after one VirtualService change costs with the
// cross-push XdsCache warm against cold (cold = every resource built afresh, as
// with a per-push cache). A mesh of N services (one ready Pod each, ports spread
// over 20 numbers, a VirtualService per service), proxies: a sidecar in each of 4
// namespaces and an ingress gateway. Each proxy is generated CDS (wildcard), EDS
// (every outbound cluster) and RDS (every route config), as a connected Envoy
// would be. Prints numbers; not a test.
//
//   build/test/xds_cache_bench [SERVICES]      (default 2000)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "pilot/model/config_store.h"
#include "pilot/xds/generator.h"
#include "pilot/xds/resource_types.h"
#include "test/pilot/testing/configs.h"

namespace {

namespace model = keel::pilot::model;
namespace pxds = keel::pilot::xds;
namespace ktest = keel::pilot::testing;
using Clock = std::chrono::steady_clock;

constexpr int kPorts = 20;

std::string VirtualService(int i, int timeout_s) {
  const std::string name = "svc-" + std::to_string(i);
  return "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: " + name +
         ", namespace: default}\nspec:\n  hosts: [" + name + "]\n  http: [{timeout: " + std::to_string(timeout_s) +
         "s, route: [{destination: {host: " + name + "}}]}]\n---\n";
}

std::string Mesh(int services) {
  std::string yaml;
  for (int i = 0; i < services; ++i) {
    const std::string name = "svc-" + std::to_string(i);
    yaml += ktest::ServiceYaml(name, 8000 + i % kPorts,
                                 "10.96." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1));
    yaml += ktest::PodYaml(name + "-0", name, "10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1),
                             8000 + i % kPorts);
    yaml += VirtualService(i, 5);
  }
  return yaml;
}

std::vector<model::Proxy> Proxies() {
  std::vector<model::Proxy> out;
  for (const char* ns : {"default", "a", "b", "c"}) {
    model::Proxy p;
    p.ip = "10.9.0.1";
    p.pod_name = "client-0";
    p.ns = ns;
    p.id = std::string("sidecar~10.9.0.1~client-0.") + ns + "~" + ns + ".svc.cluster.local";
    p.dns_domain = std::string(ns) + ".svc.cluster.local";
    out.push_back(p);
  }
  model::Proxy gw;
  gw.type = model::ProxyType::kRouter;
  gw.ip = "10.9.0.2";
  gw.pod_name = "istio-ingressgateway-0";
  gw.ns = "istio-system";
  gw.id = "router~10.9.0.2~istio-ingressgateway-0.istio-system~istio-system.svc.cluster.local";
  gw.labels = {{"istio", "ingressgateway"}};
  out.push_back(gw);
  return out;
}

// Generates everything each proxy subscribes to; returns the resources served.
size_t GenerateAll(const std::vector<model::Proxy>& proxies, const model::PushContext& push,
                   const pxds::GeneratorMap& generators) {
  size_t served = 0;
  pxds::WatchedResource wildcard;
  wildcard.wildcard = true;
  std::set<std::string> route_names;
  for (int p = 0; p < kPorts; ++p) route_names.insert(std::to_string(8000 + p));
  pxds::WatchedResource routes;
  routes.names = route_names;
  for (const auto& proxy : proxies) {
    auto clusters = generators.at(pxds::kClusterType)->Generate(proxy, push, wildcard);
    std::set<std::string> eds_names;
    for (const auto& c : clusters) {
      if (c.name.rfind("outbound|", 0) == 0) eds_names.insert(c.name);
    }
    pxds::WatchedResource eds;
    eds.names = eds_names;
    served += clusters.size();
    served += generators.at(pxds::kEndpointType)->Generate(proxy, push, eds).size();
    if (proxy.type == model::ProxyType::kSidecar) {
      served += generators.at(pxds::kRouteType)->Generate(proxy, push, routes).size();
    }
  }
  return served;
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

void PrintStats(const char* what, const pxds::XdsCache& cache, const std::map<std::string, pxds::XdsCacheStats>& before) {
  std::printf("  %s:", what);
  for (const auto& [type, s] : cache.Stats()) {
    auto b = before.count(type) ? before.at(type) : pxds::XdsCacheStats{};
    std::printf(" %s %llu hits / %llu misses;", type.c_str(), static_cast<unsigned long long>(s.hits - b.hits),
                static_cast<unsigned long long>(s.misses - b.misses));
  }
  std::printf(" %zu entries\n", cache.size());
}

}  // namespace

int main(int argc, char** argv) {
  const int services = argc > 1 ? std::atoi(argv[1]) : 2000;
  const auto proxies = Proxies();
  model::ConfigStore store;
  store.Apply(ktest::Upserts(ktest::ParseAll(Mesh(services))));
  uint64_t version = 0;
  auto push1 = model::PushContext::Build(store.Snapshot(), {}, ++version);

  pxds::XdsCache cache;
  const pxds::GeneratorMap generators = pxds::MakeGenerators(&cache);
  pxds::PushRequest initial;
  cache.BeginPush(*push1, initial);
  auto t0 = Clock::now();
  const size_t served = GenerateAll(proxies, *push1, generators);
  std::printf("%d services, %zu proxies, %zu resources per push\n", services, proxies.size(), served);
  std::printf("first push (cache empty): %.1f ms\n", Ms(Clock::now() - t0));

  // One VirtualService changes.
  auto changed = ktest::ParseOne(VirtualService(7, 9));
  store.Apply(std::vector<model::ConfigEvent>{{changed->key, changed}});
  pxds::PushRequest request;
  request.configs_updated.insert(changed->key);
  auto t1 = Clock::now();
  auto push2 = model::PushContext::Build(store.Snapshot(), {}, ++version);
  std::printf("PushContext build: %.1f ms\n", Ms(Clock::now() - t1));

  // Cold: what the push costs when nothing carries over (the per-push cache).
  {
    auto push_cold = model::PushContext::Build(store.Snapshot(), {}, version);
    pxds::XdsCache cold_cache;
    const pxds::GeneratorMap cold = pxds::MakeGenerators(&cold_cache);
    cold_cache.BeginPush(*push_cold, request);
    auto t = Clock::now();
    GenerateAll(proxies, *push_cold, cold);
    std::printf("push after one VirtualService change, cache cold: %.1f ms\n", Ms(Clock::now() - t));
    PrintStats("cold", cold_cache, {});
  }
  // Warm: the cache of the first push, cleared by the change.
  const auto before = cache.Stats();
  auto t2 = Clock::now();
  cache.BeginPush(*push2, request);
  const double clear_ms = Ms(Clock::now() - t2);
  auto t3 = Clock::now();
  GenerateAll(proxies, *push2, generators);
  std::printf("push after one VirtualService change, cache warm: %.1f ms (+ %.2f ms invalidation)\n",
              Ms(Clock::now() - t3), clear_ms);
  PrintStats("warm", cache, before);
  return 0;
}
