// JSON helpers for the debug endpoints: protobuf's Struct/Value as the JSON
// tree, printed by protobuf's JSON printer (types in Any resolved from the
// generated pool).
#pragma once

#include <google/protobuf/message.h>
#include <google/protobuf/struct.pb.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "pkg/http/http_server.h"

namespace keel::pilot::debug {

// `message` as a JSON Value (an object; an Any gets its "@type").
google::protobuf::Value MessageToValue(const google::protobuf::Message& message);

google::protobuf::Value StringValue(const std::string& s);
google::protobuf::Value NumberValue(double d);
google::protobuf::Value BoolValue(bool b);
google::protobuf::Value StringMapValue(const std::map<std::string, std::string>& m);
google::protobuf::Value StringListValue(const std::vector<std::string>& list);
google::protobuf::Value EmptyList();
google::protobuf::Value EmptyObject();
// RFC 3339 with nanoseconds, UTC (Go's time.Time in JSON).
google::protobuf::Value TimeValue(std::chrono::system_clock::time_point t);

// The fields of `object` (made an object if it is not one yet).
google::protobuf::Map<std::string, google::protobuf::Value>& Fields(google::protobuf::Value& object);
// Appends to `list` (made a list if it is not one yet) and returns the new element.
google::protobuf::Value& Append(google::protobuf::Value& list);

// An HTTP 200 response with `value` printed as indented JSON.
http::HttpResponse JsonResponse(const google::protobuf::Value& value);

// An error response in istiod's style: plain text.
http::HttpResponse ErrorResponse(int status, const std::string& message);

}  // namespace keel::pilot::debug
