# Compiles the Envoy / xDS protos Keel uses from the pinned npm package
# @grpc/grpc-js-xds (node_modules/@grpc/grpc-js-xds/deps) into one static library,
# `keel_envoy_proto`. Nothing generated or third-party is committed: the import
# closure is computed at configure time (proto/proto_closure.cmake).
#
# Inputs:  KEEL_XDS_DEPS (the deps/ folder), KEEL_ENVOY_PROTO_ROOTS (root files).
# Output:  target keel_envoy_proto (headers under ${KEEL_PROTO_GEN_DIR}).

set(KEEL_XDS_DEPS "${PROJECT_SOURCE_DIR}/node_modules/@grpc/grpc-js-xds/deps"
    CACHE PATH "deps/ folder of the pinned @grpc/grpc-js-xds npm package")
if(NOT EXISTS "${KEEL_XDS_DEPS}/envoy-api/envoy")
  message(FATAL_ERROR "Envoy protos not found in ${KEEL_XDS_DEPS}: run `npm ci` (scripts/dev.sh does).")
endif()

find_program(PROTOC protoc REQUIRED)
find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)

set(KEEL_PROTO_GEN_DIR "${CMAKE_BINARY_DIR}/gen")
set(_patched "${CMAKE_BINARY_DIR}/proto-patched")

# The bundled validate.proto predates the bundled envoy-api: envoy uses
# StringRules.ignore_empty (field 26 upstream), which protoc 3.21 rejects as unknown.
# Patch a copy in the build tree and put it first on the include path.
file(READ "${KEEL_XDS_DEPS}/protoc-gen-validate/validate/validate.proto" _validate)
if(NOT _validate MATCHES "ignore_empty")
  string(REGEX REPLACE "(message StringRules {)" "\\1\n  optional bool ignore_empty = 26;"
         _validate "${_validate}")
endif()
file(WRITE "${_patched}/validate/validate.proto" "${_validate}")

set(KEEL_PROTO_INCLUDES
    -I "${_patched}"
    -I "${KEEL_XDS_DEPS}/envoy-api"
    -I "${KEEL_XDS_DEPS}/xds"
    -I "${KEEL_XDS_DEPS}/googleapis"
    -I "${KEEL_XDS_DEPS}/protoc-gen-validate"
    -I "${PROTOBUF_WKT_DIR}")

include("${CMAKE_CURRENT_LIST_DIR}/proto_closure.cmake")
# Files with services Keel serves or calls get gRPC stubs too.
keel_proto_library(keel_envoy_proto
  NAME envoy
  INCLUDES ${KEEL_PROTO_INCLUDES}
  ROOTS ${KEEL_ENVOY_PROTO_ROOTS}
  GRPC envoy/service/discovery/v3/ads.proto envoy/service/secret/v3/sds.proto
  CLOSURE_OUT KEEL_ENVOY_PROTOS)  # so other proto libraries do not generate them twice
