// Pilot's Prometheus metrics, with istiod's names, labels and buckets
// (pilot/pkg/xds/monitoring.go, pkg/xds/monitoring.go). Recorded into
// metrics::DefaultRegistry(), which /metrics renders. All functions are
// thread-safe and cheap (one registry lookup).
//
// Label values never come from a client unchecked, so /metrics stays bounded
// whatever proxies send: type is one of cds/eds/lds/rds/sds or "other"; err one
// of gRPC's 17 code names; version a version-shaped ISTIO_VERSION, at most
// kMaxVersionLabels of them at once (further ones "other", malformed ones
// "unknown"); no label names a proxy.
#pragma once

#include <cstddef>
#include <map>
#include <string>

namespace keel::pilot::xds::monitoring {

// Bounds of pilot_xds{version}.
inline constexpr size_t kMaxVersionLabels = 32;        // distinct version values with live connections
inline constexpr size_t kMaxVersionLabelLength = 64;
inline constexpr char kUnknownVersion[] = "unknown";  // ISTIO_VERSION not shaped like a version
inline constexpr char kOtherVersion[] = "other";      // a new version beyond kMaxVersionLabels

// istiod's metric "type" label for a type URL: cds, eds, lds, rds, sds; any
// other URL (Keel serves no other type) is "other" (istiod: the URL itself).
std::string MetricType(const std::string& type_url);

// The "err" label of a NACK's error_detail.code: gRPC's name for 0..16, any
// other number "Unknown" (as gRPC reads an out-of-range grpc-status).
std::string CodeName(int code);

// [v]N.N[.N[.N]] optionally followed by [-+] and [0-9A-Za-z._+-]+, at most
// kMaxVersionLabelLength characters: "1.22.0", "1.23-alpha.0123abcd".
bool IsVersionShaped(const std::string& version);

// Creates the unlabelled series, so they read 0 before the first event.
void RegisterMetrics();

// pilot_xds{version}: connected xDS clients by their ISTIO_VERSION; +1 on
// connect, -1 on close, with the same version. The label is chosen at the
// version's first live connection (see above) and kept until its last one
// closes; a label whose connections have all closed is deleted, not left at 0.
void RecordXdsClient(const std::string& istio_version, int delta);

// One response sent: pilot_xds_pushes{type}, pilot_xds_push_time{type} (seconds
// spent generating and queueing it), pilot_xds_config_size_bytes{type=<type URL>}.
void RecordPush(const std::string& type_url, double seconds, size_t bytes);

// A NACK: pilot_total_xds_rejects{type} and pilot_xds_{cds,eds,lds,rds}_reject{err}
// (istiod's have a node label too; Keel's do not: see monitoring.cc).
void RecordReject(const std::string& type_url, int grpc_code);

// pilot_sds_certificate_errors_total: a credential asked for and not served
// (unauthenticated stream, not authorized, not found, malformed Secret).
void RecordSdsCertificateError();

// keel_xds_streams_over_limit_total{bound}: a stream closed for passing a bound
// (`bound`: subscribed_names or queued_bytes; xds_stream.h).
void RecordStreamOverLimit(const std::string& bound);

// A request whose response_nonce is not the last one sent: pilot_xds_expired_nonce{type}.
void RecordExpiredNonce(const std::string& type_url);

// keel_xds_acks_read_in_place_total: a state-of-the-world ACK recognised
// without parsing it into a message (sotw_connection.h).
void RecordAckReadInPlace();

// pilot_proxy_convergence_time: from the change that started a push to the
// proxy's ACK of everything that push sent it.
void RecordConvergence(double seconds);

// pilot_debounce_time: from the first change entering the debouncer to the
// merged request's release.
void RecordDebounce(double seconds);

// pilot_pushcontext_init_seconds.
void RecordPushContextInit(double seconds);

// pilot_push_triggers{type=reason}: once per push, by the merged reasons' counts.
void RecordPushTriggers(const std::map<std::string, int>& reasons);

// pilot_inbound_updates{type}: config, eds, svc, svcdelete.
void RecordInboundUpdate(const std::string& type, int count = 1);

// keel_xds_generation_off_worker_total: one xDS generation ran off the push
// workers (push_worker.h).
void RecordGenerationOffWorker();

// keel_xds_generations_total{type}: one proxy's resources of one type generated
// (whether or not a response followed).
void RecordGeneration(const std::string& type_url);

// keel_pushcontext_builds_total{kind="full"|"endpoints"}: a PushContext built
// from the whole config, or from the previous one with some services' endpoints
// recomputed (an EDS-only change).
void RecordPushContextBuild(bool full);

// keel_push_queue_length: connections waiting for a push worker.
void RecordPushQueueLength(size_t length);

// pilot_services and pilot_virt_services, as of the last push.
void RecordServices(size_t services, size_t virtual_services);

// The cross-push resource cache (xds_cache.h): keel_xds_cache_hits_total{type},
// keel_xds_cache_misses_total{type} (type: cds, eds, rds), keel_xds_cache_size,
// keel_xds_cache_evictions_total.
void RecordXdsCacheLookup(const std::string& type, bool hit);
void RecordXdsCacheSize(size_t entries);
void RecordXdsCacheEviction();

}  // namespace keel::pilot::xds::monitoring
