"""PeerAuthentication and AuthorizationPolicy end to end: which inbound filter chain a connection gets, and what it runs.

keel-discovery watches a copy of examples/bookinfo plus a file of PeerAuthentications;
a SotW ADS client (grpcio, the build's Envoy messages) fetches virtualInbound as the
reviews-v1 sidecar, and `filter_chain_for` picks the chain Envoy would, as Envoy's
filter chain matching documents it (criteria in order: destination port, transport
protocol, application protocols; at each level the most specific value present among
the remaining chains wins, and only chains with that value go on; none left: the
connection is closed). reviews listens on 9080:
  - mesh-wide STRICT: a plaintext HTTP connection matches no chain, an mTLS one
    matches 0.0.0.0_9080, which terminates mTLS;
  - the file rewritten to a namespace-wide DISABLE (the watched directory pushes it):
    the plaintext connection matches a plaintext chain, the mTLS one none;
  - no policy at all: both match (PERMISSIVE, the default);
  - an AuthorizationPolicy written for reviews puts envoy.filters.http.rbac first in
    that chain's HttpConnectionManager (and network RBAC before tcp_proxy on TCP
    chains); removed, it is gone again (authz_test judges the rules themselves).
Run: KEEL_DISCOVERY_BIN=... KEEL_ENVOY_DESCRIPTORS=build/envoy_closure.pb \
    build/venv/bin/python -m pytest test/e2e/security_policy_test.py
"""

import os

import pytest
from keeltest import (envoy_descriptors, envoy_messages, keel_on_bookinfo, pick_filter_chain, reviews_virtual_inbound,
                      wait_until, write_atomically)

PLAINTEXT_HTTP = ("raw_buffer", ["http/1.1"])  # what tls_inspector and http_inspector report
MTLS_HTTP = ("tls", ["istio-http/1.1", "istio", "http/1.1"])  # an Istio sidecar's mTLS ALPNs

MESH_STRICT = """apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
"""
NAMESPACE_DISABLE = """apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: off, namespace: default}
spec: {mtls: {mode: DISABLE}}
"""


@pytest.fixture(scope="module")
def keel():
    with keel_on_bookinfo("keel-security-policy-", {"peer-authentication.yaml": MESH_STRICT}) as k:
        yield k


@pytest.fixture(scope="module")
def messages():
    path = envoy_descriptors()
    return envoy_messages(path, "envoy.service.discovery.v3.DiscoveryRequest",
                          "envoy.service.discovery.v3.DiscoveryResponse", "envoy.config.listener.v3.Listener")


def virtual_inbound(keel, messages):
    request_cls, response_cls, listener_cls = messages
    return reviews_virtual_inbound(keel, request_cls, response_cls, listener_cls)


def filter_chain_for(listener, port, transport, alpns):
    """The chain Envoy picks for a connection to `port`, or None (closed)."""
    chains = [(c, c.filter_chain_match.destination_port.value if c.filter_chain_match.HasField("destination_port")
               else None, c.filter_chain_match.transport_protocol, list(c.filter_chain_match.application_protocols))
              for c in listener.filter_chains]
    return pick_filter_chain(chains, port, transport, alpns)


def chains_for_9080(keel, messages):
    listener = virtual_inbound(keel, messages)
    return filter_chain_for(listener, 9080, *PLAINTEXT_HTTP), filter_chain_for(listener, 9080, *MTLS_HTTP)


def test_strict_refuses_plaintext_and_takes_mtls(keel, messages):
    plain, mtls = chains_for_9080(keel, messages)
    assert plain is None, f"plaintext matched {plain.name}"
    assert mtls is not None and mtls.name == "0.0.0.0_9080"
    assert mtls.transport_socket.name == "envoy.transport_sockets.tls"


def test_namespace_disable_takes_plaintext_only_once_pushed(keel, messages):
    write_atomically(os.path.join(keel.config_dir, "peer-authentication.yaml"), MESH_STRICT + "---\n" + NAMESPACE_DISABLE)
    wait_until(lambda: chains_for_9080(keel, messages)[0] is not None, 20, "a plaintext chain on 9080")
    plain, mtls = chains_for_9080(keel, messages)
    assert plain.name == "0.0.0.0_9080" and not plain.HasField("transport_socket")
    assert mtls is None, f"mTLS matched {mtls.name}"


def test_no_policy_is_permissive(keel, messages):
    os.remove(os.path.join(keel.config_dir, "peer-authentication.yaml"))
    wait_until(lambda: all(chains_for_9080(keel, messages)), 20, "both chains on 9080")
    plain, mtls = chains_for_9080(keel, messages)
    assert not plain.HasField("transport_socket") and mtls.HasField("transport_socket")


AUTHZ = """apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: viewer, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  rules: [{to: [{operation: {methods: [GET]}}]}]
"""


def first_http_filter(keel, messages, hcm_cls):
    _, mtls = chains_for_9080(keel, messages)
    hcm = hcm_cls()
    hcm.ParseFromString(mtls.filters[-1].typed_config.value)
    # Istio's peer metadata exchange comes first, as from istiod; authorization next.
    return next(f.name for f in hcm.http_filters if f.name != "istio.metadata_exchange")


def test_authorization_policy_reaches_the_inbound_chains(keel, messages):
    (hcm_cls,) = envoy_messages(envoy_descriptors(),
                                "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager")
    assert first_http_filter(keel, messages, hcm_cls) != "envoy.filters.http.rbac"
    path = os.path.join(keel.config_dir, "authz.yaml")
    write_atomically(path, AUTHZ)
    wait_until(lambda: first_http_filter(keel, messages, hcm_cls) == "envoy.filters.http.rbac", 20,
               "the RBAC filter on 0.0.0.0_9080")
    os.remove(path)
    wait_until(lambda: first_http_filter(keel, messages, hcm_cls) != "envoy.filters.http.rbac", 20,
               "the RBAC filter gone")
