# Benchmarks: binaries that print numbers (not ctest tests). include() this from
# test/CMakeLists.txt.
#
#   ca_bench     certificates signed per second: in-process (IstioCa::Sign) and over
#                gRPC against keel-discovery; test/bench/ca_bench.sh runs it all.
add_executable(ca_bench ${CMAKE_CURRENT_LIST_DIR}/ca_bench.cc)
target_link_libraries(ca_bench PRIVATE keel_citadel_ca keel_config_proto gRPC::grpc++)
