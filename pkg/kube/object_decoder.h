// Decodes what the API server sends, a list page or a watch event, one object
// at a time: an object that does not decode (too deep for protobuf's JSON
// parser, too large, not JSON) is returned with the reason and its metadata, so
// the caller skips that object and keeps the others. Entry points take bytes and
// return StatusOr (fuzzable).
#pragma once

#include <google/protobuf/struct.pb.h>

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace keel::kube {

struct DecodeOptions {
  // `status` is dropped unread unless set: it is what controllers write, and a
  // CRD's status is free-form (x-kubernetes-preserve-unknown-fields), so any
  // depth or size. Set for Pods and Services, whose status (a fixed schema) Keel reads.
  bool keep_status = false;
  // metadata.managedFields is always dropped unread: it mirrors the shape of
  // every field a manager set, a deep status included.
  size_t max_object_bytes = 4 << 20;  // larger objects are skipped (etcd stores at most 1.5 MiB by default)
  // Objects and arrays nested in the object. protobuf 3.21 parses JSON into a
  // google.protobuf.Struct at most 34 levels deep (its recursion limit of 100
  // counts the Struct and Value messages of each level) and would refuse a deeper
  // one anyway, as "Message too deep"; this says how deep it is. Real objects
  // nest about 10 levels.
  int max_depth = 32;
};

// One object of a list or event.
struct DecodedObject {
  // From metadata, read even when the object does not decode ("" if absent).
  std::string ns;
  std::string name;
  std::string resource_version;
  // Why the object does not decode; then `object` is empty.
  absl::Status error;
  google::protobuf::Struct object;  // the object, without metadata.managedFields, and `status` unless keep_status
};

struct DecodedList {
  std::string resource_version;  // metadata.resourceVersion
  std::string continue_token;    // metadata.continue
  std::vector<DecodedObject> items;
};

// A list response body ({"metadata": {...}, "items": [...]}).
// Errors: InvalidArgument when the body is not a JSON object with an array of
// items (a broken response, not a bad object).
absl::StatusOr<DecodedList> DecodeList(absl::string_view body, const DecodeOptions& options);

struct DecodedEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
  DecodedObject object;  // for ERROR: the Status object, `status` kept
};

// One line of a watch stream ({"type": "...", "object": {...}}).
// Errors: InvalidArgument when the line is not such a JSON object.
absl::StatusOr<DecodedEvent> DecodeWatchEvent(absl::string_view line, const DecodeOptions& options);

// One object's JSON text.
DecodedObject DecodeObject(absl::string_view text, const DecodeOptions& options);

}  // namespace keel::kube
