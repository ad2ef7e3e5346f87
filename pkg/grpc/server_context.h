// What a gRPC server method needs to know about its caller, in one place for
// every service (ADS, the CA).
#pragma once

#include <map>
#include <string>

#include <grpcpp/server_context.h>

namespace keel::grpcutil {

// True if the call arrived over TLS (the 15012 port), false for plaintext.
bool ArrivedOverTls(const grpc::ServerContextBase& context);

// The call's metadata as owned strings, keys lower-case (what the token
// authenticator takes).
std::multimap<std::string, std::string> ClientMetadata(const grpc::ServerContextBase& context);

}  // namespace keel::grpcutil
