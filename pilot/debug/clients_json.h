// istiod's {"totalClients", "clients": [...]} envelope for ADS connections, shared
// by /debug/adsz and /debug/connections.
#pragma once

#include <functional>
#include <vector>

#include "pilot/xds/xds_connection.h"
#include "pkg/http/http_server.h"

namespace keel::pilot::debug {

using ClientFields = google::protobuf::Map<std::string, google::protobuf::Value>;

// Sorts `connections` by id; each client gets connectionId, connectedAt and
// address, then whatever `add` puts in. "clients" is omitted when empty (omitempty).
http::HttpResponse ClientsResponse(std::vector<xds::ConnectionSnapshot> connections,
                                   const std::function<void(const xds::ConnectionSnapshot&, ClientFields&)>& add);

}  // namespace keel::pilot::debug
