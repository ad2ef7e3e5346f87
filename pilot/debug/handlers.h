// The /ready and /debug/* handlers of keel-discovery, one per file
// (ready_handler.cc, configz_handler.cc, config_dump_handler.cc, ...).
#pragma once

#include <functional>

#include "pilot/model/config_store.h"
#include "pilot/xds/ads_server.h"
#include "pkg/http/http_server.h"

namespace keel::pilot::debug {

// /ready: 200 "ready" once `ready()` is true, else 503 naming what is missing.
http::HttpHandler MakeReadyHandler(std::function<std::string()> not_ready_reason);

// /debug/configz: every config object, as a JSON array of Kubernetes-style objects.
http::HttpHandler MakeConfigzHandler(const model::ConfigStore& store);

// /debug/config_dump?proxyID=ID: what was last sent to that proxy, per type, with
// its ACK/NACK state. 400 without proxyID, 404 when the proxy is not connected here.
http::HttpHandler MakeConfigDumpHandler(const xds::AdsServer& ads);

// /debug/connections: one entry per live ADS connection.
http::HttpHandler MakeConnectionsHandler(const xds::AdsServer& ads);

}  // namespace keel::pilot::debug
