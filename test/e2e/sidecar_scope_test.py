"""The Sidecar resource end to end, over Delta xDS with Istio's own delta ADS client.

keel-discovery watches a config directory with services in `default`,
`istio-system` and `other`, and a Sidecar in `default` whose egress hosts are
"./*" and "istio-system/*". Two sidecars connect with Istio's pkg/adsc delta
client (test/e2e/istio_tools/delta_client): one in `default` (the Sidecar applies), one in
`plain` (no Sidecar: it sees every service). Then:
  - the scoped one holds exactly the clusters and listeners of `default` and
    `istio-system` services (plus the static ones), nothing of `other`;
  - a Service added in `other` reaches the unscoped one as a CDS delta of one
    cluster, and sends the scoped one no CDS or LDS response at all;
  - a Service added in `default` afterwards does reach the scoped one on the
    same stream (which was live all along).
Run: KEEL_DISCOVERY_BIN=build/pilot/keel-discovery KEEL_DELTA_CLIENT=build/tools/bin/istio-delta-client \
     build/venv/bin/python -m pytest test/e2e/sidecar_scope_test.py
"""

import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest
from keeltest import CDS, LDS, keel_discovery, wait_until, write_atomically

MESH = """apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: 10.96.1.1
  selector: {app: web}
  ports: [{name: http, port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: default}
spec:
  clusterIP: 10.96.1.2
  selector: {app: db}
  ports: [{name: tcp-db, port: 5432}]
---
apiVersion: v1
kind: Service
metadata: {name: istiod, namespace: istio-system}
spec:
  clusterIP: 10.96.2.1
  selector: {app: istiod}
  ports: [{name: grpc-xds, port: 15010}]
---
apiVersion: v1
kind: Service
metadata: {name: httpbin, namespace: other}
spec:
  clusterIP: 10.96.3.1
  selector: {app: httpbin}
  ports: [{name: http, port: 8000}]
---
apiVersion: v1
kind: Service
metadata: {name: cache, namespace: other}
spec:
  clusterIP: 10.96.3.2
  selector: {app: cache}
  ports: [{name: tcp-redis, port: 6379}]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: default}
spec:
  egress:
  - hosts: ["./*", "istio-system/*"]
"""


def service(name, ns, ip, port):
    return f"""apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {ns}}}
spec:
  clusterIP: {ip}
  selector: {{app: {name}}}
  ports: [{{name: http, port: {port}}}]
"""


# Added while both clients are connected; each on a port no other service has,
# so it brings a listener of its own as well as a cluster.
LATE_OTHER = service("late-other", "other", "10.96.3.9", 8100)
LATE_DEFAULT = service("late-default", "default", "10.96.1.9", 8200)

STATIC_CLUSTERS = {"BlackHoleCluster", "PassthroughCluster", "InboundPassthroughCluster"}
STATIC_LISTENERS = {"virtualInbound", "virtualOutbound"}
SCOPED_CLUSTERS = STATIC_CLUSTERS | {
    "outbound|8080||web.default.svc.cluster.local",
    "outbound|5432||db.default.svc.cluster.local",
    "outbound|15010||istiod.istio-system.svc.cluster.local",
}
# HTTP (and gRPC) ports share a 0.0.0.0 listener per port; TCP ports get one per cluster IP.
SCOPED_LISTENERS = STATIC_LISTENERS | {"0.0.0.0_8080", "10.96.1.2_5432", "0.0.0.0_15010"}
OTHER_CLUSTERS = {"outbound|8000||httpbin.other.svc.cluster.local", "outbound|6379||cache.other.svc.cluster.local"}
OTHER_LISTENERS = {"0.0.0.0_8000", "10.96.3.2_6379"}

LATE_OTHER_CLUSTER = "outbound|8100||late-other.other.svc.cluster.local"
LATE_DEFAULT_CLUSTER = "outbound|8200||late-default.default.svc.cluster.local"

# How long the scoped client must stay silent after the unscoped one saw the
# push of LATE_OTHER (pushes go to connections one after another on one thread).
QUIET_S = 3


class Client:
    """One istio-delta-client run in the background: wildcard CDS and LDS for a
    sidecar in `ns`, staying connected until a name containing `wait_for` appears
    (or a name is removed). Its first and final states go to JSON files, its
    per-response log to a file we can read while it runs."""

    def __init__(self, keel, name, ip, ns, wait_for):
        self.out = os.path.join(keel["tmp"], name + ".json")
        self.err_path = os.path.join(keel["tmp"], name + ".stderr")
        node = f"sidecar~{ip}~{name}-0.{ns}~{ns}.svc.cluster.local"
        self.err = open(self.err_path, "w")
        self.proc = subprocess.Popen(
            [keel["client"], "--addr", keel["addr"], "--node-id", node,
             "--meta", f"NAMESPACE={ns}", "--meta", "ISTIO_VERSION=1.24.0", "--meta", "CLUSTER_ID=Kubernetes",
             "--watch", CDS, "--watch", LDS, "--expect-json", self.out, "--timeout", "40s",
             "--then-wait-for", wait_for],
            stdout=subprocess.DEVNULL, stderr=self.err, text=True)

    def first_state(self):
        wait_until(lambda: os.path.exists(self.out) or self.proc.poll() is not None, 30, "the client's first state")
        assert self.proc.poll() is None, self.stderr()
        return read_json(self.out)

    def final_state(self):
        self.proc.wait(timeout=60)
        assert self.proc.returncode == 0, self.stderr()
        return read_json(self.out)

    def stderr(self):
        self.err.flush()
        with open(self.err_path) as f:
            return f.read()

    def responses(self, type_url):
        """The client's log lines of the responses of `type_url` received so far."""
        return [l for l in self.stderr().splitlines() if "response type=" + type_url + " " in l]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.err.close()


def read_json(path):
    with open(path) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def keel():
    client = os.environ.get("KEEL_DELTA_CLIENT")
    assert client and os.access(client, os.X_OK), (
        "set KEEL_DELTA_CLIENT to the binary test/e2e/istio_tools/build.sh makes (scripts/dev.sh test does)")
    tmp = tempfile.mkdtemp(prefix="keel-sidecar-")
    config_dir = os.path.join(tmp, "config")
    os.mkdir(config_dir)
    write_atomically(os.path.join(config_dir, "mesh.yaml"), MESH)
    try:
        with keel_discovery(["--config-dir", config_dir, "--log-level", "debug"],
                            os.path.join(tmp, "keel.log")) as k:
            yield {"addr": k.xds_addr, "config_dir": config_dir, "tmp": tmp, "client": client, "keel": k}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_a_sidecar_resource_limits_what_a_delta_client_sees_and_is_sent(keel):
    scoped = Client(keel, "scoped", "10.1.0.1", "default", "late-default")
    unscoped = Client(keel, "unscoped", "10.1.0.2", "plain", "late-other")
    try:
        scoped_first, unscoped_first = scoped.first_state(), unscoped.first_state()

        # The scoped sidecar holds exactly default's and istio-system's services;
        # the unscoped one holds those and other's.
        assert set(scoped_first[CDS]) == SCOPED_CLUSTERS
        assert set(scoped_first[LDS]) == SCOPED_LISTENERS
        assert set(unscoped_first[CDS]) == SCOPED_CLUSTERS | OTHER_CLUSTERS
        assert set(unscoped_first[LDS]) == SCOPED_LISTENERS | OTHER_LISTENERS
        scoped_cds, scoped_lds = len(scoped.responses(CDS)), len(scoped.responses(LDS))

        # A Service in `other`: a one-cluster CDS delta (and its listener) for the
        # unscoped sidecar, nothing for the scoped one.
        write_atomically(os.path.join(keel["config_dir"], "late-other.yaml"), LATE_OTHER)
        unscoped_after = unscoped.final_state()
        assert set(unscoped_after[CDS]) == set(unscoped_first[CDS]) | {LATE_OTHER_CLUSTER}
        assert unscoped.responses(CDS)[-1].split("resources=")[1].startswith("1 "), unscoped.stderr()
        time.sleep(QUIET_S)
        assert scoped.proc.poll() is None, scoped.stderr()
        assert len(scoped.responses(CDS)) == scoped_cds, scoped.stderr()
        assert len(scoped.responses(LDS)) == scoped_lds, scoped.stderr()

        # A Service in `default` still reaches the scoped sidecar on the same stream.
        write_atomically(os.path.join(keel["config_dir"], "late-default.yaml"), LATE_DEFAULT)
        scoped_after = scoped.final_state()
        assert set(scoped_after[CDS]) == SCOPED_CLUSTERS | {LATE_DEFAULT_CLUSTER}
        assert not any("late-other" in n or n == "0.0.0.0_8100" for n in scoped_after[LDS]), scoped_after
        assert "NACK" not in keel["keel"].log()
    finally:
        scoped.stop()
        unscoped.stop()
