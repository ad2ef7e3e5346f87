"""RequestAuthentication end to end: the key set Keel fetches, inlines and refreshes.

A JWKS server of the test's own (Python's http.server on 127.0.0.1) serves the public
half of an RSA key made here; keel-discovery watches a copy of examples/bookinfo plus a
RequestAuthentication for reviews whose jwksUri points at it (--jwks-refresh-interval 1s).
A SotW ADS client (grpcio, the build's Envoy messages) reads virtualInbound as the
reviews-v1 sidecar:
  - its HTTP chains start with envoy.filters.http.jwt_authn; once Keel has fetched the
    set, the provider's inline JWKS is the one served, and a token signed with the
    private key verifies against exactly that inline set with PyJWT (a token signed
    with another key does not);
  - the server rotates to a new key: within the refresh, the inline set follows;
  - the server fails (HTTP 500): the last good set stays;
  - the file removed: the filter is gone;
  - /metrics counts the fetches (istiod's pilot_jwks_resolver_network_fetch_*).
Run: KEEL_DISCOVERY_BIN=... KEEL_ENVOY_DESCRIPTORS=build/envoy_closure.pb \
    build/venv/bin/python -m pytest test/e2e/request_authentication_test.py
"""

import http.server
import json
import os
import threading

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from keeltest import envoy_descriptors, envoy_messages, keel_on_bookinfo, reviews_virtual_inbound, wait_until, write_atomically

ISSUER = "https://auth.example.com"
JWT_FILTER = "envoy.filters.http.jwt_authn"


def key_set(private_key, kid):
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()))
    jwk.update(kid=kid, alg="RS256", use="sig")
    return json.dumps({"keys": [jwk]})


class JwksServer:
    """Serves `keys` at /keys with `status`; counts the GETs."""

    def __init__(self):
        self.keys, self.status, self.fetches = "", 200, 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                server.fetches += 1
                body = server.keys.encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/keys"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def request_authentication(jwks_uri):
    return f"""apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {{name: reviews-jwt, namespace: default}}
spec:
  selector: {{matchLabels: {{app: reviews}}}}
  jwtRules: [{{issuer: "{ISSUER}", jwksUri: "{jwks_uri}", audiences: [bookinfo]}}]
"""


@pytest.fixture(scope="module")
def keys():
    return {name: rsa.generate_private_key(public_exponent=65537, key_size=2048) for name in ("v1", "v2", "other")}


@pytest.fixture(scope="module")
def server(keys):
    s = JwksServer()
    s.keys = key_set(keys["v1"], "v1")
    yield s
    s.close()


@pytest.fixture(scope="module")
def keel(server):
    with keel_on_bookinfo("keel-request-authn-", {"request-authentication.yaml": request_authentication(server.url)},
                          args=["--jwks-refresh-interval", "1s"]) as k:
        yield k


@pytest.fixture(scope="module")
def messages():
    return envoy_messages(envoy_descriptors(), "envoy.service.discovery.v3.DiscoveryRequest",
                          "envoy.service.discovery.v3.DiscoveryResponse", "envoy.config.listener.v3.Listener",
                          "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                          "envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication")


def jwt_configs(keel, messages):
    """The JwtAuthentication of every HTTP chain of reviews' virtualInbound ([] if none has the filter)."""
    request_cls, response_cls, listener_cls, hcm_cls, jwt_cls = messages
    listener = reviews_virtual_inbound(keel, request_cls, response_cls, listener_cls)
    out = []
    for chain in listener.filter_chains:
        last = chain.filters[-1]
        if last.name != "envoy.filters.network.http_connection_manager":
            continue
        hcm = hcm_cls()
        hcm.ParseFromString(last.typed_config.value)
        # After Istio's peer metadata exchange, as from istiod.
        first = next(f for f in hcm.http_filters if f.name != "istio.metadata_exchange")
        if first.name == JWT_FILTER:
            config = jwt_cls()
            config.ParseFromString(first.typed_config.value)
            out.append(config)
    return out


def inline_keys(keel, messages):
    """The inline JWKS of origins-0 on every HTTP chain, if all chains agree; else None."""
    sets = {c.providers["origins-0"].local_jwks.inline_string for c in jwt_configs(keel, messages)}
    return sets.pop() if len(sets) == 1 else None


def verifies(inline_jwks, private_key, kid):
    token = jwt.encode({"iss": ISSUER, "sub": "alice", "aud": "bookinfo"}, private_key, algorithm="RS256",
                       headers={"kid": kid})
    key_set_ = jwt.PyJWKSet.from_json(inline_jwks)
    try:
        signing = next(k for k in key_set_.keys if k.key_id == kid)
        jwt.decode(token, signing.key, algorithms=["RS256"], audience="bookinfo", issuer=ISSUER)
        return True
    except (StopIteration, jwt.InvalidTokenError):
        return False


def test_the_fetched_key_set_is_inlined_and_verifies_a_token_signed_with_its_key(keel, server, keys, messages):
    configs = wait_until(lambda: jwt_configs(keel, messages), 20, "jwt_authn on reviews' HTTP chains")
    provider = configs[0].providers["origins-0"]
    assert provider.issuer == ISSUER and list(provider.audiences) == ["bookinfo"]
    served = server.keys
    inline = wait_until(lambda: inline_keys(keel, messages) == served and served, 20, "the served key set inlined")
    assert verifies(inline, keys["v1"], "v1")
    assert not verifies(inline, keys["other"], "v1"), "a token signed with another key must not verify"


def test_a_rotated_key_set_follows_within_the_refresh(keel, server, keys, messages):
    server.keys = key_set(keys["v2"], "v2")
    inline = wait_until(lambda: inline_keys(keel, messages) == server.keys and server.keys, 20, "the rotated set")
    assert verifies(inline, keys["v2"], "v2") and not verifies(inline, keys["v1"], "v1")


def test_a_failing_server_leaves_the_last_good_set(keel, server, messages):
    good = server.keys
    server.status, server.keys = 500, "down"
    before = server.fetches
    wait_until(lambda: server.fetches >= before + 1, 20, "a failed refresh (the next one is a minute later, as istiod)")
    assert inline_keys(keel, messages) == good
    status, metrics = keel.get("/metrics")
    assert status == 200
    assert "pilot_jwks_resolver_network_fetch_fail_total" in metrics
    assert "pilot_jwks_resolver_network_fetch_success_total" in metrics
    server.status, server.keys = 200, good


def test_removing_the_policy_removes_the_filter(keel, messages):
    os.remove(os.path.join(keel.config_dir, "request-authentication.yaml"))
    wait_until(lambda: not jwt_configs(keel, messages), 20, "jwt_authn gone")


def test_a_policy_with_an_unreachable_key_set_refuses_every_token(keel, keys, messages):
    write_atomically(os.path.join(keel.config_dir, "request-authentication.yaml"),
                     request_authentication("http://127.0.0.1:1/keys"))
    inline = wait_until(lambda: inline_keys(keel, messages), 20, "jwt_authn back")
    assert not verifies(inline, keys["v1"], "v1")
    assert "kty" in inline and "kid" not in inline, "istiod's public-only set"
