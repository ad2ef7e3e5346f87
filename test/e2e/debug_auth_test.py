"""/debug/* access and secrecy against the real kube-apiserver of the `kube` fixture.

As istiod: a request from localhost needs nothing; from anywhere else it needs
`Authorization: Bearer <token>` that a TokenReview accepts (a service-account token
for the xDS audience, istio-ca), else 401 with an empty body; and the token's
identity must be of the system namespace (--system-namespace), else 403 with the
reason, for reads and for adsz?push=true alike. /ready and /metrics stay open. The
review runs off the monitoring server's handler pool (DebugAuth's own workers): a burst of remote requests
must not stall local ones.
Keel runs with its CA on, in a system namespace of its own, so Secret istio-ca-secret
(the CA root key) exists; a gateway TLS Secret and an Opaque Secret written by
`kubectl apply` are there too, and a gateway proxy holds the TLS key over SDS (its plaintext
stream authenticates with --xds-auth-plaintext as gw, a service account allowed to list the
namespace's Secrets). Neither
/debug/configz nor /debug/config_dump may show any of them, locally or remotely.
Tokens come from `kubectl create token` (the TokenRequest API); nothing is faked.
Run (with the fixture up): KUBECONFIG=... KEEL_DISCOVERY_BIN=build/pilot/keel-discovery \
    KEEL_ENVOY_DESCRIPTORS=build/envoy_closure.pb build/venv/bin/python -m pytest test/e2e/debug_auth_test.py
"""

import base64
import concurrent.futures
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid

import grpc
import pytest
from keeltest import envoy_messages, http_get, keel_discovery, key_material, non_loopback_address, wait_until

KUBECTL = os.environ.get("KUBECTL") or shutil.which("kubectl") or "kubectl"
OPENSSL = shutil.which("openssl") or "openssl"
SECRET_TYPE = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
ADS_METHOD = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"
PASSWORD = "hunter2-" + uuid.uuid4().hex[:6]


def kubectl(*args, input=None):
    p = subprocess.run([KUBECTL, *args], input=input, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, f"kubectl {' '.join(args)}: {p.stderr.strip()}"
    return p.stdout.strip()


def get(url, token=None, timeout=10):
    return http_get(url, {"Authorization": f"Bearer {token}"} if token is not None else {}, timeout)


class SdsClient:
    """A gateway proxy's ADS stream asking for one SDS Secret, held open until close()."""

    def __init__(self, xds_addr, node_id, namespace, resource_name, token):
        path = os.environ.get("KEEL_ENVOY_DESCRIPTORS")
        assert path and os.path.exists(path), "set KEEL_ENVOY_DESCRIPTORS to build/envoy_closure.pb"
        request_cls, response_cls, self.Secret = envoy_messages(
            path, "envoy.service.discovery.v3.DiscoveryRequest", "envoy.service.discovery.v3.DiscoveryResponse",
            "envoy.extensions.transport_sockets.tls.v3.Secret")
        request = request_cls(type_url=SECRET_TYPE, resource_names=[resource_name])
        request.node.id = node_id
        request.node.metadata.fields["NAMESPACE"].string_value = namespace
        self.done = threading.Event()

        def requests():
            yield request
            self.done.wait(60)

        self.channel = grpc.insecure_channel(xds_addr)
        self.call = self.channel.stream_stream(ADS_METHOD, request_serializer=request_cls.SerializeToString,
                                               response_deserializer=response_cls.FromString)(
            requests(), timeout=60, metadata=[("authorization", f"Bearer {token}")])

    def first_secret(self):
        response = next(self.call)
        assert response.type_url == SECRET_TYPE and len(response.resources) == 1, response
        secret = self.Secret()
        secret.ParseFromString(response.resources[0].value)
        return secret

    def close(self):
        self.done.set()
        self.call.cancel()
        self.channel.close()


@pytest.fixture(scope="module")
def env():
    kubeconfig = os.environ.get("KUBECONFIG")
    assert kubeconfig, "KUBECONFIG must point at the kube fixture (keel_kube_test sets it)"
    addr = non_loopback_address()
    if addr is None:
        pytest.skip("this host has no non-loopback address to send a non-local request from")
    suffix = uuid.uuid4().hex[:6]
    system, ns = "dbgsys-" + suffix, "dbg-" + suffix
    tmp = tempfile.mkdtemp(prefix="keel-debug-auth-")
    for n in (system, ns):
        kubectl("create", "namespace", n)
    kubectl("create", "serviceaccount", "istiod", "-n", system)
    kubectl("create", "serviceaccount", "nobody", "-n", ns)
    # The gateway's service account may read its namespace's Secrets (SDS asks the API server).
    kubectl("create", "serviceaccount", "gw", "-n", ns)
    kubectl("create", "role", "secret-reader", "--verb=list", "--resource=secrets", "-n", ns)
    kubectl("create", "rolebinding", "gw-reads", "--role=secret-reader", f"--serviceaccount={ns}:gw", "-n", ns)
    key, cert = os.path.join(tmp, "gw.key"), os.path.join(tmp, "gw.crt")
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-subj", "/CN=gw.example.com", "-days", "1"],
                   capture_output=True, check=True, timeout=30)
    kubectl("create", "secret", "tls", "gw-cert", "-n", ns, "--cert", cert, "--key", key)
    # Through `kubectl apply`: its last-applied-configuration annotation repeats the password.
    kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                                                   "metadata": {"name": "db", "namespace": ns},
                                                   "stringData": {"password": PASSWORD}}))
    log_path = os.path.join(tmp, "keel.log")
    node = f"router~10.0.0.9~gw-0.{ns}~{ns}.svc.cluster.local"
    try:
        # --xds-auth-plaintext: the gateway's plaintext stream authenticates, so SDS serves it its key.
        with keel_discovery(["--kubeconfig", kubeconfig, "--system-namespace", system, "--secure-grpc-addr", "off", "--webhook-addr", "off",
                             "--xds-auth-plaintext", "--sync-timeout-s", "20"], log_path, monitoring_host="0.0.0.0", ready_timeout=30) as keel:
            local = f"http://127.0.0.1:{keel.mon}"

            def listed(kind, namespace, name):
                status, body = get(local + "/debug/configz")
                return status == 200 and any(o["kind"] == kind and o["metadata"]["name"] == name and
                                             o["metadata"].get("namespace") == namespace for o in json.loads(body))
            # Keel's CA writes the root Secret at start; its Secret informer then sees it.
            wait_until(lambda: listed("Secret", system, "istio-ca-secret"), 20, "configz to list istio-ca-secret")
            assert listed("Secret", ns, "gw-cert") and listed("Secret", ns, "db")
            sds = SdsClient(keel.xds_addr, node, ns, "kubernetes://gw-cert",
                            kubectl("create", "token", "gw", "-n", ns, "--audience", "istio-ca"))
            try:
                yield {"local": local, "remote": f"http://{addr}:{keel.mon}", "ns": ns, "system": system,
                       "log": log_path, "node": node, "sds": sds, "key": open(key).read(), "cert": open(cert).read()}
            finally:
                sds.close()
    finally:
        for n in (ns, system):
            subprocess.run([KUBECTL, "delete", "namespace", n, "--wait=false"], capture_output=True, timeout=30)
        subprocess.run([KUBECTL, "delete", "configmap", "-A", "--field-selector", "metadata.name=istio-ca-root-cert"],
                       capture_output=True, timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


def token(env, sa="nobody", ns=None, audience="istio-ca"):
    return kubectl("create", "token", sa, "-n", ns or env["ns"], "--audience", audience)


def system_token(env):
    return token(env, "istiod", env["system"])


def debug_pushes(env):
    status, body = get(env["local"] + "/metrics")
    assert status == 200
    return sum(float(l.split()[-1]) for l in body.splitlines()
               if l.startswith(("pilot_push_triggers{", "pilot_push_triggers_total{")) and 'type="debug"' in l)


def test_local_requests_need_no_token(env):
    status, body = get(env["local"] + "/debug/syncz")
    assert status == 200 and isinstance(json.loads(body), list)


def test_remote_requests_without_a_good_token_get_401(env):
    url = env["remote"] + "/debug/configz"
    assert get(url) == (401, "")
    assert get(url, token="not-a-jwt") == (401, "")
    assert get(url, token=token(env, audience="someone-else")) == (401, "")  # not for the xDS audience
    with open(env["log"]) as f:
        log = f.read()
    assert "Failed to authenticate /debug/configz" in log
    assert "token rejected" in log


def test_another_namespaces_token_gets_403_with_the_reason(env):
    t = token(env)  # a valid istio-ca token of ns/nobody
    pushes = debug_pushes(env)
    reason = f"debug endpoints are for identities of namespace {env['system']}; the token is of {env['ns']}/nobody\n"
    proxy = urllib.parse.quote(env["node"])
    for path in ("/debug/configz", f"/debug/config_dump?proxyID={proxy}", "/debug/syncz", "/debug/adsz?push=true"):
        assert get(env["remote"] + path, token=t) == (403, reason), path
    assert debug_pushes(env) == pushes, "the refused push did not push"
    with open(env["log"]) as f:
        assert "Refused /debug/adsz from " in f.read()


def test_a_system_namespace_token_is_served(env):
    t = system_token(env)
    status, body = get(env["remote"] + "/debug/configz", token=t)
    assert status == 200
    namespaces = {o["metadata"]["name"] for o in json.loads(body) if o.get("kind") == "Namespace"}
    assert env["ns"] in namespaces
    pushes = debug_pushes(env)
    status, body = get(env["remote"] + "/debug/adsz?push=true", token=t)
    assert status == 200 and body.startswith("Pushed to "), body
    wait_until(lambda: debug_pushes(env) == pushes + 1, 10, "the debug push to be counted")


def bases(env):
    """Local without a token, remote with a system-namespace token."""
    return ((env["local"], None), (env["remote"], system_token(env)))


def test_configz_shows_no_secret_data_local_or_remote(env):
    for base, tok in bases(env):
        status, body = get(base + "/debug/configz", token=tok)
        assert status == 200
        for marker in ("-----BEGIN", "PRIVATE KEY", PASSWORD):
            assert marker not in body, (base, marker)
        objects = json.loads(body)
        assert key_material(objects, ["-----BEGIN", "PRIVATE KEY", PASSWORD]) is None, base
        secrets = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in objects if o["kind"] == "Secret"}
        ca = secrets[(env["system"], "istio-ca-secret")]
        assert ca["type"] == "istio.io/ca-root" and "data" not in ca
        assert secrets[(env["ns"], "gw-cert")]["type"] == "kubernetes.io/tls"
        assert "annotations" not in secrets[(env["ns"], "db")]["metadata"]


def test_config_dump_redacts_the_sds_private_key_local_or_remote(env):
    secret = env["sds"].first_secret()
    assert secret.tls_certificate.private_key.inline_bytes.decode() == env["key"], "the proxy itself gets its key"
    for base, tok in bases(env):
        status, body = get(base + "/debug/config_dump?proxyID=" + urllib.parse.quote(env["node"]), token=tok)
        assert status == 200, body
        dump = json.loads(body)
        assert key_material(dump, ["PRIVATE KEY"]) is None, base
        (resource,) = dump["xds"]["SDS"]["resources"]
        cert = resource["tlsCertificate"]
        assert base64.b64decode(cert["privateKey"]["inlineBytes"]) == b"[redacted]"  # istiod's redaction
        assert base64.b64decode(cert["certificateChain"]["inlineBytes"]).decode() == env["cert"]


def test_probes_and_scrapes_stay_open(env):
    assert get(env["remote"] + "/ready")[0] == 200
    status, body = get(env["remote"] + "/metrics")
    assert status == 200 and "pilot_services" in body


def test_a_burst_of_reviews_does_not_stall_local_requests(env):
    t = system_token(env)
    with concurrent.futures.ThreadPoolExecutor(max_workers=48) as pool:
        remote = [pool.submit(get, env["remote"] + "/debug/syncz", t, 30) for _ in range(48)]
        # While the reviews are queued or running, the monitoring server's pool still serves local requests at once.
        for _ in range(5):
            start = time.monotonic()
            assert get(env["local"] + "/debug/syncz", timeout=5)[0] == 200
            assert time.monotonic() - start < 2
        statuses = [f.result()[0] for f in remote]
    # Reviews beyond the bounded queue are refused with 503 rather than waiting.
    assert set(statuses) <= {200, 503}, statuses
    assert statuses.count(200) >= 2
    assert get(env["remote"] + "/debug/syncz", token=t)[0] == 200
