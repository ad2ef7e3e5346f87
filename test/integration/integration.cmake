# Integration tests: keel-discovery against the real kube-apiserver + etcd of
# test/harness (the `kube` fixture), driven with kubectl and real proxyless gRPC
# clients (@grpc/grpc-js-xds). include() this from test/CMakeLists.txt after
# harness.cmake. See README.md beside this file.
#
# keel_integration_test(NAME TIMEOUT [EXCLUSIVE]): test/integration/NAME.test.js
# as ctest test integration.NAME. EXCLUSIVE: the test stops/restarts the shared
# apiserver, compacts etcd or deletes the CRDs, so nothing else may run meanwhile.

find_program(NODE node REQUIRED)

function(keel_integration_test name timeout)
  cmake_parse_arguments(ARG "EXCLUSIVE" "" "" ${ARGN})
  add_test(NAME integration.${name}
           COMMAND ${NODE} --test ${CMAKE_CURRENT_LIST_DIR}/${name}.test.js
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(integration.${name} PROPERTIES
                       ENVIRONMENT "KEEL_DISCOVERY_BIN=$<TARGET_FILE:keel-discovery>;KEEL_DELTA_CLIENT=${CMAKE_BINARY_DIR}/tools/bin/istio-delta-client"
                       TIMEOUT ${timeout})
  if(ARG_EXCLUSIVE)
    keel_kube_test(integration.${name} EXCLUSIVE)
  else()
    keel_kube_test(integration.${name})
  endif()
endfunction()

keel_integration_test(kube_watch 180)                 # CRDs; configz follows CRUD of every watched kind
keel_integration_test(kube_xds 120)                   # xDS follows kubectl (grpc-js-xds routed by a VirtualService)
keel_integration_test(kube_kinds 180)                 # one object of every Istio kind: stored, translated ones in xDS
keel_integration_test(kube_mesh_config 180)           # ConfigMap istio changed under a connected sidecar: REGISTRY_ONLY, trust domain, discoverySelectors
keel_integration_test(kube_invalid 120)               # a bad RE2 regex from the API server is skipped
keel_integration_test(kube_skipped 180)               # a deep status / an oversized object stops no kind
keel_integration_test(kube_parity 120)                # --config-dir and --kubeconfig give identical xDS
keel_integration_test(kube_resilience 300 EXCLUSIVE)  # apiserver down, writes via a second one, converge
keel_integration_test(kube_gone 300 EXCLUSIVE)        # compaction while disconnected: 410 -> relist
keel_integration_test(kube_exec_plugin 300 EXCLUSIVE) # exec credential plugin, cached, refreshed
keel_integration_test(kube_crd_late 300 EXCLUSIVE)    # CRDs installed after keel started
