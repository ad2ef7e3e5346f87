#include "pilot/debug/json.h"

#include <google/protobuf/util/json_util.h>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace keel::pilot::debug {

google::protobuf::Value MessageToValue(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::Value value;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = false;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok() ||
      !google::protobuf::util::JsonStringToMessage(json, &value).ok()) {
    value.set_string_value("<unprintable " + message.GetTypeName() + ">");
  }
  return value;
}

google::protobuf::Value StringValue(const std::string& s) {
  google::protobuf::Value v;
  v.set_string_value(s);
  return v;
}

google::protobuf::Value NumberValue(double d) {
  google::protobuf::Value v;
  v.set_number_value(d);
  return v;
}

google::protobuf::Value BoolValue(bool b) {
  google::protobuf::Value v;
  v.set_bool_value(b);
  return v;
}

google::protobuf::Value StringListValue(const std::vector<std::string>& list) {
  google::protobuf::Value v = EmptyList();
  for (const auto& s : list) *v.mutable_list_value()->add_values() = StringValue(s);
  return v;
}

google::protobuf::Value EmptyList() {
  google::protobuf::Value v;
  v.mutable_list_value();
  return v;
}

google::protobuf::Value EmptyObject() {
  google::protobuf::Value v;
  v.mutable_struct_value();
  return v;
}

google::protobuf::Value TimeValue(std::chrono::system_clock::time_point t) {
  return StringValue(absl::FormatTime(absl::RFC3339_full, absl::FromChrono(t), absl::UTCTimeZone()));
}

google::protobuf::Map<std::string, google::protobuf::Value>& Fields(google::protobuf::Value& object) {
  return *object.mutable_struct_value()->mutable_fields();
}

google::protobuf::Value& Append(google::protobuf::Value& list) { return *list.mutable_list_value()->add_values(); }

google::protobuf::Value StringMapValue(const std::map<std::string, std::string>& m) {
  google::protobuf::Value v;
  auto* fields = v.mutable_struct_value()->mutable_fields();
  for (const auto& [k, s] : m) (*fields)[k] = StringValue(s);
  return v;
}

http::HttpResponse JsonResponse(const google::protobuf::Value& value) {
  http::HttpResponse response;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  (void)google::protobuf::util::MessageToJsonString(value, &response.body, options);
  return response;
}

http::HttpResponse ErrorResponse(int status, const std::string& message) {
  return http::HttpResponse{status, "text/plain", message + "\n"};
}

}  // namespace keel::pilot::debug
