#include "pilot/networking/core/access_log.h"

#include <google/protobuf/util/json_util.h>
#include "pkg/log/log_limiter.h"

#include "absl/strings/match.h"
#include "envoy/extensions/access_loggers/file/v3/file.pb.h"
#include "pilot/networking/core/well_known_names.h"

namespace keel::pilot::networking {
namespace {

namespace file = ::envoy::extensions::access_loggers::file::v3;

// istiod's EnvoyTextLogFormat.
constexpr char kDefaultTextFormat[] =
    "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" %RESPONSE_CODE% "
    "%RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "
    "\"%UPSTREAM_TRANSPORT_FAILURE_REASON%\" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% "
    "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" "
    "\"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\" %UPSTREAM_CLUSTER_RAW% "
    "%UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% "
    "%ROUTE_NAME%\n";

// istiod's EnvoyJSONLogFormatIstio.
google::protobuf::Struct DefaultJsonLabels() {
  static const std::pair<const char*, const char*> kLabels[] = {
      {"start_time", "%START_TIME%"},
      {"route_name", "%ROUTE_NAME%"},
      {"method", "%REQ(:METHOD)%"},
      {"path", "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%"},
      {"protocol", "%PROTOCOL%"},
      {"response_code", "%RESPONSE_CODE%"},
      {"response_flags", "%RESPONSE_FLAGS%"},
      {"response_code_details", "%RESPONSE_CODE_DETAILS%"},
      {"connection_termination_details", "%CONNECTION_TERMINATION_DETAILS%"},
      {"bytes_received", "%BYTES_RECEIVED%"},
      {"bytes_sent", "%BYTES_SENT%"},
      {"duration", "%DURATION%"},
      {"upstream_service_time", "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%"},
      {"x_forwarded_for", "%REQ(X-FORWARDED-FOR)%"},
      {"user_agent", "%REQ(USER-AGENT)%"},
      {"request_id", "%REQ(X-REQUEST-ID)%"},
      {"authority", "%REQ(:AUTHORITY)%"},
      {"upstream_host", "%UPSTREAM_HOST%"},
      {"upstream_cluster", "%UPSTREAM_CLUSTER_RAW%"},
      {"upstream_local_address", "%UPSTREAM_LOCAL_ADDRESS%"},
      {"downstream_local_address", "%DOWNSTREAM_LOCAL_ADDRESS%"},
      {"downstream_remote_address", "%DOWNSTREAM_REMOTE_ADDRESS%"},
      {"requested_server_name", "%REQUESTED_SERVER_NAME%"},
      {"upstream_transport_failure_reason", "%UPSTREAM_TRANSPORT_FAILURE_REASON%"},
  };
  google::protobuf::Struct out;
  for (const auto& [k, v] : kLabels) (*out.mutable_fields())[k].set_string_value(v);
  return out;
}

}  // namespace

std::optional<envoy::config::accesslog::v3::AccessLog> MeshAccessLog(const model::MeshConfig& mesh) {
  if (mesh.access_log_file().empty()) return std::nullopt;
  file::FileAccessLog fl;
  fl.set_path(mesh.access_log_file());
  auto* format = fl.mutable_log_format();
  if (mesh.access_log_encoding() == model::MeshConfig::JSON) {
    google::protobuf::Struct labels = DefaultJsonLabels();
    if (!mesh.access_log_format().empty()) {
      google::protobuf::Struct parsed;
      google::protobuf::util::JsonParseOptions options;
      options.ignore_unknown_fields = true;
      if (google::protobuf::util::JsonStringToMessage(mesh.access_log_format(), &parsed, options).ok()) {
        labels = std::move(parsed);
      } else {
        KEEL_WARN_LIMITED("meshConfig accessLogFormat is not a JSON object ({}); istiod's default labels are used",
                          mesh.access_log_format().substr(0, 80));
      }
    }
    *format->mutable_json_format() = std::move(labels);
    format->mutable_json_format_options()->set_sort_properties(false);
  } else {
    std::string text = mesh.access_log_format().empty() ? kDefaultTextFormat : mesh.access_log_format();
    if (!absl::EndsWith(text, "\n")) text += "\n";  // "Istio will insert a newline on all formats"
    format->mutable_text_format_source()->set_inline_string(text);
  }
  envoy::config::accesslog::v3::AccessLog log;
  log.set_name(kFileAccessLog);
  log.mutable_typed_config()->PackFrom(fl);
  return log;
}

}  // namespace keel::pilot::networking
