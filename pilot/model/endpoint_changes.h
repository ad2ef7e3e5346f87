// Which services' endpoints a change of Pods and EndpointSlices may move: what
// lets a push rebuild only those endpoints (PushContext::UpdateEndpoints).
#pragma once

#include <set>
#include <string>

#include "pilot/model/config_store.h"
#include "pilot/model/push_context.h"

namespace keel::pilot::model {

// True for the kinds whose objects feed endpoints and nothing else a
// PushContext indexes (services, routes and policies read neither): Pod,
// EndpointSlice. What else reads a Pod (a proxy's own inbound listeners) is the
// push's concern (AdsServer::Push).
bool IsEndpointKind(Kind kind);

// The hostnames whose endpoints the Pods and EndpointSlices among `changed` may
// alter, judged on each object as it was (`before.configs()`) and as it is
// (`after`), against `before`'s services:
//  - an EndpointSlice: the Service its kubernetes.io/service-name label names;
//  - a Pod: the Services of its namespace whose selector matches its labels, the
//    Services whose EndpointSlices point at it (targetRef), and the
//    ServiceEntries of its namespace whose workloadSelector matches them.
// Keys of other kinds are ignored.
HostSet HostsWithEndpointChanges(const PushContext& before, const ConfigMap& after,
                                               const std::set<ConfigKey>& changed);

// The service accounts of the endpoints of `hosts` (any port), as the clusters'
// SANs are built from them (an endpoint-only change that alters them needs CDS).
std::set<std::string> EndpointServiceAccounts(const PushContext& push, const HostSet& hosts);

}  // namespace keel::pilot::model
