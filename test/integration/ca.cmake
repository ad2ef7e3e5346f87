# Keel's CA against the real kube-apiserver of the `kube` fixture (see
# harness/README.md): Python pytest with grpcio, the openssl CLI and kubectl.
# include() this from test/CMakeLists.txt after harness.cmake and KEEL_PYTHON.
#
#   integration.ca          self-signed root in istio-system: issuing over TLS (not on
#                           plaintext), identity from TokenReview only, refusals (weak
#                           keys), workload mTLS, root ConfigMaps, metrics, xDS over TLS,
#                           bounds (junk-token flood, NACK codes), restart
#   integration.ca_plugged  Secret cacerts (root -> intermediate) in its own system namespace
#   integration.pilot_agent Istio's own pilot-agent (test/e2e/istio_tools) as a sidecar's
#                           and a gateway's istio-proxy: certificate from Keel's CA over
#                           its SDS socket, config through its xDS proxy, STRICT mTLS,
#                           and the proxyless grpc-agent mode routing a grpcio client
#   integration.injection   the API server calling Keel's /inject through a
#                           MutatingWebhookConfiguration: stored pods carry the sidecar,
#                           opt-outs stay untouched, bad pods are refused, failurePolicy Fail
#
# All EXCLUSIVE: each runs a Keel whose CA writes ConfigMap istio-ca-root-cert into
# every namespace; another Keel with another root at the same time would fight over them.

set(_keel_ca_env
    "KEEL_DISCOVERY_BIN=$<TARGET_FILE:keel-discovery>"
    "KEEL_PYTHON=${KEEL_PYTHON}"
    "KEEL_ENVOY_DESCRIPTORS=${CMAKE_BINARY_DIR}/envoy_closure.pb"
    "KEEL_ISTIO_API_DIR=${KEEL_ISTIO_API_DIR}")

add_test(NAME integration.ca
         COMMAND ${KEEL_PYTHON} -m pytest -p no:cacheprovider -q ${CMAKE_CURRENT_LIST_DIR}/ca_test.py
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(integration.ca PROPERTIES ENVIRONMENT "${_keel_ca_env}" TIMEOUT 300)
keel_kube_test(integration.ca EXCLUSIVE)

add_test(NAME integration.ca_plugged
         COMMAND ${KEEL_PYTHON} -m pytest -p no:cacheprovider -q ${CMAKE_CURRENT_LIST_DIR}/ca_plugged_test.py
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(integration.ca_plugged PROPERTIES ENVIRONMENT "${_keel_ca_env}" TIMEOUT 180)
keel_kube_test(integration.ca_plugged EXCLUSIVE)

add_test(NAME integration.ca_replicas
         COMMAND ${KEEL_PYTHON} -m pytest -p no:cacheprovider -q ${CMAKE_CURRENT_LIST_DIR}/ca_replicas_test.py
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(integration.ca_replicas PROPERTIES ENVIRONMENT "${_keel_ca_env}" TIMEOUT 180)
keel_kube_test(integration.ca_replicas EXCLUSIVE)

add_test(NAME integration.pilot_agent
         COMMAND ${KEEL_PYTHON} -m pytest -p no:cacheprovider -q ${CMAKE_CURRENT_LIST_DIR}/pilot_agent_test.py
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(integration.pilot_agent PROPERTIES TIMEOUT 240 ENVIRONMENT
                     "${_keel_ca_env};KEEL_PILOT_AGENT=${CMAKE_BINARY_DIR}/tools/bin/pilot-agent;KEEL_DELTA_CLIENT=${CMAKE_BINARY_DIR}/tools/bin/istio-delta-client;KEEL_TOOLS_DIR=${KEEL_TOOLS_DIR};KEEL_CHART_DIR=${KEEL_CHART_DIR}")
keel_kube_test(integration.pilot_agent EXCLUSIVE)

# The README's Bookinfo walk-through: helm install, label, Bookinfo, bookinfo-gateway;
# the gateway agent's listener and route, istioctl kube-inject both ways.
add_test(NAME integration.walkthrough
         COMMAND ${KEEL_PYTHON} -m pytest -p no:cacheprovider -q ${CMAKE_CURRENT_LIST_DIR}/walkthrough_test.py
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(integration.walkthrough PROPERTIES TIMEOUT 300 ENVIRONMENT
                     "${_keel_ca_env};KEEL_PILOT_AGENT=${CMAKE_BINARY_DIR}/tools/bin/pilot-agent;KEEL_DELTA_CLIENT=${CMAKE_BINARY_DIR}/tools/bin/istio-delta-client;KEEL_TOOLS_DIR=${KEEL_TOOLS_DIR};KEEL_CHART_DIR=${KEEL_CHART_DIR}")
keel_kube_test(integration.walkthrough EXCLUSIVE)

add_test(NAME integration.injection
         COMMAND ${KEEL_PYTHON} -m pytest -p no:cacheprovider -q ${CMAKE_CURRENT_LIST_DIR}/injection_test.py
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(integration.injection PROPERTIES TIMEOUT 240 ENVIRONMENT
                     "${_keel_ca_env};KEEL_TOOLS_DIR=${KEEL_TOOLS_DIR};KEEL_CHART_DIR=${KEEL_CHART_DIR}")
keel_kube_test(integration.injection EXCLUSIVE)
