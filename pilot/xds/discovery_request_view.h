// DiscoveryRequestView: the fields of a serialized state-of-the-world
// DiscoveryRequest read in place (views into the bytes, nothing copied), for
// the common request that needs nothing more: a plain ACK. An Envoy ACKs every
// EDS response with every watched cluster name (2,000 in a 2,000-Service
// mesh); parsing that into a message allocates each name. The view lets the
// stream recognise the ACK and keep none of it.
//
// Contract: Parse accepts only what the full parse would accept the same way
// for this purpose; it returns false for anything it does not decode (groups,
// a field of the wrong wire type, a truncated field), and marks fields it skips
// (node, error_detail, resource_locators, unknown ones) so the caller falls back
// to the full parse for them. Strings are not checked for UTF-8 here: the
// caller only uses a view whose strings it compares with its own (valid) ones,
// or checks them (IsAscii).
#pragma once

#include <vector>

#include "absl/strings/string_view.h"

namespace keel::pilot::xds {

struct DiscoveryRequestView {
  absl::string_view version_info;
  absl::string_view type_url;
  absl::string_view response_nonce;
  std::vector<absl::string_view> resource_names;  // in request order
  bool has_node = false;
  bool has_error_detail = false;
  bool has_other_fields = false;  // resource_locators, or fields this version of the API lacks

  // Whether the request carries nothing but version, type, nonce and names.
  bool OnlyAckFields() const { return !has_node && !has_error_detail && !has_other_fields; }
  // Reads `bytes` (a serialized DiscoveryRequest) into *out; false if it
  // cannot (the full parse then decides).
  static bool Parse(absl::string_view bytes, DiscoveryRequestView* out);
};

// Whether every byte of `s` is 7-bit ASCII (so valid UTF-8).
bool IsAscii(absl::string_view s);

}  // namespace keel::pilot::xds
