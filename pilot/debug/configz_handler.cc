#include "pilot/debug/handlers.h"
#include "pilot/debug/json.h"

namespace keel::pilot::debug {

http::HttpHandler MakeConfigzHandler(const model::ConfigStore& store) {
  return [&store](const http::HttpRequest&) {
    google::protobuf::Value out;
    auto* list = out.mutable_list_value();
    for (const auto& [key, config] : *store.Snapshot()) {
      google::protobuf::Value item;
      auto* fields = item.mutable_struct_value()->mutable_fields();
      google::protobuf::Value body = MessageToValue(*config->body);
      if (!model::KindIsIstio(key.kind)) {
        item = body;  // the whole Kubernetes object as Keel keeps it
        fields = item.mutable_struct_value()->mutable_fields();
      } else {
        (*fields)["spec"] = body;
      }
      (*fields)["kind"] = StringValue(std::string(model::KindName(key.kind)));
      (*fields)["apiVersion"] = StringValue(config->meta.api_version);
      google::protobuf::Value meta;
      auto* m = meta.mutable_struct_value()->mutable_fields();
      (*m)["name"] = StringValue(key.name);
      if (!key.ns.empty()) (*m)["namespace"] = StringValue(key.ns);
      if (!config->meta.labels.empty()) (*m)["labels"] = StringMapValue(config->meta.labels);
      if (!config->meta.annotations.empty()) (*m)["annotations"] = StringMapValue(config->meta.annotations);
      if (!config->meta.creation_timestamp.empty()) {
        (*m)["creationTimestamp"] = StringValue(config->meta.creation_timestamp);
      }
      if (!config->meta.resource_version.empty()) {
        (*m)["resourceVersion"] = StringValue(config->meta.resource_version);
      }
      (*m)["origin"] = StringValue(config->meta.origin);
      (*fields)["metadata"] = std::move(meta);
      *list->add_values() = std::move(item);
    }
    return JsonResponse(out);
  };
}

}  // namespace keel::pilot::debug
