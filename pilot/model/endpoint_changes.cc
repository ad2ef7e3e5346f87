#include "pilot/model/endpoint_changes.h"

#include <map>

#include "networking/v1alpha3/service_entry.pb.h"
#include "keel/k8s/v1/objects.pb.h"

namespace keel::pilot::model {
namespace networking = ::istio::networking::v1alpha3;
namespace k8s = ::keel::k8s::v1;

namespace {

constexpr char kServiceNameLabel[] = "kubernetes.io/service-name";

const Config* Find(const ConfigMap& configs, const ConfigKey& key) {
  auto it = configs.find(key);
  return it == configs.end() ? nullptr : it->second.get();
}

// Calls `fn` for each object of `kind` in namespace `ns` (one key range).
template <typename Fn>
void ForEachInNamespace(const ConfigMap& configs, Kind kind, const std::string& ns, Fn&& fn) {
  for (auto it = configs.lower_bound(ConfigKey{kind, ns, ""}); it != configs.end() && it->first.kind == kind &&
                                                              it->first.ns == ns;
       ++it) {
    fn(*it->second);
  }
}

bool SlicePointsAt(const Config& slice, const std::string& pod) {
  for (const auto& e : slice.As<k8s::EndpointSlice>().endpoints()) {
    if (e.target_ref().kind() == "Pod" && e.target_ref().name() == pod) return true;
  }
  return false;
}

// What a Pod's selector-based membership is judged on: its labels, before and after.
bool SelectedBy(const std::map<std::string, std::string>& selector, const Config* before, const Config* after) {
  if (selector.empty()) return false;
  return (before && LabelsMatch(selector, before->meta.labels)) || (after && LabelsMatch(selector, after->meta.labels));
}

}  // namespace

bool IsEndpointKind(Kind kind) { return kind == Kind::kPod || kind == Kind::kEndpointSlice; }

HostSet HostsWithEndpointChanges(const PushContext& before, const ConfigMap& after,
                                               const std::set<ConfigKey>& changed) {
  const ConfigMap& old_configs = *before.configs();
  // Service/ServiceEntry key -> the hostnames it serves.
  std::map<ConfigKey, std::vector<std::string>> hosts_of;
  for (const auto& svc : before.services()) hosts_of[svc.source].push_back(svc.hostname);
  HostSet out;
  auto add = [&](const ConfigKey& source) {
    auto it = hosts_of.find(source);
    if (it != hosts_of.end()) out.insert(it->second.begin(), it->second.end());
  };
  for (const ConfigKey& key : changed) {
    const Config* was = Find(old_configs, key);
    const Config* is = Find(after, key);
    if (key.kind == Kind::kEndpointSlice) {
      for (const Config* slice : {was, is}) {
        if (!slice) continue;
        auto label = slice->meta.labels.find(kServiceNameLabel);
        if (label != slice->meta.labels.end()) add(ConfigKey{Kind::kService, key.ns, label->second});
      }
    } else if (key.kind == Kind::kPod) {
      for (const auto& [source, hosts] : hosts_of) {
        if (source.ns != key.ns) continue;
        const Config* config = Find(old_configs, source);
        if (!config) continue;
        std::map<std::string, std::string> selector;
        if (source.kind == Kind::kService) {
          const auto& s = config->As<k8s::Service>().spec().selector();
          selector.insert(s.begin(), s.end());
        } else if (source.kind == Kind::kServiceEntry) {
          const auto& se = config->As<networking::ServiceEntry>();
          if (!se.has_workload_selector()) continue;
          selector.insert(se.workload_selector().labels().begin(), se.workload_selector().labels().end());
        }
        if (SelectedBy(selector, was, is)) add(source);
      }
      for (const ConfigMap* configs : {&old_configs, &after}) {
        ForEachInNamespace(*configs, Kind::kEndpointSlice, key.ns, [&](const Config& slice) {
          auto label = slice.meta.labels.find(kServiceNameLabel);
          if (label != slice.meta.labels.end() && SlicePointsAt(slice, key.name)) {
            add(ConfigKey{Kind::kService, key.ns, label->second});
          }
        });
      }
    }
  }
  return out;
}

std::set<std::string> EndpointServiceAccounts(const PushContext& push, const HostSet& hosts) {
  std::set<std::string> out;
  for (const auto& host : hosts) {
    const Service* svc = push.ServiceForHost(host);
    if (!svc) continue;
    for (const auto& port : svc->ports) {
      for (const auto& ep : push.Endpoints(host, port.port)) out.insert(host + "|" + ep.service_account);
    }
  }
  return out;
}

}  // namespace keel::pilot::model
