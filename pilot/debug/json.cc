#include "pilot/debug/json.h"

#include <google/protobuf/util/json_util.h>

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
