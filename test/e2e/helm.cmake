# The Helm chart (manifests/charts/keel) with the real helm/kubectl, and the
# Dockerfile's runtime package list. include() this from test/CMakeLists.txt after
# harness.cmake (keel_kube_test) and KEEL_PYTHON.
#
#   e2e.helm.chart        helm lint, template vs golden files, schema errors, CRDs = Istio's
#   e2e.helm.install      helm install/upgrade/uninstall on the `kube` fixture's API server;
#                         keel-discovery with the chart's ServiceAccount token (RBAC enough,
#                         and not too broad)
#   e2e.dockerfile_runtime  the runtime stage installs exactly what `ldd keel-discovery` needs

set(KEEL_TOOLS_DIR "${CMAKE_BINARY_DIR}/tools/bin" CACHE PATH
    "helm and kubectl (scripts/dev.sh extracts them from the pinned npm layer)")

set(_keel_helm_env
    "KEEL_TOOLS_DIR=${KEEL_TOOLS_DIR}"
    "KEEL_DISCOVERY_BIN=$<TARGET_FILE:keel-discovery>"
    "KEEL_PYTHON=${KEEL_PYTHON}"
    "KEEL_CHART_DIR=${KEEL_CHART_DIR}"
    "KEEL_ISTIO_API_DIR=${KEEL_ISTIO_API_DIR}"
    "KEEL_KINDS_JSON=${KEEL_KINDS_JSON}")

add_test(NAME e2e.helm.chart
         COMMAND ${KEEL_PYTHON} -m pytest -p no:cacheprovider -q
                 ${CMAKE_CURRENT_LIST_DIR}/helm_chart_test.py::TestChart
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e.helm.chart PROPERTIES ENVIRONMENT "${_keel_helm_env}" TIMEOUT 120)

add_test(NAME e2e.helm.install
         COMMAND ${KEEL_PYTHON} -m pytest -p no:cacheprovider -q
                 ${CMAKE_CURRENT_LIST_DIR}/helm_chart_test.py::TestInstall
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e.helm.install PROPERTIES ENVIRONMENT "${_keel_helm_env}" TIMEOUT 300)
# EXCLUSIVE: it installs cluster-wide objects (CRDs, ClusterRole) and runs a Keel
# whose CA writes ConfigMap istio-ca-root-cert into every namespace; another Keel
# running at the same time would fight over those ConfigMaps.
keel_kube_test(e2e.helm.install EXCLUSIVE)

add_test(NAME e2e.dockerfile_runtime
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/dockerfile_runtime_test.sh $<TARGET_FILE:keel-discovery>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e.dockerfile_runtime PROPERTIES TIMEOUT 60)
