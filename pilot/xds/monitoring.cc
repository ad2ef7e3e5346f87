#include "pilot/xds/monitoring.h"

#include <mutex>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
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
constexpr char kAcksInPlaceHelp[] =
    "State-of-the-world ACKs recognised without parsing them into a message (the subscription unchanged).";
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
constexpr char kOffWorkerHelp[] =
    "xDS generations that ran off the push queue's workers (a bug: generation belongs on them alone).";
constexpr char kBuildsHelp[] =
    "PushContexts built, by kind: full (from the whole config) or endpoints (the previous one with the endpoints "
    "of some services recomputed).";
constexpr char kGenerationsHelp[] = "xDS generations (one proxy, one type), whether a response followed or not.";
constexpr char kSdsErrorsHelp[] = "Total number of failures to fetch SDS key and certificate.";
constexpr char kStreamLimitHelp[] =
    "xDS streams closed for passing a per-stream bound, by bound: subscribed_names or queued_bytes.";
constexpr char kQueueHelp[] = "Connections waiting in the push queue.";

}  // namespace

// grpc::StatusCode names as Go's codes.Code.String() prints them (istiod's "err" label).
std::string CodeName(int code) {
  static const char* const kNames[] = {"OK",       "Canceled",          "Unknown",          "InvalidArgument",
                                       "DeadlineExceeded", "NotFound", "AlreadyExists",    "PermissionDenied",
                                       "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange",
                                       "Unimplemented", "Internal",     "Unavailable",      "DataLoss",
                                       "Unauthenticated"};
  if (code >= 0 && code < static_cast<int>(sizeof(kNames) / sizeof(kNames[0]))) return kNames[code];
  return kNames[2];  // "Unknown", as gRPC itself reads a grpc-status outside 0..16 (istiod: "Code(N)", unbounded)
}

bool IsVersionShaped(const std::string& v) {
  if (v.empty() || v.size() > kMaxVersionLabelLength) return false;
  size_t i = 0;
  // [v]N.N[.N[.N]]
  if (v[i] == 'v') ++i;
  int numbers = 0;
  while (true) {
    const size_t start = i;
    while (i < v.size() && absl::ascii_isdigit(static_cast<unsigned char>(v[i]))) ++i;
    if (i == start) return false;
    ++numbers;
    if (i < v.size() && v[i] == '.' && numbers < 4) {
      ++i;
      continue;
    }
    break;
  }
  if (numbers < 2) return false;
  if (i == v.size()) return true;
  // then [-+]suffix of [0-9A-Za-z.-+_]
  if (v[i] != '-' && v[i] != '+') return false;
  if (++i == v.size()) return false;
  for (; i < v.size(); ++i) {
    const char c = v[i];
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '+' && c != '_') return false;
  }
  return true;
}

namespace {

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
  return "other";  // a client's type URL is not a label value
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
  r.GetCounter("keel_xds_generation_off_worker_total", kOffWorkerHelp);
  r.GetCounter("keel_xds_acks_read_in_place_total", kAcksInPlaceHelp);
  for (const char* kind : {"full", "endpoints"}) r.GetCounter("keel_pushcontext_builds_total", kBuildsHelp, {{"kind", kind}});
  RecordPushQueueLength(0);
  r.GetCounter("pilot_sds_certificate_errors_total", kSdsErrorsHelp);
  for (const char* bound : {"subscribed_names", "queued_bytes"}) {
    r.GetCounter("keel_xds_streams_over_limit_total", kStreamLimitHelp, {{"bound", bound}});
  }
}

namespace {

// pilot_xds{version}: the label each live connection's ISTIO_VERSION got when it
// connected (so its -1 lowers the series its +1 raised), and the live count per label.
struct XdsClients {
  std::mutex mu;
  struct Entry {
    std::string label;
    int connections = 0;
  };
  std::map<std::string, Entry> by_version ABSL_GUARDED_BY(mu);  // raw ISTIO_VERSION -> label; live ones only
  std::map<std::string, int> by_label ABSL_GUARDED_BY(mu);      // label -> live connections (> 0)
};

XdsClients& Clients() {
  static XdsClients* c = new XdsClients();
  return *c;
}

std::string ChooseVersionLabel(const std::string& version, const std::map<std::string, int>& by_label) {
  if (version.empty()) return "";  // no ISTIO_VERSION, as istiod labels it
  if (!IsVersionShaped(version)) return kUnknownVersion;
  if (by_label.count(version)) return version;
  const size_t own = by_label.size() - by_label.count("") - by_label.count(kUnknownVersion) -
                     by_label.count(kOtherVersion);
  return own < kMaxVersionLabels ? version : kOtherVersion;
}

}  // namespace

void RecordXdsClient(const std::string& istio_version, int delta) {
  if (delta == 0) return;
  XdsClients& c = Clients();
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.by_version.find(istio_version);
  if (it == c.by_version.end()) {
    if (delta < 0) return;  // never counted: nothing to lower
    it = c.by_version.emplace(istio_version, XdsClients::Entry{ChooseVersionLabel(istio_version, c.by_label), 0}).first;
  }
  const std::string label = it->second.label;
  it->second.connections += delta;
  if (it->second.connections <= 0) c.by_version.erase(it);
  int& live = c.by_label[label];
  live += delta;
  const metrics::Labels labels{{"version", label}};
  if (live <= 0) {
    c.by_label.erase(label);
    DefaultRegistry().Remove("pilot_xds", labels);  // a version with no connection left has no series
  } else {
    DefaultRegistry().GetGauge("pilot_xds", kXdsHelp, labels).Set(live);
  }
}

void RecordPush(const std::string& type_url, double seconds, size_t bytes) {
  auto& r = DefaultRegistry();
  const std::string type = MetricType(type_url);
  r.GetCounter("pilot_xds_pushes", kPushesHelp, {{"type", type}}).Inc();
  r.GetHistogram("pilot_xds_push_time", kPushTimeHelp, kPushTimeBuckets, {{"type", type}}).Observe(seconds);
  r.GetHistogram("pilot_xds_config_size_bytes", kConfigSizeHelp, kConfigSizeBuckets, {{"type", type_url}})
      .Observe(static_cast<double>(bytes));
}

void RecordReject(const std::string& type_url, int grpc_code) {
  auto& r = DefaultRegistry();
  const std::string type = MetricType(type_url);
  r.GetCounter("pilot_total_xds_rejects", kRejectsHelp, {{"type", type}}).Inc();
  // istiod keeps these per-type gauges "for backwards compatibility" (incremented, never lowered),
  // labelled {node, err}. Keel drops `node`: a series per proxy ever seen grows without end, and
  // the gauge is never lowered, so a closed connection's series could only be deleted, losing its
  // count. Per-node NACKs are in /debug/syncz and the logs.
  const char* help = nullptr;
  if (type == "cds") help = "Pilot rejected CDS configs.";
  if (type == "eds") help = "Pilot rejected EDS.";
  if (type == "lds") help = "Pilot rejected LDS.";
  if (type == "rds") help = "Pilot rejected RDS.";
  if (help) {
    r.GetGauge("pilot_xds_" + type + "_reject", help, {{"err", CodeName(grpc_code)}}).Add(1);
  }
}

void RecordSdsCertificateError() {
  DefaultRegistry().GetCounter("pilot_sds_certificate_errors_total", kSdsErrorsHelp).Inc();
}

void RecordStreamOverLimit(const std::string& bound) {
  DefaultRegistry().GetCounter("keel_xds_streams_over_limit_total", kStreamLimitHelp, {{"bound", bound}}).Inc();
}

void RecordExpiredNonce(const std::string& type_url) {
  DefaultRegistry().GetCounter("pilot_xds_expired_nonce", kExpiredNonceHelp, {{"type", MetricType(type_url)}}).Inc();
}

void RecordAckReadInPlace() { DefaultRegistry().GetCounter("keel_xds_acks_read_in_place_total", kAcksInPlaceHelp).Inc(); }

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

void RecordGenerationOffWorker() {
  DefaultRegistry().GetCounter("keel_xds_generation_off_worker_total", kOffWorkerHelp).Inc();
}

void RecordGeneration(const std::string& type_url) {
  DefaultRegistry().GetCounter("keel_xds_generations_total", kGenerationsHelp, {{"type", MetricType(type_url)}}).Inc();
}

void RecordPushContextBuild(bool full) {
  DefaultRegistry().GetCounter("keel_pushcontext_builds_total", kBuildsHelp, {{"kind", full ? "full" : "endpoints"}})
      .Inc();
}

void RecordPushQueueLength(size_t length) {
  DefaultRegistry().GetGauge("keel_push_queue_length", kQueueHelp).Set(static_cast<double>(length));
}

void RecordServices(size_t services, size_t virtual_services) {
  DefaultRegistry().GetGauge("pilot_services", kServicesHelp).Set(static_cast<double>(services));
  DefaultRegistry().GetGauge("pilot_virt_services", kVirtServicesHelp).Set(static_cast<double>(virtual_services));
}

void RecordXdsCacheLookup(const std::string& type, bool hit) {
  static constexpr char kHitsHelp[] = "Resources served from the xDS cache instead of being built.";
  static constexpr char kMissesHelp[] = "Resources built because the xDS cache did not hold them.";
  // `type` is one of the cached types (xds_cache.h: CDS, EDS, RDS), never from a client.
  const std::string label = absl::AsciiStrToLower(type);
  if (hit) {
    DefaultRegistry().GetCounter("keel_xds_cache_hits_total", kHitsHelp, {{"type", label}}).Inc();
  } else {
    DefaultRegistry().GetCounter("keel_xds_cache_misses_total", kMissesHelp, {{"type", label}}).Inc();
  }
}

void RecordXdsCacheSize(size_t entries) {
  DefaultRegistry().GetGauge("keel_xds_cache_size", "Entries in the xDS cache.").Set(static_cast<double>(entries));
}

void RecordXdsCacheEviction() {
  DefaultRegistry()
      .GetCounter("keel_xds_cache_evictions_total", "xDS cache entries evicted to stay within its bound.")
      .Inc();
}

}  // namespace keel::pilot::xds::monitoring
