# Unit tests: keel_add_gtest(...) entries, one per area. Paths are relative to test/.

# pkg/
keel_add_gtest(yaml_json_test pkg/yaml/yaml_json_test.cc LIBS keel_pkg_yaml)
keel_add_gtest(informer_test pkg/kube/informer_test.cc LIBS keel_pkg_kube)
keel_add_gtest(object_decoder_test pkg/kube/object_decoder_test.cc LIBS keel_pkg_kube)
keel_add_gtest(access_review_test pkg/kube/access_review_test.cc LIBS keel_pkg_kube)
keel_add_gtest(reconcile_queue_test pkg/kube/reconcile_queue_test.cc LIBS keel_pkg_kube)
keel_add_gtest(log_limiter_test pkg/log/log_limiter_test.cc LIBS keel_pkg_log)
keel_add_gtest(json_scan_test pkg/json/json_scan_test.cc LIBS keel_pkg_json)
keel_add_gtest(bounded_executor_test pkg/concurrency/bounded_executor_test.cc LIBS keel_pkg_concurrency)
keel_add_gtest(metrics_registry_test pkg/metrics/registry_test.cc LIBS keel_pkg_metrics)
keel_add_gtest(http_server_test pkg/http/http_server_test.cc LIBS keel_pkg_http)
keel_add_gtest(https_server_test pkg/http/https_server_test.cc LIBS keel_pkg_http keel_pkg_crypto OpenSSL::SSL OpenSSL::Crypto)
keel_add_gtest(guarded_listener_test pkg/grpc/guarded_listener_test.cc LIBS keel_pkg_grpc)

# pilot/config
keel_add_gtest(config_parser_test pilot/config/config_parser_test.cc LIBS keel_pilot_config)
keel_add_gtest(file_source_test pilot/config/file_source_test.cc LIBS keel_pilot_config)
keel_add_gtest(mesh_watcher_test pilot/config/mesh_watcher_test.cc LIBS keel_pilot_config)
keel_add_gtest(go_duration_test pilot/config/go_duration_test.cc LIBS keel_pilot_config)
keel_add_gtest(validation_webhook_test pilot/config/validation_webhook_test.cc LIBS keel_pilot_config)
keel_add_gtest(jwks_resolver_test pilot/config/jwks_resolver_test.cc LIBS keel_pilot_config keel_pkg_http keel_pkg_http_get)
keel_add_gtest(injector_watcher_test pilot/config/injector_watcher_test.cc LIBS keel_pilot_config)

# pilot/inject
keel_add_gtest(sidecar_injector_test pilot/inject/sidecar_injector_test.cc LIBS keel_pilot_inject)
keel_add_gtest(quantity_test pilot/inject/quantity_test.cc LIBS keel_pilot_inject)
keel_add_gtest(injection_webhook_test pilot/inject/webhook_test.cc LIBS keel_pilot_inject)
keel_add_gtest(injector_values_test pilot/inject/injector_values_test.cc LIBS keel_pilot_inject)

# pilot/model
keel_add_gtest(endpoint_builder_test pilot/model/endpoint_builder_test.cc LIBS keel_pilot_config)
keel_add_gtest(push_context_test pilot/model/push_context_test.cc LIBS keel_pilot_config)
keel_add_gtest(protocol_test pilot/model/protocol_test.cc LIBS keel_pilot_model)
keel_add_gtest(discovery_namespaces_test pilot/model/discovery_namespaces_test.cc LIBS keel_pilot_config)
keel_add_gtest(endpoint_index_test pilot/model/endpoint_index_test.cc LIBS keel_pilot_xds keel_pilot_config)
keel_add_gtest(sidecar_scope_test pilot/model/sidecar_scope_test.cc LIBS keel_pilot_config)
keel_add_gtest(peer_authentication_test pilot/model/peer_authentication_test.cc LIBS keel_pilot_config)
keel_add_gtest(unsupported_fields_test pilot/model/unsupported_fields_test.cc LIBS keel_pilot_config)

# pilot/networking
keel_add_gtest(grpcgen_test pilot/networking/grpcgen_test.cc LIBS keel_pilot_networking keel_pilot_config)
keel_add_gtest(sidecar_test pilot/networking/sidecar_test.cc LIBS keel_pilot_xds keel_pilot_config)
keel_add_gtest(gateway_test pilot/networking/gateway_test.cc LIBS keel_pilot_xds keel_pilot_config)
keel_add_gtest(authz_test pilot/networking/authz_test.cc LIBS keel_pilot_networking keel_pilot_config)
keel_add_gtest(jwt_authn_test pilot/networking/jwt_authn_test.cc LIBS keel_pilot_networking keel_pilot_config)
keel_add_gtest(access_log_test pilot/networking/access_log_test.cc LIBS keel_pilot_xds keel_pilot_config)
keel_add_gtest(tracing_test pilot/networking/tracing_test.cc LIBS keel_pilot_xds keel_pilot_config)

# pilot/xds
keel_add_gtest(debouncer_test pilot/xds/debouncer_test.cc LIBS keel_pilot_xds)
keel_add_gtest(delta_connection_test pilot/xds/delta_connection_test.cc LIBS keel_pilot_xds keel_pilot_config)
keel_add_gtest(xds_cache_test pilot/xds/xds_cache_test.cc LIBS keel_pilot_xds keel_pilot_config)
keel_add_gtest(xds_monitoring_test pilot/xds/monitoring_test.cc LIBS keel_pilot_xds)
keel_add_gtest(push_queue_test pilot/xds/push_queue_test.cc LIBS keel_pilot_xds)
keel_add_gtest(subscribed_names_test pilot/xds/subscribed_names_test.cc LIBS keel_pilot_xds)
keel_add_gtest(discovery_request_view_test pilot/xds/discovery_request_view_test.cc LIBS keel_pilot_xds)
keel_add_gtest(push_worker_test pilot/xds/push_worker_test.cc LIBS keel_pilot_xds keel_pilot_config)

# pilot/bootstrap
keel_add_gtest(options_test pilot/bootstrap/options_test.cc LIBS keel_pilot_bootstrap)
keel_add_gtest(incremental_push_test pilot/bootstrap/incremental_push_test.cc LIBS keel_pilot_bootstrap keel_pilot_config)

# Golden translation tests (testdata/<case>/case.yaml -> <proxy>.golden.json).
keel_add_gtest(golden_test pilot/networking/golden/golden_test.cc pilot/networking/golden/golden_util.cc
               LIBS keel_pilot_xds keel_pilot_config)
target_include_directories(golden_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/pilot/networking)
target_link_libraries(golden_test PRIVATE yaml-cpp)

# citadel/ (test_pki: roots, intermediates and CSRs built with the OpenSSL API)
add_library(keel_citadel_test_pki STATIC citadel/ca/test_pki.cc)
target_link_libraries(keel_citadel_test_pki PUBLIC keel_citadel_ca)
keel_add_gtest(cert_signer_test citadel/ca/cert_signer_test.cc LIBS keel_citadel_test_pki)
keel_add_gtest(key_cert_bundle_test citadel/ca/key_cert_bundle_test.cc LIBS keel_citadel_test_pki)
keel_add_gtest(ca_manager_test citadel/ca/ca_manager_test.cc LIBS keel_citadel_test_pki)
keel_add_gtest(token_cache_test citadel/server/token_cache_test.cc LIBS keel_citadel_server)
keel_add_gtest(ca_service_test citadel/server/ca_service_test.cc LIBS keel_citadel_server keel_citadel_test_pki)

# pilot/debug (handlers, DebugAuth) and the xDS metrics
keel_add_gtest(debug_auth_test pilot/debug/debug_auth_test.cc LIBS keel_pilot_debug)
keel_add_gtest(debug_handlers_test pilot/debug/debug_handlers_test.cc LIBS keel_pilot_debug keel_pilot_config)
keel_add_gtest(secret_redaction_test pilot/debug/secret_redaction_test.cc LIBS keel_pilot_debug)

# Leader election against the real apiserver (one ctest test: every case needs the fixture).
add_executable(leader_election_test pkg/kube/leader_election_test.cc)
target_link_libraries(leader_election_test PRIVATE keel_pkg_kube GTest::gtest GTest::gtest_main GTest::gmock)
add_test(NAME kube.leader_election COMMAND leader_election_test)
set_tests_properties(kube.leader_election PROPERTIES TIMEOUT 120)
keel_kube_test(kube.leader_election)

# The REST client's TLS against the real apiserver (tls-server-name).
add_executable(rest_client_tls_test pkg/kube/rest_client_tls_test.cc)
target_link_libraries(rest_client_tls_test PRIVATE keel_pkg_kube GTest::gtest GTest::gtest_main GTest::gmock)
add_test(NAME kube.rest_client_tls COMMAND rest_client_tls_test)
set_tests_properties(kube.rest_client_tls PROPERTIES TIMEOUT 120)
keel_kube_test(kube.rest_client_tls)
