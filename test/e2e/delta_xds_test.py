"""End to end over Delta xDS with Istio's own delta ADS client.

test/e2e/istio_tools/delta_client is a small command over istio.io/istio/pkg/adsc (the client
istiod's own tests use), built by test/e2e/istio_tools/build.sh. It subscribes
as an Envoy sidecar of Bookinfo would (wildcard CDS and LDS, EDS and RDS by
name), ACKs as Istio's client does, and writes the names it holds per type; with
--then-wait-for it stays connected until a name appears or one is removed, so an
edit of keel-discovery's config directory is seen as a delta on the same stream.
Run: KEEL_DISCOVERY_BIN=build/pilot/keel-discovery KEEL_DELTA_CLIENT=build/tools/bin/istio-delta-client \
     build/venv/bin/python -m pytest test/e2e/delta_xds_test.py
"""

import json
import os
import shutil
import subprocess
import tempfile

import pytest
from keeltest import CDS, EDS, LDS, RDS, keel_discovery, wait_until, write_atomically

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NODE = "sidecar~10.1.0.9~productpage-v1-0.default~default.svc.cluster.local"
REVIEWS_V1 = "outbound|9080|v1|reviews.default.svc.cluster.local"
EXTRA = """apiVersion: v1
kind: Service
metadata: {name: extra-svc, namespace: default}
spec:
  clusterIP: 10.96.7.7
  selector: {app: extra}
  ports: [{name: http, port: 8080}]
"""


@pytest.fixture(scope="module")
def keel():
    client = os.environ.get("KEEL_DELTA_CLIENT")
    assert client and os.access(client, os.X_OK), (
        "set KEEL_DELTA_CLIENT to the binary test/e2e/istio_tools/build.sh makes (scripts/dev.sh test does)")
    tmp = tempfile.mkdtemp(prefix="keel-delta-")
    config_dir = os.path.join(tmp, "config")
    shutil.copytree(os.path.join(ROOT, "examples", "bookinfo"), config_dir)
    try:
        with keel_discovery(["--config-dir", config_dir, "--log-level", "debug"],
                            os.path.join(tmp, "keel.log")) as k:
            yield {"addr": k.xds_addr, "config_dir": config_dir, "tmp": tmp, "client": client, "keel": k}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def client_command(keel, out, *extra):
    return [keel["client"], "--addr", keel["addr"], "--node-id", NODE,
            "--meta", "NAMESPACE=default", "--meta", "ISTIO_VERSION=1.24.0", "--meta", "CLUSTER_ID=Kubernetes",
            "--watch", CDS, "--watch", LDS, "--watch", f"{EDS}={REVIEWS_V1}", "--watch", f"{RDS}=9080",
            "--expect-json", out, "--timeout", "20s", *extra]


def read_json(path):
    with open(path) as f:
        return json.load(f)


def test_a_sidecar_subscription_is_served_and_acked(keel):
    out = os.path.join(keel["tmp"], "first.json")
    run = subprocess.run(client_command(keel, out), capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    held = read_json(out)
    assert REVIEWS_V1 in held[CDS]
    assert "outbound|9080|v3|reviews.default.svc.cluster.local" in held[CDS]
    assert {"PassthroughCluster", "BlackHoleCluster"} <= set(held[CDS])
    assert {"virtualOutbound", "virtualInbound", "0.0.0.0_9080"} <= set(held[LDS])
    assert held[EDS] == [REVIEWS_V1]
    assert held[RDS] == ["9080"]
    log = keel["keel"].log()
    assert "new delta connection" in log
    assert "NACK" not in log


def run_until_changed(keel, out, substring, change):
    """Starts the client, waits for its first state, applies `change`, and returns
    (first state, state after the delta the client saw)."""
    proc = subprocess.Popen(client_command(keel, out, "--then-wait-for", substring),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: os.path.exists(out) or proc.poll() is not None, 30, "the client's first state")
        assert proc.poll() is None, proc.communicate()[1]
        first = read_json(out)
        change()
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        return first, read_json(out), stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_an_added_service_arrives_as_a_delta_on_the_same_stream(keel):
    out = os.path.join(keel["tmp"], "added.json")
    extra = os.path.join(keel["config_dir"], "extra.yaml")

    first, after, stderr = run_until_changed(keel, out, "extra-svc", lambda: write_atomically(extra, EXTRA))
    cluster = "outbound|8080||extra-svc.default.svc.cluster.local"
    assert cluster not in first[CDS]
    assert cluster in after[CDS]
    assert set(first[CDS]) <= set(after[CDS])
    # The CDS response of the edit carried the new cluster alone.
    cds_lines = [l for l in stderr.splitlines() if "type=" + CDS in l]
    assert cds_lines[-1].split("resources=")[1].startswith("1 "), stderr


def test_a_deleted_service_is_removed_by_name(keel):
    out = os.path.join(keel["tmp"], "removed.json")
    extra = os.path.join(keel["config_dir"], "extra.yaml")
    assert os.path.exists(extra), "runs after the test that adds it"
    first, after, stderr = run_until_changed(keel, out, "no-such-name-appears", lambda: os.remove(extra))
    cluster = "outbound|8080||extra-svc.default.svc.cluster.local"
    assert cluster in first[CDS]
    assert cluster not in after[CDS]
    assert f"removed=[{cluster}]" in stderr, stderr
