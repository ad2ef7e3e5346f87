#include "pilot/xds/generator.h"

#include "pilot/xds/cds_generator.h"
#include "pilot/xds/eds_generator.h"
#include "pilot/xds/lds_generator.h"
#include "pilot/xds/rds_generator.h"
#include "pilot/xds/resource_types.h"
#include "pilot/xds/sds_generator.h"

namespace keel::pilot::xds {

bool IsWildcardType(const std::string& type_url) {
  return type_url == kListenerType || type_url == kClusterType || type_url == kDebugSynczType;
}

const char* ShortTypeName(const std::string& type_url) {
  if (type_url == kListenerType) return "LDS";
  if (type_url == kRouteType) return "RDS";
  if (type_url == kClusterType) return "CDS";
  if (type_url == kEndpointType) return "EDS";
  if (type_url == kSecretType) return "SDS";
  if (type_url == kDebugSynczType) return "syncz";
  if (type_url == kDebugConfigDumpType) return "config_dump";
  return "UNKNOWN";
}

XdsCacheKey GrpcCacheKey(const std::string& type, const model::Proxy& proxy, const model::PushContext& push) {
  XdsCacheKey key{type, "grpc", push.ScopeFor(proxy).key(), "", ""};
  if (type == "RDS") {
    for (const auto& [k, v] : proxy.labels) key.variant += "|" + k + "=" + v;
  }
  return key;
}

GeneratorMap MakeGenerators(XdsCache* cache, SecretAuthorizer secret_authorizer) {
  GeneratorMap out;
  out[kListenerType] = std::make_unique<LdsGenerator>();
  out[kRouteType] = std::make_unique<RdsGenerator>(cache);
  out[kClusterType] = std::make_unique<CdsGenerator>(cache);
  out[kEndpointType] = std::make_unique<EdsGenerator>(cache);
  out[kSecretType] = std::make_unique<SdsGenerator>(std::move(secret_authorizer));
  return out;
}

}  // namespace keel::pilot::xds
