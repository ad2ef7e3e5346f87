#include "pilot/xds/monitoring.h"

#include <vector>

#include "pilot/xds/resource_types.h"
#include "pkg/metrics/registry.h"

namespace keel::pilot::xds::monitoring {
namespace {

using metrics::DefaultRegistry;

// istiod's buckets.
const std::vector<double> kPushTimeBuckets = {.01, .1, 1, 3, 5, 10, 20, 30};
const std::vector<double> kConvergenceBuckets = {.1, .5, 1, 3, 5, 10, 20, 30};
const std::vector<double> kInitBuckets = {.01, .1, 0.5, 1, 3, 5};
// 10K, 1M, 4M (gRPC's default message limit), 10M, 40M.
const std::vector<double> kConfigSizeBuckets = {1, 10000, 1000000, 4000000, 10000000, 40000000};

constexpr char kXdsHelp[] = "Number of endpoints connected to this pilot using XDS.";
constexpr char kPushesHelp[] = "Pilot build and send errors for lds, rds, cds and eds.";
constexpr char kPushTimeHelp[] = "Total time in seconds Pilot takes to push lds, rds, cds and eds.";
constexpr char kConfigSizeHelp[] = "Distribution of configuration sizes pushed to clients";
constexpr char kRejectsHelp[] = "Total number of XDS responses from pilot rejected by proxy.";
constexpr char kExpiredNonceHelp[] = "Total number of XDS requests with an expired nonce.";
constexpr char kConvergenceHelp[] =
    "Delay in seconds between config change and a proxy receiving all required configuration.";
constexpr char kDebounceHelp[] =
    "Delay in seconds between the first config enters debouncing and the merged push request is pushed into the "
    "push queue.";
constexpr char kInitHelp[] = "Total time in seconds Pilot takes to init pushContext.";
constexpr char kTriggersHelp[] = "Total number of times a push was triggered, labeled by reason for the push.";
constexpr char kInboundHelp[] = "Total number of updates received by pilot.";
constexpr char kServicesHelp[] = "Total services known to pilot.";
constexpr char kVirtServicesHelp[] = "Total virtual services known to pilot.";

// grpc::StatusCode names as Go's codes.Code.String() prints them (istiod's "err" label).
std::string CodeName(int code) {
  static const char* const kNames[] = {"OK",       "Canceled",          "Unknown",          "InvalidArgument",
                                       "DeadlineExceeded", "NotFound", "AlreadyExists",    "PermissionDenied",
                                       "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange",
                                       "Unimplemented", "Internal",     "Unavailable",      "DataLoss",
                                       "Unauthenticated"};
  if (code >= 0 && code < static_cast<int>(sizeof(kNames) / sizeof(kNames[0]))) return kNames[code];
  return "Code(" + std::to_string(code) + ")";
}

metrics::Histogram& Convergence() {
  return DefaultRegistry().GetHistogram("pilot_proxy_convergence_time", kConvergenceHelp, kConvergenceBuckets);
}
metrics::Histogram& Debounce() {
  return DefaultRegistry().GetHistogram("pilot_debounce_time", kDebounceHelp, kPushTimeBuckets);
}
metrics::Histogram& PushContextInit() {
  return DefaultRegistry().GetHistogram("pilot_pushcontext_init_seconds", kInitHelp, kInitBuckets);
}

}  // namespace

std::string MetricType(const std::string& type_url) {
  if (type_url == kClusterType) return "cds";
  if (type_url == kEndpointType) return "eds";
  if (type_url == kListenerType) return "lds";
  if (type_url == kRouteType) return "rds";
  if (type_url == kSecretType) return "sds";
  return type_url;
}

void RegisterMetrics() {
  Convergence();
  Debounce();
  PushContextInit();
  RecordServices(0, 0);
  auto& r = DefaultRegistry();
  for (const char* type : {kClusterType, kEndpointType, kListenerType, kRouteType}) {
    r.GetCounter("pilot_total_xds_rejects", kRejectsHelp, {{"type", MetricType(type)}});
  }
}

void RecordXdsClient(const std::string& istio_version, int delta) {
  DefaultRegistry().GetGauge("pilot_xds", kXdsHelp, {{"version", istio_version}}).Add(delta);
}

void RecordPush(const std::string& type_url, double seconds, size_t bytes) {
  auto& r = DefaultRegistry();
  const std::string type = MetricType(type_url);
  r.GetCounter("pilot_xds_pushes", kPushesHelp, {{"type", type}}).Inc();
  r.GetHistogram("pilot_xds_push_time", kPushTimeHelp, kPushTimeBuckets, {{"type", type}}).Observe(seconds);
  r.GetHistogram("pilot_xds_config_size_bytes", kConfigSizeHelp, kConfigSizeBuckets, {{"type", type_url}})
      .Observe(static_cast<double>(bytes));
}

void RecordReject(const std::string& type_url, const std::string& node_id, int grpc_code) {
  auto& r = DefaultRegistry();
  const std::string type = MetricType(type_url);
  r.GetCounter("pilot_total_xds_rejects", kRejectsHelp, {{"type", type}}).Inc();
  // istiod keeps these per-type gauges "for backwards compatibility" (incremented, never lowered).
  const char* help = nullptr;
  if (type == "cds") help = "Pilot rejected CDS configs.";
  if (type == "eds") help = "Pilot rejected EDS.";
  if (type == "lds") help = "Pilot rejected LDS.";
  if (type == "rds") help = "Pilot rejected RDS.";
  if (help) {
    r.GetGauge("pilot_xds_" + type + "_reject", help, {{"node", node_id}, {"err", CodeName(grpc_code)}}).Add(1);
  }
}

void RecordExpiredNonce(const std::string& type_url) {
  DefaultRegistry().GetCounter("pilot_xds_expired_nonce", kExpiredNonceHelp, {{"type", MetricType(type_url)}}).Inc();
}

void RecordConvergence(double seconds) { Convergence().Observe(seconds); }
void RecordDebounce(double seconds) { Debounce().Observe(seconds); }
void RecordPushContextInit(double seconds) { PushContextInit().Observe(seconds); }

void RecordPushTriggers(const std::map<std::string, int>& reasons) {
  for (const auto& [reason, n] : reasons) {
    DefaultRegistry().GetCounter("pilot_push_triggers", kTriggersHelp, {{"type", reason}}).Inc(n);
  }
}

void RecordInboundUpdate(const std::string& type, int count) {
  DefaultRegistry().GetCounter("pilot_inbound_updates", kInboundHelp, {{"type", type}}).Inc(count);
}

void RecordServices(size_t services, size_t virtual_services) {
  DefaultRegistry().GetGauge("pilot_services", kServicesHelp).Set(static_cast<double>(services));
  DefaultRegistry().GetGauge("pilot_virt_services", kVirtServicesHelp).Set(static_cast<double>(virtual_services));
}

}  // namespace keel::pilot::xds::monitoring
