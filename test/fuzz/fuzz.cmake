# libFuzzer targets (test/fuzz/README.md): a separate clang build tree,
# <build>/fuzz (test/fuzz/CMakeLists.txt), linking the generated protos of this
# build, and one bounded ctest run per fuzzer over a copy of its seed corpus.
# The fuzzers build in the test run (fuzz.build), not in `all`, so
# `scripts/dev.sh run` does not wait for them.
option(KEEL_FUZZ "Build the libFuzzer targets with clang and run them in ctest" ON)
if(NOT KEEL_FUZZ)
  return()
endif()

find_program(KEEL_FUZZ_CXX NAMES clang++-14 clang++)
if(NOT KEEL_FUZZ_CXX)
  message(FATAL_ERROR "KEEL_FUZZ needs clang++ and libFuzzer (Debian: clang-14 libclang-rt-14-dev, which "
                      "scripts/dev.sh installs); or configure with -DKEEL_FUZZ=OFF")
endif()
set(KEEL_FUZZ_SECONDS 30 CACHE STRING "How long ctest runs each fuzzer")

include(ExternalProject)
ExternalProject_Add(keel_fuzzers
  SOURCE_DIR "${CMAKE_CURRENT_SOURCE_DIR}/fuzz"
  BINARY_DIR "${CMAKE_BINARY_DIR}/fuzz"
  CMAKE_ARGS -DCMAKE_CXX_COMPILER=${KEEL_FUZZ_CXX}
             -DKEEL_SOURCE_DIR=${PROJECT_SOURCE_DIR}
             -DKEEL_PROTO_GEN_DIR=${KEEL_PROTO_GEN_DIR}
             -DKEEL_ENVOY_PROTO_LIB=$<TARGET_FILE:keel_envoy_proto>
             -DKEEL_ISTIO_API_PROTO_LIB=$<TARGET_FILE:keel_istio_api_proto>
             -DKEEL_CONFIG_PROTO_LIB=$<TARGET_FILE:keel_config_proto>
             -DKEEL_PYTHON=${KEEL_PYTHON}
             -DKEEL_ISTIO_API_DIR=${KEEL_ISTIO_API_DIR}
  INSTALL_COMMAND ""
  BUILD_ALWAYS ON
  EXCLUDE_FROM_ALL ON
  DEPENDS keel_envoy_proto keel_istio_api_proto keel_config_proto)

add_test(NAME fuzz.build COMMAND ${CMAKE_COMMAND} --build ${CMAKE_BINARY_DIR} --target keel_fuzzers)
set_tests_properties(fuzz.build PROPERTIES FIXTURES_SETUP keel_fuzzers TIMEOUT 1800)

foreach(_target yaml_json config xds_request)
  add_test(NAME fuzz.${_target}
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/run_fuzzer.sh ${CMAKE_BINARY_DIR}/fuzz/${_target}_fuzzer
                   ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/${_target} ${KEEL_FUZZ_SECONDS})
  set_tests_properties(fuzz.${_target} PROPERTIES FIXTURES_REQUIRED keel_fuzzers
                       ENVIRONMENT "KEEL_FUZZ_ARTIFACTS=${CMAKE_BINARY_DIR}/fuzz/artifacts/${_target}"
                       TIMEOUT 300)
endforeach()
