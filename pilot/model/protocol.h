// Istio's protocol names (pkg/config/protocol) and how a Kubernetes Service
// port or a ServiceEntry port gets one. The model stores the parsed name; the
// builders classify it (networking/sidecar/common.h PortClass).
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace keel::pilot::model {

// A port whose protocol is not declared (Istio's protocol.Unsupported): the
// proxy sniffs it, HTTP or TCP per connection.
inline constexpr char kUnsupportedProtocol[] = "UNSUPPORTED";

// Istio protocol.Parse: "TCP", "HTTP", "GRPC-WEB", ... upper-case, or
// kUnsupportedProtocol for a name it does not know (an empty one too).
std::string ParseProtocol(absl::string_view name);

// Istio kube.ConvertProtocol: a Service port's protocol from its transport
// (UDP, SCTP), else its appProtocol (Kubernetes' kubernetes.io/h2c, ws, wss
// included), else its name's prefix before '-' ("http-web": HTTP,
// "grpc-web-x": GRPC-WEB). Undeclared ones are sniffed, except on the
// well-known server-first ports (SMTP 25, DNS 53, MySQL 3306, MongoDB 27017),
// which are TCP.
std::string KubernetesPortProtocol(int port, absl::string_view name, absl::string_view transport,
                                   absl::string_view app_protocol);

}  // namespace keel::pilot::model
