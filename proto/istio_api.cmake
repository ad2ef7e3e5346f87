# Compiles Istio's API (istio.io/api, pinned by proto/istio-api/go.mod and go.sum) into
# one static library, `keel_istio_api_proto`: the spec message of every Istio kind,
# MeshConfig and the CA service. Nothing of the module is committed: `go mod download`
# puts it in Go's module cache (checked against go.sum), and protoc reads it there.
#
# Output: target keel_istio_api_proto (headers under ${KEEL_PROTO_GEN_DIR}, included as
#         "networking/v1alpha3/virtual_service.pb.h", the module's own paths), and
#         KEEL_ISTIO_API_DIR, the module's folder (its kubernetes/ CRDs are staged into
#         the chart by manifests/CMakeLists.txt).

find_program(GO go PATHS /usr/local/go/bin REQUIRED)
set(_pin_dir "${CMAKE_CURRENT_LIST_DIR}/istio-api")
execute_process(
  COMMAND "${CMAKE_COMMAND}" -E env GOFLAGS=-mod=readonly GOTOOLCHAIN=local GOWORK=off
          "${GO}" mod download -json istio.io/api
  WORKING_DIRECTORY "${_pin_dir}"
  OUTPUT_VARIABLE _download RESULT_VARIABLE _rc ERROR_VARIABLE _err)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "go mod download istio.io/api (pinned in ${_pin_dir}) failed: ${_err}${_download}")
endif()
string(JSON KEEL_ISTIO_API_DIR GET "${_download}" Dir)
string(JSON _version GET "${_download}" Version)
message(STATUS "Istio API: istio.io/api ${_version} in ${KEEL_ISTIO_API_DIR}")
# Reconfigure when the pin changes.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_pin_dir}/go.mod" "${_pin_dir}/go.sum")

# The files Keel uses; what they import is added below.
set(_roots
    networking/v1alpha3/destination_rule.proto
    networking/v1alpha3/envoy_filter.proto
    networking/v1alpha3/gateway.proto
    networking/v1alpha3/service_entry.proto
    networking/v1alpha3/sidecar.proto
    networking/v1alpha3/virtual_service.proto
    networking/v1alpha3/workload_entry.proto
    networking/v1alpha3/workload_group.proto
    networking/v1beta1/proxy_config.proto
    security/v1beta1/authorization_policy.proto
    security/v1beta1/peer_authentication.proto
    security/v1beta1/request_authentication.proto
    security/v1alpha1/ca.proto
    telemetry/v1alpha1/telemetry.proto
    extensions/v1alpha1/wasm.proto
    extensions/v1alpha1/traffic_extension.proto
    mesh/v1alpha1/config.proto
    mesh/v1alpha1/proxy.proto
    mesh/v1alpha1/network.proto
    type/v1beta1/selector.proto
    envoy/config/filter/http/alpn/v2alpha1/config.proto
    envoy/extensions/stats/config.proto)
set(_includes -I "${KEEL_ISTIO_API_DIR}" -I "${KEEL_ISTIO_API_DIR}/common-protos" -I "${PROTOBUF_WKT_DIR}")

include("${CMAKE_CURRENT_LIST_DIR}/proto_closure.cmake")
# The CA service gets gRPC stubs too; the Envoy files Istio imports are already in keel_envoy_proto.
keel_proto_library(keel_istio_api_proto
  NAME istio_api
  INCLUDES ${_includes}
  ROOTS ${_roots}
  GRPC security/v1alpha1/ca.proto
  SKIP ${KEEL_ENVOY_PROTOS}
  LINK keel_envoy_proto
  DEPENDS "${_pin_dir}/go.sum")
