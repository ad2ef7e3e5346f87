# Compiles the Envoy / xDS protos Keel uses from the pinned npm package
# @grpc/grpc-js-xds (node_modules/@grpc/grpc-js-xds/deps) into one static library,
# `keel_envoy_proto`. Nothing generated or third-party is committed: the import
# closure is computed here at configure time with protoc --include_imports.
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

# Import closure of the roots, as a FileDescriptorSet decoded to text.
execute_process(
  COMMAND "${PROTOC}" ${KEEL_PROTO_INCLUDES} --include_imports
          "--descriptor_set_out=${CMAKE_BINARY_DIR}/envoy_closure.pb" ${KEEL_ENVOY_PROTO_ROOTS}
  RESULT_VARIABLE _rc ERROR_VARIABLE _err)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "protoc could not load the Envoy protos: ${_err}")
endif()
execute_process(
  COMMAND "${PROTOC}" -I "${PROTOBUF_WKT_DIR}" --decode=google.protobuf.FileDescriptorSet
          google/protobuf/descriptor.proto
  INPUT_FILE "${CMAKE_BINARY_DIR}/envoy_closure.pb"
  OUTPUT_VARIABLE _decoded RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "protoc could not decode the descriptor set")
endif()
string(REGEX MATCHALL "\n  name: \"[^\"]+\"" _names "${_decoded}")

set(_protos "")
set(_srcs "")
foreach(_n IN LISTS _names)
  string(REGEX REPLACE "\n  name: \"([^\"]+)\"" "\\1" _f "${_n}")
  if(_f MATCHES "^google/protobuf/")
    continue()  # well-known types: already in libprotobuf
  endif()
  list(APPEND _protos "${_f}")
  string(REGEX REPLACE "\\.proto$" "" _base "${_f}")
  list(APPEND _srcs "${KEEL_PROTO_GEN_DIR}/${_base}.pb.cc" "${KEEL_PROTO_GEN_DIR}/${_base}.pb.h")
endforeach()
set(KEEL_ENVOY_PROTOS ${_protos})  # so other proto libraries do not generate them twice
list(LENGTH _protos _count)
message(STATUS "Envoy proto closure: ${_count} files to generate")

# Files with services Keel serves or calls get gRPC stubs too.
set(_grpc_protos envoy/service/discovery/v3/ads.proto envoy/service/secret/v3/sds.proto)
set(_grpc_srcs "")
foreach(_f IN LISTS _grpc_protos)
  string(REGEX REPLACE "\\.proto$" "" _base "${_f}")
  list(APPEND _grpc_srcs "${KEEL_PROTO_GEN_DIR}/${_base}.grpc.pb.cc" "${KEEL_PROTO_GEN_DIR}/${_base}.grpc.pb.h")
endforeach()

add_custom_command(
  OUTPUT ${_srcs} ${_grpc_srcs}
  COMMAND "${CMAKE_COMMAND}" -E make_directory "${KEEL_PROTO_GEN_DIR}"
  COMMAND "${PROTOC}" ${KEEL_PROTO_INCLUDES} "--cpp_out=${KEEL_PROTO_GEN_DIR}" ${_protos}
  COMMAND "${PROTOC}" ${KEEL_PROTO_INCLUDES} "--grpc_out=${KEEL_PROTO_GEN_DIR}"
          "--plugin=protoc-gen-grpc=${GRPC_CPP_PLUGIN}" ${_grpc_protos}
  DEPENDS "${CMAKE_BINARY_DIR}/envoy_closure.pb"
  COMMENT "Generating C++ for ${_count} Envoy/xDS protos"
  VERBATIM)

add_library(keel_envoy_proto STATIC ${_srcs} ${_grpc_srcs})
target_include_directories(keel_envoy_proto SYSTEM PUBLIC "${KEEL_PROTO_GEN_DIR}")
target_link_libraries(keel_envoy_proto PUBLIC protobuf::libprotobuf gRPC::grpc++)
target_compile_options(keel_envoy_proto PRIVATE -Wno-deprecated-declarations -w)
