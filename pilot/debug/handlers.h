// The /ready and /debug/* handlers of keel-discovery, one per file
// (ready_handler.cc, configz_handler.cc, config_dump_handler.cc, ...), with
// istiod's paths, JSON shapes and error messages (pilot/pkg/xds/debug.go).
// Handlers are plain functions of the request: they read snapshots (AdsServer,
// ConfigStore, the current PushContext), never block, and are safe on any thread.
// Authentication is not theirs: DebugAuth (debug_auth.h) wraps them.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "pilot/model/config_store.h"
#include "pilot/xds/ads_server.h"
#include "pkg/http/http_server.h"

namespace keel::pilot::debug {

// /ready: 200 "ready" once `ready()` is true, else 503 naming what is missing.
http::HttpHandler MakeReadyHandler(std::function<std::string()> not_ready_reason);

// /debug/configz: every config object, as a JSON array of Kubernetes-style
// objects; Secrets and ConfigMaps by metadata only, never their data (the rules
// per kind are in configz_handler.cc).
http::HttpHandler MakeConfigzHandler(const model::ConfigStore& store);

// /debug/config_dump?proxyID=ID: what was last sent to that proxy, per type, with
// its ACK/NACK state, SDS private keys redacted as istiod (RedactForDebug in
// secret_redaction.h). 400 without proxyID, 404 when the proxy is not connected here.
http::HttpHandler MakeConfigDumpHandler(const xds::AdsServer& ads);

// /debug/connections: istiod's AdsClients {"totalClients", "clients": [{"connectionId",
// "connectedAt", "address"}]}, each client with Keel's extras (proxyID, namespace,
// proxyless, watches: the short type names it watches).
http::HttpHandler MakeConnectionsHandler(const xds::AdsServer& ads);

// /debug/adsz[?proxyID=ID]: AdsClients with labels, node metadata and watches
// (type URL -> resource names). 404 when proxyID names no connection here.
// /debug/adsz?push=true: calls `push_all` (a forced full push, reason "debug")
// and answers "Pushed to N servers".
http::HttpHandler MakeAdszHandler(const xds::AdsServer& ads, std::function<void()> push_all);

// /debug/syncz: istiod's SyncStatus per identified connection: proxy, proxy_type,
// cluster_id, istio_version, {cluster,listener,route,endpoint}_{sent,acked} nonces;
// plus Keel's {cluster,...}_status: SYNCED, NOT SENT, STALE, STALE (Never Acknowledged)
// (istioctl proxy-status's reading of the nonces).
http::HttpHandler MakeSynczHandler(const xds::AdsServer& ads);

// /debug/registryz: the services of the current push as istiod's model.Service JSON
// (hostname, ports, Attributes, clusterVIPs, Resolution, MeshExternal, ...).
http::HttpHandler MakeRegistryzHandler(const xds::AdsServer& ads);

// /debug/endpointz: [{"svc": "HOST:PORTNAME", "ep": [istiod ServiceInstance]}];
// ?brief: one text line per endpoint. SPIFFE ids in the push's mesh trust domain.
http::HttpHandler MakeEndpointzHandler(const xds::AdsServer& ads);

// /debug/push_status: the current PushContext's status: pushVersion, counts, and
// istiod's ProxyStatus entries ({metric: {key: {"proxy", "message"}}}) Keel can
// tell: pilot_eds_no_instances, pilot_vservice_dup_domain, and (Keel's)
// keel_invalid_config / keel_kube_skipped_objects from `config_errors` and
// keel_unsupported_config from `store` (as of now, not of the last push: objects of
// kinds Keel does not translate push nothing): every object of such a kind, and every
// object with spec fields Keel does not translate, named; and `other_unsupported`'s
// "WHERE: what" entries (the mesh config's unused fields).
http::HttpHandler MakePushStatusHandler(const xds::AdsServer& ads, const model::ConfigStore& store,
                                        std::function<std::vector<std::string>()> config_errors,
                                        std::function<std::vector<std::string>()> other_unsupported = nullptr);

// /debug/list: the debug commands, as istiod lists them (paths without "/debug/").
http::HttpHandler MakeListHandler(std::vector<std::string> paths);

}  // namespace keel::pilot::debug
