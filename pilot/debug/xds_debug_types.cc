#include "pilot/debug/xds_debug_types.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "envoy/admin/v3/config_dump_shared.pb.h"
#include "envoy/service/status/v3/csds.pb.h"
#include "pilot/debug/json.h"
#include "pilot/xds/resource_types.h"

#ifndef KEEL_VERSION
#define KEEL_VERSION "dev"
#endif

namespace keel::pilot::debug {
namespace {

namespace admin = ::envoy::admin::v3;
namespace csds = ::envoy::service::status::v3;
using ConnectionLister = std::function<std::vector<xds::ConnectionSnapshot>()>;
using google::protobuf::util::TimeUtil;

google::protobuf::Timestamp Timestamp(std::chrono::system_clock::time_point t) {
  return TimeUtil::NanosecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

// "" when the caller sees every proxy (root namespace), else its namespace (istiod's callerNamespaceFilter).
std::string CallerNamespace(const model::Proxy& caller, const model::PushContext& push) {
  return caller.verified_identity->ns == push.mesh().root_namespace() ? "" : caller.verified_identity->ns;
}

// istiod's debugSyncStatus.
csds::ConfigStatus SyncStatus(const xds::WatchState& w) {
  if (!w.last_nack.empty()) return csds::ERROR;
  if (w.nonce_sent.empty()) return csds::NOT_SENT;
  return w.nonce_acked == w.nonce_sent ? csds::SYNCED : csds::STALE;
}

// Base for the two: identity required, no cache, Keel's control plane identifier on syncz only.
class DebugGenerator : public xds::XdsGenerator {
 public:
  explicit DebugGenerator(ConnectionLister connections) : connections_(std::move(connections)) {}
  bool RequiresVerifiedIdentity() const override { return true; }

 protected:
  const ConnectionLister connections_;
};

class SynczGenerator final : public DebugGenerator {
 public:
  explicit SynczGenerator(ConnectionLister connections)
      : DebugGenerator(std::move(connections)), control_plane_(Identifier()) {}

  std::optional<envoy::config::core::v3::ControlPlane> ControlPlane() const override { return control_plane_; }

  std::vector<xds::NamedResource> Generate(const model::Proxy& caller, const model::PushContext& push,
                                           const xds::WatchedResource&) const override {
    if (!caller.verified_identity) return {};
    const std::string only_ns = CallerNamespace(caller, push);
    std::vector<xds::NamedResource> out;
    for (const auto& c : connections_()) {
      if (!c.proxy || !c.node_metadata.fields().contains("PROXY_CONFIG")) continue;  // not Envoy (istioctl, tests)
      if (!only_ns.empty() && c.proxy->ns != only_ns) continue;
      csds::ClientConfig config;
      auto* node = config.mutable_node();
      node->set_id(c.proxy->id);
      auto& md = *node->mutable_metadata()->mutable_fields();
      for (const auto& [key, value] : {std::pair<const char*, const std::string*>{"CLUSTER_ID", &c.proxy->cluster_id},
                                       {"NAMESPACE", &c.proxy->ns},
                                       {"ISTIO_VERSION", &c.proxy->istio_version}}) {
        if (!value->empty()) md[key].set_string_value(*value);
      }
      for (const auto& [type, w] : c.watches) {  // std::map: type URL order, as istiod sorts
        auto* x = config.add_generic_xds_configs();
        x->set_type_url(type);
        x->set_config_status(SyncStatus(w));
        if (w.sent) *x->mutable_last_updated() = Timestamp(w.last_sent);
        if (!w.last_nack.empty()) {
          auto* e = x->mutable_error_state();
          *e->mutable_last_update_attempt() = Timestamp(w.last_sent);
          e->set_details(w.last_nack);
        }
      }
      out.push_back({c.proxy->id, model::MakeResource(c.proxy->id, config)});
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return out;
  }
 private:
  // istiod's IstioControlPlaneInstance with BuildInfo's JSON names; made once (the pod name does not change).
  static envoy::config::core::v3::ControlPlane Identifier() {
    const char* pod = std::getenv("POD_NAME");
    char host[256] = {};
    if (!pod || !*pod) gethostname(host, sizeof(host) - 1);
    google::protobuf::Value id;
    auto& f = Fields(id);
    f["Component"] = StringValue("istiod");
    f["ID"] = StringValue(pod && *pod ? pod : host);
    auto& info = Fields(f["Info"]);
    info["version"] = StringValue(KEEL_VERSION);
    info["revision"] = StringValue("keel");
    info["golang_version"] = StringValue("");
    info["status"] = StringValue("Clean");
    info["tag"] = StringValue(KEEL_VERSION);
    envoy::config::core::v3::ControlPlane cp;
    std::string json;
    google::protobuf::util::MessageToJsonString(id, &json);  // compact, as Go's json.Marshal
    cp.set_identifier(json);
    return cp;
  }

  const envoy::config::core::v3::ControlPlane control_plane_;
};

class ConfigDumpGenerator final : public DebugGenerator {
 public:
  using DebugGenerator::DebugGenerator;

  std::vector<xds::NamedResource> Generate(const model::Proxy& caller, const model::PushContext& push,
                                           const xds::WatchedResource& watch) const override {
    if (!caller.verified_identity || watch.names.size() != 1) return {};  // istiod: one proxy id, else nothing
    const std::string& proxy_id = *watch.names.begin();
    const std::string only_ns = CallerNamespace(caller, push);
    for (const auto& c : connections_()) {
      if (!c.proxy || c.proxy->id != proxy_id || (!only_ns.empty() && c.proxy->ns != only_ns)) continue;
      return Dump(c);
    }
    return {};
  }

 private:
  static std::vector<xds::NamedResource> Dump(const xds::ConnectionSnapshot& c) {
    auto held = [&](const char* type) -> const xds::WatchState* {
      auto it = c.watches.find(type);
      return it == c.watches.end() ? nullptr : &it->second;
    };
    admin::ClustersConfigDump clusters;
    admin::ListenersConfigDump listeners;
    admin::RoutesConfigDump routes;
    if (const auto* w = held(xds::kClusterType)) {
      clusters.set_version_info(w->version_sent);
      for (const auto& r : w->resources_sent) {
        auto* d = clusters.add_dynamic_active_clusters();
        d->set_version_info(w->version_sent);
        *d->mutable_cluster() = r->any;
        *d->mutable_last_updated() = Timestamp(w->last_sent);
      }
    }
    if (const auto* w = held(xds::kListenerType)) {
      listeners.set_version_info(w->version_sent);
      for (const auto& r : w->resources_sent) {
        auto* d = listeners.add_dynamic_listeners();
        d->set_name(r->name);
        auto* active = d->mutable_active_state();
        active->set_version_info(w->version_sent);
        *active->mutable_listener() = r->any;
        *active->mutable_last_updated() = Timestamp(w->last_sent);
      }
    }
    if (const auto* w = held(xds::kRouteType)) {
      for (const auto& r : w->resources_sent) {
        auto* d = routes.add_dynamic_route_configs();
        d->set_version_info(w->version_sent);
        *d->mutable_route_config() = r->any;
        *d->mutable_last_updated() = Timestamp(w->last_sent);
      }
    }
    return {{"clusters", model::MakeResource("clusters", clusters)},
            {"listeners", model::MakeResource("listeners", listeners)},
            {"routes", model::MakeResource("routes", routes)}};
  }
};

}  // namespace

xds::GeneratorMap MakeXdsDebugGenerators(std::function<std::vector<xds::ConnectionSnapshot>()> connections) {
  xds::GeneratorMap out;
  out[xds::kDebugSynczType] = std::make_unique<SynczGenerator>(connections);
  out[xds::kDebugConfigDumpType] = std::make_unique<ConfigDumpGenerator>(connections);
  return out;
}

}  // namespace keel::pilot::debug
