"""Keel's CA (istio.v1.auth.IstioCertificateService) against the real kube-apiserver.

keel-discovery runs with --kubeconfig (the `kube` fixture), its root of trust in
Secret istio-system/istio-ca-secret. Workloads are ServiceAccounts; their tokens come
from `kubectl create token --audience istio-ca`; Keel reviews them with TokenReview.

Run: ctest -R integration.ca (with the `kube` fixture), or by hand against any harness DIR:
  eval "$(test/harness/kube-harness.sh env DIR)"; KEEL_KUBE_DIR=DIR KEEL_KUBE_HARNESS=test/harness/kube-harness.sh \
  KEEL_DISCOVERY_BIN=build/pilot/keel-discovery KEEL_ENVOY_DESCRIPTORS=build/envoy_closure.pb \
  build/venv/bin/python -m pytest test/integration/ca_test.py
"""

import calendar
import collections
import os
import re
import shutil
import subprocess
import tempfile
import time

import grpc
import pytest

from ca_testlib import (
    Envoy, Keel, TlsPeer, apply, ca_api, cert_fingerprint, cert_sans, cert_text, corrupt_csr_signature, create_certificate,
    create_token, ensure_namespace, exists, jwt_parts, kubectl, kubectl_json, make_csr, new_key, openssl,
    plaintext_channel, root_from_configmap, rpc_error, secret_field, self_signed_cert, sign_jwt, split_pem, suffix,
    task_count, tls_channel, verify_chain, wait_until, write,
)

SYSTEM_NS = "istio-system"
TRUST_DOMAIN = "cluster.local"


class Ctx:
    pass


@pytest.fixture(scope="module")
def ctx(request):
    c = Ctx()
    c.tmp = tempfile.mkdtemp(prefix="keel-ca-test-")
    c.ns = f"ca-{suffix()}"
    ensure_namespace(SYSTEM_NS)
    assert not exists("secret", "cacerts", SYSTEM_NS), f"{SYSTEM_NS}/cacerts exists: this test needs a self-signed root"
    secret_existed = exists("secret", "istio-ca-secret", SYSTEM_NS)
    ensure_namespace(c.ns)
    for sa in ("a", "b", "gone"):
        kubectl("create", "serviceaccount", sa, "-n", c.ns)
    c.keel = Keel(c.tmp)
    c.keel.start()
    # The roots as stored (a ConfigMap left by an earlier run may hold another root until Keel repairs it).
    c.root = secret_field(SYSTEM_NS, "istio-ca-secret", "root-cert.pem")
    wait_until(lambda: root_from_configmap(SYSTEM_NS) == c.root, 20, f"ConfigMap {SYSTEM_NS}/istio-ca-root-cert")
    c.root_file = write(os.path.join(c.tmp, "root.pem"), c.root)
    c.tls = tls_channel(c.keel.secure_port, c.root)
    c.plain = plaintext_channel(c.keel.grpc_port)
    yield c
    failed = request.session.testsfailed > 0
    c.tls.close()
    c.plain.close()
    c.keel.stop()
    kubectl("delete", "namespace", c.ns, "--wait=false", check=False)  # stays Terminating without a controller-manager
    if not secret_existed:
        kubectl("delete", "secret", "istio-ca-secret", "-n", SYSTEM_NS, "--ignore-not-found", check=False)
        kubectl("delete", "configmap", "-A", "--field-selector", "metadata.name=istio-ca-root-cert", check=False)
    if not failed:
        shutil.rmtree(c.tmp, ignore_errors=True)
    else:
        print(f"kept {c.tmp} (keel logs)")


def spiffe(ns, sa):
    return f"spiffe://{TRUST_DOMAIN}/ns/{ns}/sa/{sa}"


def issue(c, sa, channel=None, key_type="ec", validity=0, sans=None):
    """(chain, key path) for ServiceAccount `sa`, through `channel` (TLS by default)."""
    key = new_key(os.path.join(c.tmp, f"{sa}-{suffix()}.key"), key_type)
    csr = make_csr(key, sans=sans if sans is not None else [f"URI:{spiffe('istio-system', 'istiod')}", "DNS:evil.example"])
    chain = create_certificate(c.tmp, channel or c.tls, create_token(sa, c.ns), csr, validity)
    return chain, key


def delta(before, after, name):
    return after.get(name, 0) - before.get(name, 0)


# ---------------------------------------------------------------------------------------------
# The root of trust
# ---------------------------------------------------------------------------------------------
def test_root_is_persisted_in_the_secret_and_published(ctx):
    assert secret_field(SYSTEM_NS, "istio-ca-secret", "ca-cert.pem") == split_pem(ctx.root)[0]
    assert root_from_configmap(SYSTEM_NS) == ctx.root
    text = cert_text(ctx.root)
    assert "CA:TRUE" in text
    assert re.search(r"Subject: O\s*=\s*cluster.local", text), text


def test_serving_certificate_is_for_istiod_and_issued_by_the_root(ctx):
    # The TLS channel verified the server against the root and the name istiod.istio-system.svc
    # (a handshake failure would be UNAVAILABLE); the served chain also checks out with openssl.
    serving = os.path.join(ctx.tmp, "serving-istio-system", "cert-chain.pem")
    with open(serving) as f:
        chain = split_pem(f.read())
    assert "DNS:istiod.istio-system.svc" in cert_sans(chain[0])
    assert verify_chain(ctx.tmp, chain, ctx.root).returncode == 0
    # A client that trusts another root must not get through the handshake.
    _, other = self_signed_cert(ctx.tmp, "stranger-root")
    with open(other) as f:
        channel = tls_channel(ctx.keel.secure_port, f.read())
    try:
        key = new_key(os.path.join(ctx.tmp, "x.key"))
        code, details = rpc_error(lambda: create_certificate(ctx.tmp, channel, create_token("a", ctx.ns), make_csr(key),
                                                             timeout=5))
        assert code == grpc.StatusCode.UNAVAILABLE, details
    finally:
        channel.close()


# ---------------------------------------------------------------------------------------------
# Issuing
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key_type", ["ec", "rsa"])
def test_certificate_over_tls_has_the_callers_identity_only(ctx, key_type):
    before = ctx.keel.metrics()
    chain, _ = issue(ctx, "a", key_type=key_type)
    assert len(chain) == 2, "leaf, root"
    assert chain[-1] == split_pem(ctx.root)[0]
    assert cert_sans(chain[0]) == [f"URI:{spiffe(ctx.ns, 'a')}"], "exactly the caller's SPIFFE ID; CSR SANs ignored"
    text = cert_text(chain[0])
    assert re.search(r"Subject:\s*\n", text), "empty subject (the CSR's O/CN ignored)"
    assert "CA:FALSE" in text
    assert "Digital Signature, Key Encipherment" in text
    assert "TLS Web Server Authentication, TLS Web Client Authentication" in text
    v = verify_chain(ctx.tmp, chain, ctx.root)
    assert v.returncode == 0 and v.stdout.strip().endswith(": OK"), v.stdout + v.stderr
    after = ctx.keel.metrics()
    assert delta(before, after, "citadel_server_csr_count") == 1
    assert delta(before, after, "citadel_server_success_cert_issuance_count") == 1


def test_mesh_trust_domain_names_the_issued_identity(ctx):
    """MeshConfig trustDomain (ConfigMap istio, key mesh) is the domain of the SPIFFE IDs the CA
    issues, changed at runtime; without the ConfigMap, --trust-domain (cluster.local)."""
    mesh = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "istio", "namespace": SYSTEM_NS},
            "data": {"mesh": "trustDomain: corp.example\n"}}
    assert not exists("configmap", "istio", SYSTEM_NS), f"{SYSTEM_NS}/istio exists: this test owns the mesh config"
    sans = lambda: cert_sans(issue(ctx, "a")[0][0])  # noqa: E731
    try:
        apply(mesh)
        wait_until(lambda: sans() == [f"URI:spiffe://corp.example/ns/{ctx.ns}/sa/a"], 15, "a corp.example identity", interval=0.5)
    finally:
        kubectl("delete", "configmap", "istio", "-n", SYSTEM_NS, "--ignore-not-found")
    wait_until(lambda: sans() == [f"URI:{spiffe(ctx.ns, 'a')}"], 15, "the cluster.local identity again", interval=0.5)


def test_ca_is_not_served_on_the_plaintext_port(ctx):
    # istiod serves the CA on 15012 only: a bearer token must not travel in cleartext.
    before = ctx.keel.metrics()
    key = new_key(os.path.join(ctx.tmp, "plain.key"))
    code, details = rpc_error(lambda: create_certificate(ctx.tmp, ctx.plain, create_token("b", ctx.ns), make_csr(key)))
    assert code == grpc.StatusCode.UNIMPLEMENTED, details
    assert "TLS port only" in details, details
    assert delta(before, ctx.keel.metrics(), "citadel_server_csr_count") == 0


def test_token_for_b_never_yields_identity_a(ctx):
    # b's token, a CSR asking for a's identity: the certificate still says b.
    chain, _ = issue(ctx, "b", sans=[f"URI:{spiffe(ctx.ns, 'a')}"])
    assert cert_sans(chain[0]) == [f"URI:{spiffe(ctx.ns, 'b')}"]


def test_requested_validity_is_honoured_and_default_is_24h(ctx):
    for validity, expected in ((3600, 3600), (0, 24 * 3600)):
        now = time.time()
        chain, _ = issue(ctx, "a", validity=validity)
        not_after = openssl_enddate(chain[0])
        assert abs(not_after - (now + expected)) < 30, (validity, not_after - now)


def openssl_enddate(pem):
    out = openssl("x509", "-noout", "-enddate", "-dateopt", "iso_8601", input=pem).stdout.strip()
    stamp = out.split("=", 1)[1]  # 2026-11-26 16:20:26Z
    return calendar.timegm(time.strptime(stamp, "%Y-%m-%d %H:%M:%SZ"))


# ---------------------------------------------------------------------------------------------
# Mutual TLS between two workloads with issued certificates (openssl s_server / s_client)
# ---------------------------------------------------------------------------------------------
def test_mutual_tls_between_workloads(ctx):
    a_chain, a_key = issue(ctx, "a")
    b_chain, b_key = issue(ctx, "b")
    a = write(os.path.join(ctx.tmp, "a.pem"), a_chain[0])
    b = write(os.path.join(ctx.tmp, "b.pem"), b_chain[0])
    server = TlsPeer(a, a_key, ctx.root_file)
    rc, client_out = server.connect(b, b_key, ctx.root_file)
    server_out = server.close()
    assert rc == 0, client_out
    assert "Verify return code: 0 (ok)" in client_out, client_out  # b verified a
    assert "verify error" not in server_out and "Client certificate" in server_out, server_out  # a verified b
    assert re.search(r"depth=0\s*\nverify return:1", server_out), server_out


def test_mutual_tls_fails_with_a_certificate_from_another_root(ctx):
    a_chain, a_key = issue(ctx, "a")
    a = write(os.path.join(ctx.tmp, "a2.pem"), a_chain[0])
    stranger_key, stranger = self_signed_cert(ctx.tmp, "stranger")
    # A client with a certificate the mesh root did not issue: the server rejects it.
    server = TlsPeer(a, a_key, ctx.root_file)
    _, client_out = server.connect(stranger, stranger_key, ctx.root_file)
    server_out = server.close()
    assert "verify error" in server_out and "Client certificate" not in server_out, server_out
    # A server with such a certificate: the client rejects it.
    server = TlsPeer(stranger, stranger_key, ctx.root_file)
    rc, client_out = server.connect(a, a_key, ctx.root_file)
    server.close()
    assert rc != 0, client_out
    assert re.search(r"Verify return code: (18|19|20|21) ", client_out), client_out


# ---------------------------------------------------------------------------------------------
# Refusals
# ---------------------------------------------------------------------------------------------
def resigned_token(c, issued_at, lifetime=3600):
    """A real token for `a`, re-dated to `issued_at` and re-signed with the cluster's own
    service-account key (the harness's pki/sa.key); None without the harness's files."""
    kube_dir = os.environ.get("KEEL_KUBE_DIR")
    key = os.path.join(kube_dir or "", "pki", "sa.key")
    if not kube_dir or not os.path.exists(key):
        return None
    header, payload = jwt_parts(create_token("a", c.ns))
    payload["iat"] = payload["nbf"] = int(issued_at)
    payload["exp"] = int(issued_at) + lifetime
    return sign_jwt(header, payload, key)


def expired_token(c):
    """Expired two hours ago (beyond any clock-skew leeway), otherwise valid: the same
    re-signing with a current date is accepted (checked below), so only the date fails."""
    fresh = resigned_token(c, time.time() - 60)
    if fresh is None:
        return None
    key = new_key(os.path.join(c.tmp, "resign-check.key"))
    assert create_certificate(c.tmp, c.tls, fresh, make_csr(key)), "a re-signed current token is accepted"
    return resigned_token(c, time.time() - 3 * 3600)


def forged_token(c):
    """Same claims as a real token for `a`, signed by a key the API server never saw."""
    header, payload = jwt_parts(create_token("a", c.ns))
    return sign_jwt(header, payload, new_key(os.path.join(c.tmp, "forger.key"), "rsa"))


def test_bad_tokens_are_unauthenticated(ctx):
    key = new_key(os.path.join(ctx.tmp, "bad-token.key"))
    csr = make_csr(key)

    # A token for a ServiceAccount that is deleted afterwards.
    gone = create_token("gone", ctx.ns)
    kubectl("delete", "serviceaccount", "gone", "-n", ctx.ns)
    # A token bound to a Secret that is deleted afterwards.
    bound_secret = f"bound-{suffix()}"
    kubectl("create", "secret", "generic", bound_secret, "-n", ctx.ns, "--from-literal=k=v")
    bound = create_token("a", ctx.ns, "istio-ca", "--bound-object-kind", "Secret", "--bound-object-name", bound_secret)
    assert create_certificate(ctx.tmp, ctx.tls, bound, csr), "bound token valid while the Secret exists"
    kubectl("delete", "secret", bound_secret, "-n", ctx.ns)

    cases = {
        "no token": None,
        "not a JWT": "garbage",
        "forged": forged_token(ctx),
        "wrong audience": create_token("a", ctx.ns, "other"),
        "deleted ServiceAccount": gone,
        "bound Secret deleted": bound,
    }
    expired = expired_token(ctx)
    if expired:
        cases["expired"] = expired
    # Deletions take effect after the API server's token cache (successes are cached 10 s,
    # and the bound token was just used): wait for each to be refused, then count exactly.
    for what, token in cases.items():
        def rejected():
            code, _ = rpc_error(lambda: create_certificate(ctx.tmp, ctx.tls, token, csr))
            return code == grpc.StatusCode.UNAUTHENTICATED
        wait_until(rejected, 20, f"{what}: UNAUTHENTICATED", interval=0.5)
    before = ctx.keel.metrics()
    for what, token in cases.items():
        code, details = rpc_error(lambda: create_certificate(ctx.tmp, ctx.tls, token, csr))
        assert code == grpc.StatusCode.UNAUTHENTICATED, (what, code, details)
        assert details, what
        print(f"{what}: {details}")
    after = ctx.keel.metrics()
    assert expired, "the harness's service-account key (KEEL_KUBE_DIR/pki/sa.key) is needed for an expired token"
    assert delta(before, after, "citadel_server_csr_count") == len(cases)
    assert delta(before, after, "citadel_server_authentication_failure_count") == len(cases)
    assert delta(before, after, "citadel_server_success_cert_issuance_count") == 0


def test_wrong_audience_names_the_reason(ctx):
    key = new_key(os.path.join(ctx.tmp, "aud.key"))
    code, details = rpc_error(lambda: create_certificate(ctx.tmp, ctx.tls, create_token("a", ctx.ns, "other"),
                                                         make_csr(key)))
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert "audience" in details.lower(), details


def test_bad_csrs_are_invalid_argument(ctx):
    token = create_token("a", ctx.ns)
    key = new_key(os.path.join(ctx.tmp, "bad-csr.key"))
    good = make_csr(key)
    before = ctx.keel.metrics()
    code, details = rpc_error(lambda: create_certificate(ctx.tmp, ctx.tls, token, "not a CSR"))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "CSR" in details, details
    code, details = rpc_error(lambda: create_certificate(ctx.tmp, ctx.tls, token, corrupt_csr_signature(good)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT, details
    assert details == "CSR: signature does not verify against its public key", details
    after = ctx.keel.metrics()
    assert delta(before, after, "citadel_server_csr_count") == 2
    assert delta(before, after, "citadel_server_csr_parsing_err_count") == 2
    assert delta(before, after, "citadel_server_success_cert_issuance_count") == 0
    assert delta(before, after, "citadel_server_authentication_failure_count") == 0


def test_without_the_tls_port_there_is_no_ca(ctx):
    from keeltest import keel_discovery
    config = os.path.join(ctx.tmp, "no-tls-config")
    os.makedirs(config, exist_ok=True)
    csr = make_csr(new_key(os.path.join(ctx.tmp, "no-tls.key")))
    args = ["--config-dir", config, "--ca-dir", os.path.join(ctx.tmp, "no-tls-ca"), "--secure-grpc-addr", "off"]
    with keel_discovery(args, os.path.join(ctx.tmp, "keel-no-tls.log")) as keel:
        channel = grpc.insecure_channel(keel.xds_addr)
        try:
            code, details = rpc_error(lambda: create_certificate(ctx.tmp, channel, create_token("a", ctx.ns), csr))
        finally:
            channel.close()
        assert code == grpc.StatusCode.UNIMPLEMENTED, details
        assert "CA not served: --secure-grpc-addr off" in keel.log()


@pytest.mark.parametrize("bits", [512, 1024])
def test_weak_rsa_csrs_are_invalid_argument_naming_the_key(ctx, bits):
    key = new_key(os.path.join(ctx.tmp, f"rsa{bits}.key"), "rsa", rsa_bits=bits)
    before = ctx.keel.metrics()
    code, details = rpc_error(lambda: create_certificate(ctx.tmp, ctx.tls, create_token("a", ctx.ns), make_csr(key)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT, details
    assert details == f"CSR: RSA key of {bits} bits is too weak (at least 2048 bits)", details
    assert delta(before, ctx.keel.metrics(), "citadel_server_success_cert_issuance_count") == 0


@pytest.mark.parametrize("validity,message", [
    (10 * 365 * 24 * 3600, "greater than the max allowed TTL 2160h"),
    (2**63 - 1, "greater than the max allowed TTL 2160h"),
    (-5, "negative"),
])
def test_bad_validity_is_invalid_argument(ctx, validity, message):
    key = new_key(os.path.join(ctx.tmp, "ttl.key"))
    code, details = rpc_error(lambda: create_certificate(ctx.tmp, ctx.tls, create_token("a", ctx.ns), make_csr(key),
                                                         validity))
    assert code == grpc.StatusCode.INVALID_ARGUMENT, details
    assert message in details, details


def test_root_expiry_metric(ctx):
    m = ctx.keel.metrics()
    assert m["citadel_server_root_cert_expiry_timestamp"] == openssl_enddate(split_pem(ctx.root)[0])


# ---------------------------------------------------------------------------------------------
# Root distribution: ConfigMap istio-ca-root-cert in every namespace
# ---------------------------------------------------------------------------------------------
def configmap_root(ns):
    p = kubectl("get", "configmap", "istio-ca-root-cert", "-n", ns, "-o", "jsonpath={.data.root-cert\\.pem}", check=False)
    return p.stdout if p.returncode == 0 else None


# istiod leaves these alone (inject.IgnoredNamespaces); so does Keel.
IGNORED_NAMESPACES = {"kube-system", "kube-public", "kube-node-lease", "local-path-storage"}


def test_root_configmap_in_every_namespace(ctx):
    namespaces = [n["metadata"]["name"] for n in kubectl_json("get", "namespaces")["items"]
                  if n.get("status", {}).get("phase") != "Terminating"]
    assert ctx.ns in namespaces and SYSTEM_NS in namespaces and "default" in namespaces
    for ns in namespaces:
        if ns not in IGNORED_NAMESPACES:
            wait_until(lambda: configmap_root(ns) == ctx.root, 15, f"{ns}/istio-ca-root-cert")
    cm = kubectl_json("get", "configmap", "istio-ca-root-cert", "-n", ctx.ns)
    assert cm["metadata"]["labels"].get("istio.io/config") == "true"


def test_kubernetes_system_namespaces_are_left_alone(ctx):
    kubectl("delete", "configmap", "istio-ca-root-cert", "-n", "kube-system", "--ignore-not-found")
    kubectl("delete", "configmap", "istio-ca-root-cert", "-n", ctx.ns)
    # Events arrive in order: once the later deletion is repaired, kube-system's was handled too.
    wait_until(lambda: configmap_root(ctx.ns) == ctx.root, 15, f"{ctx.ns}/istio-ca-root-cert to come back")
    kubectl("label", "namespace", "kube-system", f"keel-ca-test={suffix()}", "--overwrite")  # a namespace event too
    kubectl("delete", "configmap", "istio-ca-root-cert", "-n", ctx.ns)
    wait_until(lambda: configmap_root(ctx.ns) == ctx.root, 15, f"{ctx.ns}/istio-ca-root-cert to come back again")
    kubectl("label", "namespace", "kube-system", "keel-ca-test-", check=False)
    assert configmap_root("kube-system") is None


def test_root_configmap_in_a_namespace_created_later(ctx):
    ns = f"ca-late-{suffix()}"
    kubectl("create", "namespace", ns)
    try:
        wait_until(lambda: configmap_root(ns) == ctx.root, 15, f"{ns}/istio-ca-root-cert")
    finally:
        kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_root_configmap_is_repaired_after_delete_and_edit(ctx):
    kubectl("delete", "configmap", "istio-ca-root-cert", "-n", ctx.ns)
    wait_until(lambda: configmap_root(ctx.ns) == ctx.root, 15, "the deleted ConfigMap to come back")
    kubectl("patch", "configmap", "istio-ca-root-cert", "-n", ctx.ns, "--type", "merge",
            "-p", '{"data": {"root-cert.pem": "tampered"}}')
    wait_until(lambda: configmap_root(ctx.ns) == ctx.root, 15, "the edited ConfigMap to be repaired")
    # Same for the system namespace.
    kubectl("delete", "configmap", "istio-ca-root-cert", "-n", SYSTEM_NS)
    wait_until(lambda: configmap_root(SYSTEM_NS) == ctx.root, 15, "istio-system's ConfigMap to come back")


def test_terminating_namespace_is_skipped(ctx):
    # Without a controller-manager a deleted namespace stays Terminating, as one with finalizers
    # does in a real cluster; the API server forbids new objects in it. Keel must neither retry
    # forever there nor hold up the other namespaces.
    ns = f"ca-doomed-{suffix()}"
    kubectl("create", "namespace", ns)
    wait_until(lambda: configmap_root(ns) == ctx.root, 15, f"{ns}/istio-ca-root-cert")
    kubectl("delete", "namespace", ns, "--wait=false")
    wait_until(lambda: kubectl_json("get", "namespace", ns)["status"].get("phase") == "Terminating", 15,
               f"{ns} Terminating")
    kubectl("delete", "configmap", "istio-ca-root-cert", "-n", ns)
    # Events arrive in order: once a later deletion elsewhere is repaired, ns's was handled.
    kubectl("delete", "configmap", "istio-ca-root-cert", "-n", ctx.ns)
    wait_until(lambda: configmap_root(ctx.ns) == ctx.root, 15, "the ConfigMap in a live namespace to come back")
    assert configmap_root(ns) is None
    assert f"istio-ca-root-cert in {ns}" not in ctx.keel.log(), ctx.keel.log()


# ---------------------------------------------------------------------------------------------
# xDS over the TLS port, the server checked against the root
# ---------------------------------------------------------------------------------------------
def test_xds_over_tls(ctx):
    descriptors = os.environ.get("KEEL_ENVOY_DESCRIPTORS")
    assert descriptors and os.path.exists(descriptors), "set KEEL_ENVOY_DESCRIPTORS to build/envoy_closure.pb"
    envoy = Envoy(descriptors)
    apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "productpage", "namespace": ctx.ns},
           "spec": {"selector": {"app": "productpage"}, "ports": [{"name": "http", "port": 9080}]}})
    apply({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "productpage-v1", "namespace": ctx.ns, "labels": {"app": "productpage"}},
           "spec": {"containers": [{"name": "app", "image": "productpage", "ports": [{"containerPort": 9080}]}]}})
    name = f"productpage.{ctx.ns}.svc.cluster.local:9080"
    node = f"sidecar~127.0.0.1~client.{ctx.ns}~{ctx.ns}.svc.cluster.local"
    meta = {"GENERATOR": "grpc", "NAMESPACE": ctx.ns}
    token = create_token("a", ctx.ns)  # what istio-agent sends istiod on 15012
    got = wait_until(lambda: name in envoy.fetch_listeners(ctx.tls, node, [name], meta, timeout=5, token=token), 20,
                     f"LDS {name} over TLS")
    assert got
    # The plaintext port trusts the node id, as istiod's 15010 does.
    assert name in envoy.fetch_listeners(ctx.plain, node, [name], meta, timeout=5)
    # On the TLS port a stream must authenticate (istiod's XDS_AUTH) ...
    code, details = rpc_error(lambda: envoy.fetch_listeners(ctx.tls, node, [name], meta, timeout=5))
    assert code == grpc.StatusCode.UNAUTHENTICATED, details
    code, details = rpc_error(lambda: envoy.fetch_listeners(ctx.tls, node, [name], meta, timeout=5, token="x.y.z"))
    assert code == grpc.StatusCode.UNAUTHENTICATED, details
    # ... as a service account of the proxy's own namespace.
    other = "sidecar~127.0.0.1~client.default~default.svc.cluster.local"
    code, details = rpc_error(lambda: envoy.fetch_listeners(ctx.tls, other, [name], {**meta, "NAMESPACE": "default"},
                                                            timeout=5, token=token))
    assert code == grpc.StatusCode.PERMISSION_DENIED, details
    assert f"the token is for {ctx.ns}/a" in details and "namespace default" in details
    assert "not authenticated" in ctx.keel.log()
    # The same over a channel that trusts another root fails in the handshake.
    with open(self_signed_cert(ctx.tmp, "xds-stranger")[1]) as f:
        stranger = tls_channel(ctx.keel.secure_port, f.read())
    try:
        code, _ = rpc_error(lambda: envoy.fetch_listeners(stranger, node, [name], meta, timeout=5, token=token))
        assert code == grpc.StatusCode.UNAVAILABLE
    finally:
        stranger.close()


def test_sds_serves_keys_only_to_authenticated_service_accounts_allowed_to_read_secrets(ctx):
    """istiod's SecretGen: a credential goes to a proxy whose stream authenticated, of
    the proxy's own namespace, and its key only if a SubjectAccessReview says the
    service account may list Secrets there; the CA part ("-cacert") needs no review."""
    descriptors = os.environ.get("KEEL_ENVOY_DESCRIPTORS")
    assert descriptors and os.path.exists(descriptors), "set KEEL_ENVOY_DESCRIPTORS to build/envoy_closure.pb"
    envoy = Envoy(descriptors)
    key, cert = self_signed_cert(ctx.tmp, "sds-cred")
    kubectl("create", "secret", "generic", "sds-cred", "-n", ctx.ns, f"--from-file=key={key}",
            f"--from-file=cert={cert}", f"--from-file=cacert={cert}")
    kubectl("create", "serviceaccount", "reader", "-n", ctx.ns)
    kubectl("create", "role", "secret-reader", "--verb=list", "--resource=secrets", "-n", ctx.ns)
    kubectl("create", "rolebinding", "reader-reads", "--role=secret-reader", f"--serviceaccount={ctx.ns}:reader",
            "-n", ctx.ns)
    node = f"router~127.0.0.1~gw-0.{ctx.ns}~{ctx.ns}.svc.cluster.local"
    meta = {"NAMESPACE": ctx.ns}
    names = ["kubernetes://sds-cred", "kubernetes://sds-cred-cacert", "kubernetes://default/istio-ca-secret"]
    before = ctx.keel.metrics().get("pilot_sds_certificate_errors", 0)

    reader = create_token("reader", ctx.ns)
    got = wait_until(lambda: envoy.fetch_secrets(ctx.tls, node, names, meta, timeout=5, token=reader) or None, 20,
                     "the reader's SDS credential")
    assert sorted(got) == ["kubernetes://sds-cred", "kubernetes://sds-cred-cacert"], sorted(got)
    with open(key) as f:
        assert got["kubernetes://sds-cred"].tls_certificate.private_key.inline_bytes.decode() == f.read()
    with open(cert) as f:
        assert got["kubernetes://sds-cred-cacert"].validation_context.trusted_ca.inline_bytes.decode() == f.read()

    # A service account without the right: the public CA part only.
    got = envoy.fetch_secrets(ctx.tls, node, names, meta, timeout=5, token=create_token("a", ctx.ns))
    assert sorted(got) == ["kubernetes://sds-cred-cacert"], sorted(got)
    assert not got["kubernetes://sds-cred-cacert"].HasField("tls_certificate")
    log = ctx.keel.log()
    assert (f"({ctx.ns}/a) may not read kubernetes://sds-cred: system:serviceaccount:{ctx.ns}:a may not list "
            f"secrets in namespace {ctx.ns}: no RBAC rule allows it; kubernetes://default/istio-ca-secret: of another "
            "namespace") in log, log
    # The plaintext port trusts the node id, so it serves no credential at all.
    assert envoy.fetch_secrets(ctx.plain, node, names, meta, timeout=5) == {}
    assert f"SDS: proxy {node} is not authenticated" in ctx.keel.log()
    assert ctx.keel.metrics()["pilot_sds_certificate_errors"] >= before + 2  # (the parser drops _total)


# ---------------------------------------------------------------------------------------------
# Bounds: a flood of junk tokens, thousands of NACK codes and node ids
# ---------------------------------------------------------------------------------------------
def test_junk_token_flood_uses_bounded_threads_and_a_real_caller_gets_through(ctx):
    ca_pb2, ca_pb2_grpc = ca_api(ctx.tmp)
    stub = ca_pb2_grpc.IstioCertificateServiceStub(ctx.tls)
    csr = make_csr(new_key(os.path.join(ctx.tmp, "flood.key")))
    token = create_token("a", ctx.ns)
    assert create_certificate(ctx.tmp, ctx.tls, token, csr), "a real caller, just reviewed"
    pid = ctx.keel.proc.pid
    before = task_count(pid)
    flood = [stub.CreateCertificate.future(ca_pb2.IstioCertificateRequest(csr=csr),
                                           metadata=[("authorization", f"Bearer junk-{i}")], timeout=60)
             for i in range(400)]
    peak = task_count(pid)
    # During the flood: the caller whose token was accepted a moment ago is answered.
    chain = create_certificate(ctx.tmp, ctx.tls, token, csr)
    assert cert_sans(chain[0]) == [f"URI:{spiffe(ctx.ns, 'a')}"]
    deadline = time.monotonic() + 90
    while not all(f.done() for f in flood) and time.monotonic() < deadline:
        peak = max(peak, task_count(pid))
        time.sleep(0.01)
    codes = collections.Counter(f.exception().code() if f.exception() else "OK" for f in flood)
    print(f"threads {before} -> peak {peak}; answers {dict(codes)}")
    assert set(codes) <= {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.RESOURCE_EXHAUSTED}, codes
    assert peak - before <= 16, f"threads {before} -> {peak} for 400 concurrent calls"
    # After it, a token never seen before is reviewed and issued for.
    chain = create_certificate(ctx.tmp, ctx.tls, create_token("b", ctx.ns), csr)
    assert cert_sans(chain[0]) == [f"URI:{spiffe(ctx.ns, 'b')}"]


def test_metrics_stay_small_whatever_proxies_send(ctx):
    descriptors = os.environ.get("KEEL_ENVOY_DESCRIPTORS")
    assert descriptors and os.path.exists(descriptors), "set KEEL_ENVOY_DESCRIPTORS to build/envoy_closure.pb"
    envoy = Envoy(descriptors)
    size_before = len(ctx.keel.http_get("/metrics")[1])
    tag = suffix()

    def node(i):
        return f"sidecar~127.0.0.1~flood-{tag}-{i}.{ctx.ns}~{ctx.ns}.svc.cluster.local"

    def open_stream(i, version):
        s = envoy.stream(ctx.plain)
        s.send(envoy.request(envoy.CLUSTER_TYPE, node(i), {"NAMESPACE": ctx.ns, "ISTIO_VERSION": version}))
        return s, s.recv()

    # 5,000 NACKs with distinct error codes from one stream (0..16 are gRPC's, the rest are not).
    rejects_before = _cds_rejects(ctx.keel.http_get("/metrics")[1])
    stream, response = open_stream(0, "1.24.0")
    try:
        for code in range(5000):
            stream.send(envoy.request(envoy.CLUSTER_TYPE, nonce=response.nonce, error_code=code))
        wait_until(lambda: _cds_rejects(ctx.keel.http_get("/metrics")[1]) >= rejects_before + 5000, 60,
                   "5,000 CDS rejects counted")
    finally:
        stream.close()
    # 40 more proxies, each its own node id: 36 versions (more than the 32 labelled), 4 junk ones.
    versions = [f"1.{70 + i}.0" for i in range(36)] + [f"junk {i} {'x' * 300}" for i in range(4)]
    streams = [open_stream(i + 1, v)[0] for i, v in enumerate(versions)]
    try:
        status, body = ctx.keel.http_get("/metrics")
        assert status == 200
        series = [line for line in body.splitlines() if line.startswith("pilot_xds{")]
        print(f"/metrics {size_before} -> {len(body)} bytes; pilot_xds series: {len(series)}")
        assert len(body) < 100 * 1024, f"/metrics is {len(body)} bytes"
        assert f"flood-{tag}" not in body, "no label names a proxy"
        assert "xxxxxxxx" not in body, "a junk ISTIO_VERSION is no label value"
        assert len(series) <= 32 + 2 + 1, series  # own versions, unknown, other (and the Keel-wide "")
        assert 'pilot_xds{version="unknown"} 4' in body, series
        assert len([line for line in body.splitlines() if line.startswith("pilot_xds_cds_reject{")]) <= 17
    finally:
        for s in streams:
            s.close()
    # The connections closed: their versions' series are gone, not left at 0.
    wait_until(lambda: not any(f'pilot_xds{{version="{v}"}}' in ctx.keel.http_get("/metrics")[1]
                               for v in ("1.70.0", "unknown", "other")),
               20, "pilot_xds series of closed connections removed")


def _cds_rejects(body):
    for line in body.splitlines():
        if line.startswith('pilot_total_xds_rejects{type="cds"} '):
            return float(line.split()[-1])
    return 0


# ---------------------------------------------------------------------------------------------
# The API server down: TokenReview impossible is UNAVAILABLE (retry), not UNAUTHENTICATED
# ---------------------------------------------------------------------------------------------
def test_api_server_down_is_unavailable(ctx):
    harness, kube_dir = os.environ.get("KEEL_KUBE_HARNESS"), os.environ.get("KEEL_KUBE_DIR")
    if not harness or not kube_dir:
        pytest.skip("needs the kube fixture's KEEL_KUBE_HARNESS and KEEL_KUBE_DIR")
    token = create_token("a", ctx.ns)
    csr = make_csr(new_key(os.path.join(ctx.tmp, "down.key")))
    def run_harness(cmd, timeout):
        p = subprocess.run([harness, cmd, kube_dir], capture_output=True, text=True, timeout=timeout)
        assert p.returncode == 0, f"kube-harness.sh {cmd} exited {p.returncode}: {p.stdout}{p.stderr}"

    run_harness("stop-apiserver", 60)
    try:
        code, details = rpc_error(lambda: create_certificate(ctx.tmp, ctx.tls, token, csr))
    finally:
        run_harness("start-apiserver", 120)
    assert code == grpc.StatusCode.UNAVAILABLE, details
    assert "TokenReview" in details, details
    # Back to normal once the API server is.
    wait_until(lambda: create_certificate(ctx.tmp, ctx.tls, token, csr), 30, "issuing again after the restart",
               interval=0.5)


# ---------------------------------------------------------------------------------------------
# Restart (last: it replaces the process the other cases use)
# ---------------------------------------------------------------------------------------------
def test_restart_keeps_the_root(ctx):
    before_chain, _ = issue(ctx, "a")
    secret_before = secret_field(SYSTEM_NS, "istio-ca-secret", "ca-cert.pem")
    ctx.tls.close()
    ctx.plain.close()
    ctx.keel.restart()
    assert "created a self-signed root" not in ctx.keel.log()
    assert "using self-signed root" in ctx.keel.log()
    assert secret_field(SYSTEM_NS, "istio-ca-secret", "ca-cert.pem") == secret_before
    assert cert_fingerprint(root_from_configmap(SYSTEM_NS)) == cert_fingerprint(ctx.root)
    ctx.tls = tls_channel(ctx.keel.secure_port, ctx.root)  # the new serving cert verifies against the same root
    ctx.plain = plaintext_channel(ctx.keel.grpc_port)
    after_chain, _ = issue(ctx, "a")
    assert verify_chain(ctx.tmp, after_chain, ctx.root).returncode == 0
    assert verify_chain(ctx.tmp, before_chain, root_from_configmap(ctx.ns)).returncode == 0
