// The one mapping from absl::Status to grpc::Status used at every gRPC boundary.
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace keel::grpcutil {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl and gRPC share the canonical code numbering.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

}  // namespace keel::grpcutil
