# istiod's /debug/* endpoints and Prometheus metrics, end to end (Python pytest).
# include() this from test/CMakeLists.txt after harness.cmake and KEEL_PYTHON.
#
#   e2e.debug        keel-discovery on a copy of examples/bookinfo with a real xDS client
#                    (grpcio's xds:///): every endpoint's shape and content, error cases,
#                    401 for non-local requests without a cluster, /metrics parsed by
#                    prometheus_client (pushes, NACKs, convergence after an edit, process_*)
#   e2e.debug_auth   the same endpoints in --kubeconfig mode against the `kube` fixture:
#                    TokenReview of `kubectl create token` tokens for non-local requests,
#                    403 for identities outside the system namespace, no Secret data in
#                    configz and no private key in config_dump (SDS to a gateway proxy).
#                    EXCLUSIVE: its CA writes ConfigMap istio-ca-root-cert into every
#                    namespace, as the integration.ca* tests' CAs do.

add_test(NAME e2e.debug
         COMMAND ${KEEL_PYTHON} -m pytest -q -p no:cacheprovider ${CMAKE_CURRENT_LIST_DIR}/debug_test.py
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e.debug PROPERTIES
                     ENVIRONMENT "KEEL_DISCOVERY_BIN=$<TARGET_FILE:keel-discovery>"
                     TIMEOUT 120)

add_test(NAME e2e.debug_auth
         COMMAND ${KEEL_PYTHON} -m pytest -q -p no:cacheprovider ${CMAKE_CURRENT_LIST_DIR}/debug_auth_test.py
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e.debug_auth PROPERTIES
                     ENVIRONMENT "KEEL_DISCOVERY_BIN=$<TARGET_FILE:keel-discovery>;KEEL_ENVOY_DESCRIPTORS=${CMAKE_BINARY_DIR}/envoy_closure.pb"
                     TIMEOUT 120)
keel_kube_test(e2e.debug_auth EXCLUSIVE)
