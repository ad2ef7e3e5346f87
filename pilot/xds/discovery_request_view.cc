#include "pilot/xds/discovery_request_view.h"

#include <cstdint>

namespace keel::pilot::xds {
namespace {

// DiscoveryRequest's field numbers (envoy/service/discovery/v3/discovery.proto).
enum Field : uint32_t {
  kVersionInfo = 1,
  kNode = 2,
  kResourceNames = 3,
  kTypeUrl = 4,
  kResponseNonce = 5,
  kErrorDetail = 6,
};
enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// Reads a varint at *p (advancing it); false if truncated or longer than 10 bytes.
bool ReadVarint(const char** p, const char* end, uint64_t* value) {
  uint64_t v = 0;
  for (int shift = 0; shift < 70 && *p < end; shift += 7) {
    const uint8_t byte = static_cast<uint8_t>(*(*p)++);
    v |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if (!(byte & 0x80)) {
      *value = v;
      return true;
    }
  }
  return false;
}

}  // namespace

bool DiscoveryRequestView::Parse(absl::string_view bytes, DiscoveryRequestView* out) {
  *out = DiscoveryRequestView();
  out->resource_names.reserve(bytes.size() / 48);  // a cluster name and its tag are ~50 bytes
  const char* p = bytes.data();
  const char* const end = bytes.data() + bytes.size();
  while (p < end) {
    uint64_t tag = 0;
    if (!ReadVarint(&p, end, &tag) || tag >> 3 == 0 || tag >> 3 > UINT32_MAX) return false;
    const uint32_t field = static_cast<uint32_t>(tag >> 3);
    const uint32_t wire = static_cast<uint32_t>(tag & 7);
    uint64_t skip = 0;
    switch (wire) {
      case kVarint: {
        uint64_t ignored;
        if (!ReadVarint(&p, end, &ignored)) return false;
        break;
      }
      case kFixed64:
        skip = 8;
        break;
      case kFixed32:
        skip = 4;
        break;
      case kLengthDelimited: {
        uint64_t length = 0;
        if (!ReadVarint(&p, end, &length) || length > static_cast<uint64_t>(end - p)) return false;
        const absl::string_view value(p, length);
        p += length;
        switch (field) {
          case kVersionInfo: out->version_info = value; break;  // proto3: the last one wins
          case kTypeUrl: out->type_url = value; break;
          case kResponseNonce: out->response_nonce = value; break;
          case kResourceNames: out->resource_names.push_back(value); break;
          case kNode: out->has_node = true; break;
          case kErrorDetail: out->has_error_detail = true; break;
          default: out->has_other_fields = true; break;
        }
        continue;
      }
      default:
        return false;  // groups (3, 4) and invalid wire types
    }
    // A scalar: none of DiscoveryRequest's fields is one.
    if (field <= kErrorDetail) return false;
    out->has_other_fields = true;
    if (skip > static_cast<uint64_t>(end - p)) return false;
    p += skip;
  }
  return true;
}

bool IsAscii(absl::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

}  // namespace keel::pilot::xds
