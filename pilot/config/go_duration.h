// Go-style durations ("5m", "30ms", "1h30m"), which Istio's API accepts wherever
// it takes a google.protobuf.Duration, rewritten to protobuf's JSON form ("300s").
#pragma once

#include <google/protobuf/descriptor.h>
#include <google/protobuf/struct.pb.h>

#include <string>

#include "absl/status/statusor.h"

namespace keel::pilot::config {

// "1h30m" -> "5400s", "30ms" -> "0.030000000s", "-1.5s" -> "-1.500000000s".
// Errors: InvalidArgument for anything Go's time.ParseDuration would reject.
absl::StatusOr<std::string> GoDurationToProtoJson(const std::string& go);

// Rewrites, in place, every string at a google.protobuf.Duration field of
// `descriptor` within the JSON tree `value` (which holds a `descriptor` message).
// A string that is not a valid duration is left for the JSON parser to reject.
void NormalizeDurations(const google::protobuf::Descriptor* descriptor, google::protobuf::Value* value);

}  // namespace keel::pilot::config
