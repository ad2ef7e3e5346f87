# Benchmarks: binaries that print numbers (not ctest tests). include() this from
# test/CMakeLists.txt.
#
#   ca_bench     certificates signed per second: in-process (IstioCa::Sign) and over
#                gRPC against keel-discovery; test/bench/ca_bench.sh runs it all.
add_executable(ca_bench ${CMAKE_CURRENT_LIST_DIR}/ca_bench.cc)
target_link_libraries(ca_bench PRIVATE keel_citadel_ca keel_config_proto gRPC::grpc++)

#   xds_push_bench  one endpoint change in an N-service mesh: the EDS response a
#                   SotW and a Delta stream get (bytes, resources, latency)
add_executable(xds_push_bench ${CMAKE_CURRENT_LIST_DIR}/xds_push_bench.cc)
target_link_libraries(xds_push_bench PRIVATE keel_pilot_xds keel_pilot_config GTest::gtest)  # configs.h asserts
target_include_directories(xds_push_bench PRIVATE ${PROJECT_SOURCE_DIR})

#   xds_cache_bench  one VirtualService change in an N-service mesh: the push's
#                    generation with the cross-push XdsCache warm against cold
add_executable(xds_cache_bench ${CMAKE_CURRENT_LIST_DIR}/xds_cache_bench.cc)
target_link_libraries(xds_cache_bench PRIVATE keel_pilot_xds keel_pilot_config GTest::gtest)  # configs.h asserts
target_include_directories(xds_cache_bench PRIVATE ${PROJECT_SOURCE_DIR})
