# The real kube-apiserver + etcd as a ctest fixture (see README.md beside this file).
# include() this from test/CMakeLists.txt. The binaries must already be built
# (`test/harness/kube-harness.sh build`: a cold kube-apiserver build is ~20 min on
# 2 cores, so set-up/CI does it once, before ctest).
#
# A test that needs the API server:
#   keel_kube_test(my_test)      # FIXTURES_REQUIRED kube + KUBECONFIG etc. in its environment
#
# All such tests share one apiserver (DIR = ${KEEL_KUBE_DIR}), started fresh by
# kube.harness.start and stopped by kube.harness.stop. A test that stops the
# apiserver or compacts etcd should pass EXCLUSIVE (RUN_SERIAL) so no other test
# runs during the outage, and must leave the apiserver running when it ends.

set(KEEL_KUBE_HARNESS ${CMAKE_CURRENT_LIST_DIR}/kube-harness.sh)
set(KEEL_KUBE_DIR ${CMAKE_BINARY_DIR}/kube-harness)

add_test(NAME kube.harness.start
         COMMAND bash -c "\"$0\" clean \"$1\" && \"$0\" start \"$1\"" ${KEEL_KUBE_HARNESS} ${KEEL_KUBE_DIR})
set_tests_properties(kube.harness.start PROPERTIES FIXTURES_SETUP kube TIMEOUT 120)

add_test(NAME kube.harness.stop COMMAND ${KEEL_KUBE_HARNESS} stop ${KEEL_KUBE_DIR})
set_tests_properties(kube.harness.stop PROPERTIES FIXTURES_CLEANUP kube TIMEOUT 60)

# The harness's own check: its own apiserver in its own DIR (it stops/restarts and
# compacts, so it does not share the fixture).
add_test(NAME kube.harness.selftest
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/selftest.sh ${CMAKE_BINARY_DIR}/kube-harness-selftest)
set_tests_properties(kube.harness.selftest PROPERTIES TIMEOUT 300)

# keel_kube_test(NAME [EXCLUSIVE]): NAME (an existing test) runs against the fixture.
function(keel_kube_test name)
  cmake_parse_arguments(ARG "EXCLUSIVE" "" "" ${ARGN})
  set_property(TEST ${name} APPEND PROPERTY FIXTURES_REQUIRED kube)
  set_property(TEST ${name} APPEND PROPERTY ENVIRONMENT
               "KUBECONFIG=${KEEL_KUBE_DIR}/kubeconfig"
               "KEEL_KUBE_DIR=${KEEL_KUBE_DIR}"
               "KEEL_KUBE_HARNESS=${KEEL_KUBE_HARNESS}"
               "KEEL_KINDS_JSON=${KEEL_KINDS_JSON}"
               "KEEL_ISTIO_CRDS=${KEEL_CHART_DIR}/crds/crd-all.gen.yaml")
  if(ARG_EXCLUSIVE)
    set_property(TEST ${name} PROPERTY RUN_SERIAL TRUE)
  endif()
endfunction()
