#include "pkg/kube/object_decoder.h"

#include <google/protobuf/util/json_util.h>

#include <functional>

#include "absl/strings/str_cat.h"
#include "pkg/json/json_scan.h"

namespace keel::kube {
namespace {

// Reads namespace, name and resourceVersion of the object `text` without
// decoding the rest.
void ReadMetadata(absl::string_view metadata, DecodedObject* out) {
  (void)json::ForEachMember(metadata, [out](const json::Member& m) {
    std::string* field = m.key == "name"              ? &out->name
                         : m.key == "namespace"       ? &out->ns
                         : m.key == "resourceVersion" ? &out->resource_version
                                                      : nullptr;
    if (field) {
      auto v = json::StringValue(m.value);
      if (v.ok()) *field = std::move(*v);
    }
    return absl::OkStatus();
  });
}

absl::Status ParseStruct(absl::string_view json, google::protobuf::Struct* out) {
  auto st = google::protobuf::util::JsonStringToMessage(google::protobuf::StringPiece(json.data(), json.size()), out);
  if (!st.ok()) return absl::InvalidArgumentError(std::string(st.message()));
  return absl::OkStatus();
}

// The members of the object `text` as JSON, without those `drop` names.
absl::Status AppendMembers(absl::string_view text, const std::function<bool(const std::string&)>& drop,
                           std::string* out) {
  out->push_back('{');
  bool first = true;
  absl::Status st = json::ForEachMember(text, [&](const json::Member& m) {
    if (drop(m.key)) return absl::OkStatus();
    if (!first) out->push_back(',');
    first = false;
    absl::StrAppend(out, m.raw_key, ":", m.value);
    return absl::OkStatus();
  });
  out->push_back('}');
  return st;
}

DecodedObject DecodeObjectImpl(absl::string_view text, const DecodeOptions& options, bool keep_status) {
  DecodedObject out;
  std::string kept = "{";
  absl::Status scan = json::ForEachMember(text, [&](const json::Member& m) {
    if (m.key == "status" && !keep_status) return absl::OkStatus();
    if (kept.size() > 1) kept.push_back(',');
    if (m.key == "metadata" && !m.value.empty() && m.value[0] == '{') {
      ReadMetadata(m.value, &out);
      // managedFields mirrors the shape of every field a manager set (status
      // included), so it is as deep as the deepest of them; Keel never reads it.
      absl::StrAppend(&kept, m.raw_key, ":");
      return AppendMembers(m.value, [](const std::string& key) { return key == "managedFields"; }, &kept);
    }
    absl::StrAppend(&kept, m.raw_key, ":", m.value);
    return absl::OkStatus();
  });
  kept.push_back('}');
  if (!scan.ok()) {
    out.error = absl::InvalidArgumentError(absl::StrCat("not a JSON object: ", scan.message()));
    return out;
  }
  if (kept.size() > options.max_object_bytes) {
    out.error = absl::InvalidArgumentError(absl::StrCat(kept.size(), " bytes of JSON (",
                                                        keep_status ? "" : "status and ",
                                                        "managedFields excluded), more than the limit of ",
                                                        options.max_object_bytes));
    return out;
  }
  if (int depth = json::NestingDepth(kept); depth > options.max_depth) {
    out.error = absl::InvalidArgumentError(
        absl::StrCat("nested ", depth, " levels deep, more than the limit of ", options.max_depth));
    return out;
  }
  if (auto st = ParseStruct(kept, &out.object); !st.ok()) {
    out.object.Clear();
    out.error = absl::InvalidArgumentError(absl::StrCat("not valid JSON: ", st.message()));
  }
  return out;
}

}  // namespace

DecodedObject DecodeObject(absl::string_view text, const DecodeOptions& options) {
  return DecodeObjectImpl(text, options, options.keep_status);
}

absl::StatusOr<DecodedList> DecodeList(absl::string_view body, const DecodeOptions& options) {
  DecodedList list;
  bool has_items = false;
  absl::Status st = json::ForEachMember(body, [&](const json::Member& m) -> absl::Status {
    if (m.key == "metadata") {
      return json::ForEachMember(m.value, [&](const json::Member& meta) {
        if (meta.key == "resourceVersion" || meta.key == "continue") {
          auto v = json::StringValue(meta.value);
          if (v.ok()) (meta.key == "continue" ? list.continue_token : list.resource_version) = std::move(*v);
        }
        return absl::OkStatus();
      });
    }
    if (m.key != "items") return absl::OkStatus();
    has_items = true;
    if (m.value == "null") return absl::OkStatus();  // an empty list, as some servers write it
    return json::ForEachElement(m.value, [&](absl::string_view item) {
      list.items.push_back(DecodeObject(item, options));
      return absl::OkStatus();
    });
  });
  if (!st.ok()) return absl::InvalidArgumentError(absl::StrCat("bad list from the API server: ", st.message()));
  if (!has_items) return absl::InvalidArgumentError("bad list from the API server: no items");
  return list;
}

absl::StatusOr<DecodedEvent> DecodeWatchEvent(absl::string_view line, const DecodeOptions& options) {
  DecodedEvent event;
  absl::string_view object;
  absl::Status st = json::ForEachMember(line, [&](const json::Member& m) -> absl::Status {
    if (m.key == "type") {
      auto v = json::StringValue(m.value);
      if (!v.ok()) return v.status();
      event.type = std::move(*v);
    } else if (m.key == "object") {
      object = m.value;
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return absl::InvalidArgumentError(absl::StrCat("bad watch event from the API server: ", st.message()));
  if (event.type.empty() || object.empty()) {
    return absl::InvalidArgumentError("bad watch event from the API server: no type or object");
  }
  // An ERROR's object is a metav1.Status, whose `status` is "Failure": keep it.
  event.object = DecodeObjectImpl(object, options, options.keep_status || event.type == "ERROR");
  return event;
}

}  // namespace keel::kube
