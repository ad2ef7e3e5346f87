#include "pilot/model/unsupported_fields.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace keel::pilot::model {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// The message a field's values are walked as: its own type, or for a map the
// value's type (null when the values are scalars).
const Descriptor* ValueMessage(const FieldDescriptor* field) {
  if (field->is_map()) {
    const FieldDescriptor* value = field->message_type()->map_value();
    return value->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE ? value->message_type() : nullptr;
  }
  return field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE ? field->message_type() : nullptr;
}

// Descriptor::FindFieldByJsonName is newer than the protobuf Keel builds with.
const FieldDescriptor* FieldByJsonName(const Descriptor& message, absl::string_view json_name) {
  for (int i = 0; i < message.field_count(); ++i) {
    if (message.field(i)->json_name() == json_name) return message.field(i);
  }
  return nullptr;
}

class Walker {
 public:
  explicit Walker(absl::Span<const absl::string_view> covered) {
    for (absl::string_view path : covered) covered_.insert(std::string(path));
  }

  void Walk(const Message& message, const std::string& prefix) {
    const Reflection* reflection = message.GetReflection();
    std::vector<const FieldDescriptor*> fields;
    reflection->ListFields(message, &fields);
    for (const FieldDescriptor* field : fields) {
      const std::string path = prefix.empty() ? field->json_name() : absl::StrCat(prefix, ".", field->json_name());
      if (Covered(path)) continue;
      if (!HasCoveredChild(path) || ValueMessage(field) == nullptr) {
        out_.insert(path);
        continue;
      }
      if (!field->is_repeated()) {
        Walk(reflection->GetMessage(message, field), path);
        continue;
      }
      const int n = reflection->FieldSize(message, field);
      for (int i = 0; i < n; ++i) {
        const Message& element = reflection->GetRepeatedMessage(message, field, i);
        if (!field->is_map()) {
          Walk(element, path);
          continue;
        }
        const FieldDescriptor* value = field->message_type()->map_value();
        Walk(element.GetReflection()->GetMessage(element, value), path);
      }
    }
  }

  std::vector<std::string> Result() const { return {out_.begin(), out_.end()}; }

 private:
  bool Covered(const std::string& path) const { return covered_.count(path) > 0; }
  // Some deeper path under `path` is covered, so `path` is walked into.
  bool HasCoveredChild(const std::string& path) const {
    auto it = covered_.lower_bound(absl::StrCat(path, "."));
    return it != covered_.end() && absl::StartsWith(*it, absl::StrCat(path, "."));
  }

  std::set<std::string> covered_;
  std::set<std::string> out_;
};

}  // namespace

std::vector<std::string> UnsupportedFields(const KindSchema& schema, const Message& spec) {
  if (!schema.istio || !schema.translated) return {};
  return UncoveredFields(schema.translated_fields, spec);
}

std::vector<std::string> UncoveredFields(absl::Span<const absl::string_view> covered, const Message& message) {
  Walker walker(covered);
  walker.Walk(message, "");
  return walker.Result();
}

std::string FirstUnresolvedTranslatedField(const KindSchema& schema) {
  std::unique_ptr<Message> body = schema.new_body();
  for (absl::string_view path : schema.translated_fields) {
    const Descriptor* message = body->GetDescriptor();
    for (absl::string_view part : absl::StrSplit(path, '.')) {
      const FieldDescriptor* field = message == nullptr ? nullptr : FieldByJsonName(*message, part);
      if (field == nullptr) return std::string(path);
      message = ValueMessage(field);
    }
  }
  return "";
}

}  // namespace keel::pilot::model
