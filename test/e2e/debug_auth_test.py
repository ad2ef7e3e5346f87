"""/debug/* authentication against the real kube-apiserver of the `kube` fixture.

As istiod: a request from localhost needs nothing; from anywhere else it needs
`Authorization: Bearer <token>` that a TokenReview accepts (a service-account token
for the xDS audience, istio-ca), else 401 with an empty body. /ready and /metrics
stay open. The review runs off cpprest's pool (DebugAuth's own workers): a burst of
remote requests must not stall local ones.
Tokens come from `kubectl create token` (the TokenRequest API); nothing is faked.
Run (with the fixture up): KUBECONFIG=... KEEL_DISCOVERY_BIN=build/pilot/keel-discovery \
    build/venv/bin/python -m pytest test/e2e/debug_auth_test.py
"""

import concurrent.futures
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest
from keeltest import http_get, keel_discovery, non_loopback_address

KUBECTL = os.environ.get("KUBECTL") or shutil.which("kubectl") or "kubectl"


def kubectl(*args):
    p = subprocess.run([KUBECTL, *args], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, f"kubectl {' '.join(args)}: {p.stderr.strip()}"
    return p.stdout.strip()


def get(url, token=None, timeout=10):
    return http_get(url, {"Authorization": f"Bearer {token}"} if token is not None else {}, timeout)


@pytest.fixture(scope="module")
def env():
    kubeconfig = os.environ.get("KUBECONFIG")
    assert kubeconfig, "KUBECONFIG must point at the kube fixture (keel_kube_test sets it)"
    addr = non_loopback_address()
    if addr is None:
        pytest.skip("this host has no non-loopback address to send a non-local request from")
    ns = "dbg-" + uuid.uuid4().hex[:6]
    kubectl("create", "namespace", ns)
    kubectl("create", "serviceaccount", "reader", "-n", ns)
    tmp = tempfile.mkdtemp(prefix="keel-debug-auth-")
    log_path = os.path.join(tmp, "keel.log")
    try:
        with keel_discovery(["--kubeconfig", kubeconfig, "--disable-ca", "--sync-timeout-s", "20"], log_path,
                            monitoring_host="0.0.0.0", ready_timeout=30) as keel:
            yield {"local": f"http://127.0.0.1:{keel.mon}", "remote": f"http://{addr}:{keel.mon}", "ns": ns,
                   "log": log_path}
    finally:
        subprocess.run([KUBECTL, "delete", "namespace", ns, "--wait=false"], capture_output=True, timeout=30)


def token(env, audience="istio-ca"):
    return kubectl("create", "token", "reader", "-n", env["ns"], "--audience", audience)


def test_local_requests_need_no_token(env):
    status, body = get(env["local"] + "/debug/syncz")
    assert status == 200 and json.loads(body) == []


def test_remote_requests_without_a_good_token_get_401(env):
    url = env["remote"] + "/debug/configz"
    assert get(url) == (401, "")
    assert get(url, token="not-a-jwt") == (401, "")
    assert get(url, token=token(env, audience="someone-else")) == (401, "")  # not for the xDS audience
    with open(env["log"]) as f:
        log = f.read()
    assert "Failed to authenticate /debug/configz" in log
    assert "token rejected" in log


def test_remote_requests_with_a_service_account_token_are_served(env):
    t = token(env)
    status, body = get(env["remote"] + "/debug/configz", token=t)
    assert status == 200
    namespaces = {o["metadata"]["name"] for o in json.loads(body) if o.get("kind") == "Namespace"}
    assert env["ns"] in namespaces
    assert get(env["remote"] + "/debug/adsz?push=true", token=t) == (200, "Pushed to 0 servers\n")


def test_probes_and_scrapes_stay_open(env):
    assert get(env["remote"] + "/ready")[0] == 200
    status, body = get(env["remote"] + "/metrics")
    assert status == 200 and "pilot_services" in body


def test_a_burst_of_reviews_does_not_stall_local_requests(env):
    t = token(env)
    with concurrent.futures.ThreadPoolExecutor(max_workers=48) as pool:
        remote = [pool.submit(get, env["remote"] + "/debug/syncz", t, 30) for _ in range(48)]
        # While the reviews are queued or running, cpprest's pool still serves local requests at once.
        for _ in range(5):
            start = time.monotonic()
            assert get(env["local"] + "/debug/syncz", timeout=5)[0] == 200
            assert time.monotonic() - start < 2
        statuses = [f.result()[0] for f in remote]
    # Reviews beyond the bounded queue are refused with 503 rather than waiting.
    assert set(statuses) <= {200, 503}, statuses
    assert statuses.count(200) >= 2
    assert get(env["remote"] + "/debug/syncz", token=t)[0] == 200
