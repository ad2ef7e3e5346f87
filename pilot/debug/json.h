// JSON helpers for the debug endpoints: protobuf's Struct/Value as the JSON
// tree, printed by protobuf's JSON printer (types in Any resolved from the
// generated pool).
#pragma once

#include <google/protobuf/message.h>
#include <google/protobuf/struct.pb.h>

#include <map>
#include <string>

#include "pkg/http/http_server.h"

namespace keel::pilot::debug {

// `message` as a JSON Value (an object; an Any gets its "@type").
google::protobuf::Value MessageToValue(const google::protobuf::Message& message);

google::protobuf::Value StringValue(const std::string& s);
google::protobuf::Value StringMapValue(const std::map<std::string, std::string>& m);

// An HTTP 200 response with `value` printed as indented JSON.
http::HttpResponse JsonResponse(const google::protobuf::Value& value);

// An error response in istiod's style: plain text.
http::HttpResponse ErrorResponse(int status, const std::string& message);

}  // namespace keel::pilot::debug
