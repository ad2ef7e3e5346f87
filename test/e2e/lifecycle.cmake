# Stream lifecycle and the gRPC listener under pressure, end to end (Python pytest).
# include() this from test/CMakeLists.txt after KEEL_PYTHON.
#
#   e2e.lifecycle   keel-discovery on a copy of examples/bookinfo: streams cancelled with a
#                   write in flight are removed, SIGTERM exits within --drain-timeout-s,
#                   descriptor exhaustion (RLIMIT_NOFILE 256) then release serves xDS again,
#                   --max-connections-per-ip closes the connection past the cap per peer IP

add_test(NAME e2e.lifecycle
         COMMAND ${KEEL_PYTHON} -m pytest -q -p no:cacheprovider ${CMAKE_CURRENT_LIST_DIR}/lifecycle_test.py
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e.lifecycle PROPERTIES
                     ENVIRONMENT "KEEL_DISCOVERY_BIN=$<TARGET_FILE:keel-discovery>"
                     TIMEOUT 240)
