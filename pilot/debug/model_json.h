// istiod's JSON for its model types (pilot/pkg/model/service.go), shared by
// /debug/registryz and /debug/endpointz.
#pragma once

#include <google/protobuf/struct.pb.h>

#include <string>

#include "pilot/model/push_context.h"
#include "pilot/model/service.h"

namespace keel::pilot::debug {

using model::kClusterId;

// model.Service: {"Attributes": {...}, "hostname", "ports", "clusterVIPs",
// "defaultAddress", "creationTime", "Resolution", "MeshExternal", "ResourceVersion"}.
google::protobuf::Value ServiceValue(const model::Service& service, const model::PushContext& push);

// model.Port: {"name", "port", "protocol"}.
google::protobuf::Value PortValue(const model::ServicePort& port);

}  // namespace keel::pilot::debug
