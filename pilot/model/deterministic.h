// Protobuf serialization with map entries in key order. Plain serialization
// writes a map (Struct fields, filter_metadata) in its hash order, which differs
// between two equal messages, so the bytes - and a resource's version hash, and
// whether a push is sent - would too.
#pragma once

#include <google/protobuf/any.pb.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/message.h>

#include <string>

namespace keel::pilot::model {

inline std::string SerializeDeterministic(const google::protobuf::Message& message) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return bytes;
}

// Any::PackFrom, deterministically.
inline void PackDeterministic(const google::protobuf::Message& message, google::protobuf::Any* any) {
  any->set_type_url("type.googleapis.com/" + message.GetDescriptor()->full_name());
  any->set_value(SerializeDeterministic(message));
}

}  // namespace keel::pilot::model
