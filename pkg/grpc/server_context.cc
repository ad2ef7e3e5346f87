#include "pkg/grpc/server_context.h"

#include <grpc/grpc_security_constants.h>

#include "absl/strings/ascii.h"

namespace keel::grpcutil {

bool ArrivedOverTls(const grpc::ServerContextBase& context) {
  auto auth = context.auth_context();
  if (!auth) return false;
  auto values = auth->FindPropertyValues(GRPC_TRANSPORT_SECURITY_TYPE_PROPERTY_NAME);
  if (values.empty()) return false;
  const std::string type(values[0].data(), values[0].size());
  return type == "tls" || type == GRPC_SSL_TRANSPORT_SECURITY_TYPE;
}

std::multimap<std::string, std::string> ClientMetadata(const grpc::ServerContextBase& context) {
  std::multimap<std::string, std::string> metadata;
  for (const auto& [k, v] : context.client_metadata()) {
    metadata.emplace(absl::AsciiStrToLower(std::string(k.data(), k.size())), std::string(v.data(), v.size()));
  }
  return metadata;
}

}  // namespace keel::grpcutil
