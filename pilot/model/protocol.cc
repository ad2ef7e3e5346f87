#include "pilot/model/protocol.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace keel::pilot::model {

std::string ParseProtocol(absl::string_view name) {
  const std::string upper = absl::AsciiStrToUpper(name);
  for (const char* known : {"TCP", "UDP", "GRPC", "GRPC-WEB", "HTTP", "HTTP_PROXY", "HTTP2", "HTTPS", "TLS",
                            "MONGO", "REDIS", "MYSQL"}) {
    if (upper == known) return upper;
  }
  return kUnsupportedProtocol;
}

std::string KubernetesPortProtocol(int port, absl::string_view name, absl::string_view transport,
                                   absl::string_view app_protocol) {
  // Istio checks UDP only; Envoy cannot proxy SCTP either, so it gets no listener.
  if (transport == "UDP" || transport == "SCTP") return std::string(transport);
  absl::string_view hint = name;
  if (!app_protocol.empty()) {
    if (app_protocol == "kubernetes.io/h2c") return "HTTP2";
    if (app_protocol == "kubernetes.io/ws") return "HTTP";
    if (app_protocol == "kubernetes.io/wss") return "HTTPS";
    hint = app_protocol;
  }
  if (absl::StartsWithIgnoreCase(hint, "grpc-web")) return "GRPC-WEB";
  std::string protocol = ParseProtocol(hint.substr(0, hint.find('-')));
  if (protocol == kUnsupportedProtocol && (port == 25 || port == 53 || port == 3306 || port == 27017)) return "TCP";
  return protocol;
}

}  // namespace keel::pilot::model
