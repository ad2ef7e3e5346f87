"""istiod's debug endpoints and Prometheus metrics, against a real xDS client.

keel-discovery serves a copy of examples/bookinfo; a Python grpcio channel to
xds:///reviews.default.svc.cluster.local:9080 is the connected proxy (gRPC's own
xDS client: it subscribes to LDS/RDS/CDS/EDS, ACKs and NACKs by itself). The tests
check each /debug endpoint's shape and content, their error cases and
authentication, and that /metrics parses with prometheus_client's parser and
moves as config changes.
Run: KEEL_DISCOVERY_BIN=build/pilot/keel-discovery build/venv/bin/python -m pytest test/e2e/debug_test.py
"""

import base64
import datetime
import json
import os
import shutil
import tempfile
import time
import urllib.parse

import grpc
import keeltest
import pytest
from keeltest import http_get as get
from keeltest import CDS, EDS, LDS, RDS, keel_discovery, key_material, non_loopback_address, wait_until, write_atomically
from prometheus_client.parser import text_string_to_metric_families

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NODE_ID = "sidecar~127.0.0.1~pyclient-0.default~default.svc.cluster.local"
TARGET = "reviews.default.svc.cluster.local:9080"
REVIEWS_CLUSTER = "outbound|9080||reviews.default.svc.cluster.local"
TYPES = ("cluster", "listener", "route", "endpoint")


class DebugKeel(keeltest.Keel):
    """keel-discovery with the debug-endpoint readers these tests use."""

    def json(self, path):
        status, body = self.get(path)
        assert status == 200, f"GET {path}: {status} {body}"
        return json.loads(body)

    def syncz_entry(self):
        entries = [e for e in self.json("/debug/syncz") if e.get("proxy") == NODE_ID]
        assert len(entries) == 1, entries
        return entries[0]

    def synced(self):
        e = self.syncz_entry()
        return all(e.get(f"{t}_status") == "SYNCED" for t in TYPES)

    def metrics(self):
        """{sample name: [(labels, value)]} from /metrics, through prometheus_client's parser."""
        status, body = self.get("/metrics")
        assert status == 200
        out = {}
        for family in text_string_to_metric_families(body):
            for s in family.samples:
                out.setdefault(s.name, []).append((s.labels, s.value))
        return out

    def metric(self, name, **labels):
        """The sum of the samples of `name` whose labels include `labels` (0 if none)."""
        return sum(v for l, v in self.metrics().get(name, []) if all(l.get(k) == w for k, w in labels.items()))


@pytest.fixture(scope="module")
def keel():
    tmp = tempfile.mkdtemp(prefix="keel-debug-")
    config_dir = os.path.join(tmp, "config")
    shutil.copytree(os.path.join(REPO, "examples", "bookinfo"), config_dir)
    # 0.0.0.0: so that a request can also arrive from a non-loopback address (auth tests).
    with keel_discovery(["--config-dir", config_dir, "--log-level", "debug"], os.path.join(tmp, "keel.log"),
                        monitoring_host="0.0.0.0", keel_class=DebugKeel) as k:
        k.config_dir = config_dir
        bootstrap = os.path.join(tmp, "bootstrap.json")
        with open(bootstrap, "w") as f:
            json.dump({"xds_servers": [{"server_uri": k.xds_addr,
                                        "channel_creds": [{"type": "insecure"}],
                                        "server_features": ["xds_v3"]}],
                       "node": {"id": NODE_ID, "locality": {},
                                "metadata": {"GENERATOR": "grpc", "NAMESPACE": "default",
                                             "ISTIO_VERSION": "1.24.0", "CLUSTER_ID": "Kubernetes",
                                             "LABELS": {"app": "pyclient", "version": "v1"}}}}, f)
        os.environ["GRPC_XDS_BOOTSTRAP"] = bootstrap
        channel = grpc.insecure_channel(f"xds:///{TARGET}")
        try:
            # Connecting makes the client resolve the target: LDS -> RDS -> CDS -> EDS. The
            # bookinfo pod IPs do not exist here, so the channel itself never gets ready.
            channel.subscribe(lambda state: None, try_to_connect=True)
            wait_until(k.synced, 20, "the client to ACK all four types")
            yield k
        except BaseException:
            print(f"keel log ({k.log_path}):\n" + k.log()[-4000:])
            raise
        finally:
            channel.close()


def test_syncz_reports_each_type_sent_and_acked(keel):
    e = keel.syncz_entry()
    assert e["proxy"] == NODE_ID
    assert e["proxy_type"] == "sidecar"
    assert e["cluster_id"] == "Kubernetes"
    assert e["istio_version"] == "1.24.0"
    for t in TYPES:
        assert e[f"{t}_sent"], f"{t}_sent empty: {e}"
        assert e[f"{t}_acked"] == e[f"{t}_sent"]
        assert e[f"{t}_status"] == "SYNCED"


def test_connections_is_istiods_ads_clients(keel):
    c = keel.json("/debug/connections")
    assert c["totalClients"] == 1
    (client,) = c["clients"]
    assert client["connectionId"] and client["address"]
    assert datetime.datetime.fromisoformat(client["connectedAt"].replace("Z", "+00:00")) <= \
        datetime.datetime.now(datetime.timezone.utc)
    assert client["proxyID"] == NODE_ID
    assert set(client["watches"]) == {"LDS", "RDS", "CDS", "EDS"}


def test_adsz_lists_watched_resources(keel):
    a = keel.json("/debug/adsz")
    assert a["totalClients"] == 1
    (client,) = a["clients"]
    assert client["labels"] == {"app": "pyclient", "version": "v1"}
    assert client["metadata"]["ISTIO_VERSION"] == "1.24.0"
    assert client["metadata"]["GENERATOR"] == "grpc"
    w = client["watches"]
    assert w[LDS] == [TARGET]
    assert w[RDS] == ["outbound|9080||reviews.default.svc.cluster.local"]  # istiod's route name for it
    assert REVIEWS_CLUSTER in w[CDS] or w[CDS] == []  # grpc asks CDS by name (or wildcard)
    assert REVIEWS_CLUSTER in w[EDS]

    one = keel.json("/debug/adsz?proxyID=" + urllib.parse.quote(NODE_ID))
    assert one["totalClients"] == 1 and one["clients"][0]["connectionId"] == client["connectionId"]
    status, body = keel.get("/debug/adsz?proxyID=nope")
    assert status == 404
    assert body == "Proxy not connected to this Pilot instance. It may be connected to another instance.\n"


def test_adsz_push_forces_a_full_push(keel):
    before = keel.syncz_entry()
    cds_pushes = keel.metric("pilot_xds_pushes_total", type="cds")
    status, body = keel.get("/debug/adsz?push=true")
    assert (status, body) == (200, "Pushed to 1 servers\n")
    # Forced: every type is sent again although nothing changed, and ACKed again.
    wait_until(lambda: all(keel.syncz_entry()[f"{t}_sent"] != before[f"{t}_sent"] for t in TYPES), 10,
               "new nonces for every type")
    wait_until(keel.synced, 10, "the client to ACK the forced push")
    assert keel.metric("pilot_push_triggers_total", type="debug") == 1
    assert keel.metric("pilot_xds_pushes_total", type="cds") == cds_pushes + 1


def test_registryz_has_bookinfo_services_as_istiod_models_them(keel):
    services = {s["hostname"]: s for s in keel.json("/debug/registryz")}
    assert set(services) == {f"{n}.default.svc.cluster.local" for n in ("productpage", "details", "reviews", "ratings")}
    reviews = services["reviews.default.svc.cluster.local"]
    assert reviews["ports"] == [{"name": "http", "port": 9080, "protocol": "HTTP"}]
    assert reviews["Attributes"]["Name"] == "reviews"
    assert reviews["Attributes"]["Namespace"] == "default"
    assert reviews["Attributes"]["ServiceRegistry"] == "Kubernetes"
    assert reviews["Attributes"]["LabelSelectors"] == {"app": "reviews"}
    (vip,) = reviews["clusterVIPs"]["Addresses"]["Kubernetes"]
    assert reviews["defaultAddress"] == vip
    assert reviews["Resolution"] == 0 and reviews["MeshExternal"] is False


def test_endpointz_lists_each_service_port_with_its_instances(keel):
    entries = {e["svc"]: e["ep"] for e in keel.json("/debug/endpointz")}
    assert set(entries) == {f"{n}.default.svc.cluster.local:http" for n in ("productpage", "details", "reviews", "ratings")}
    reviews = entries["reviews.default.svc.cluster.local:http"]
    by_address = {i["endpoint"]["Address"]: i for i in reviews}
    assert set(by_address) == {"10.244.0.13", "10.244.0.14", "10.244.0.15"}
    v2 = by_address["10.244.0.14"]
    assert v2["endpoint"]["Labels"]["version"] == "v2"
    assert v2["endpoint"]["EndpointPort"] == 9080
    assert v2["endpoint"]["ServicePortName"] == "http"
    assert v2["endpoint"]["ServiceAccount"].startswith("spiffe://cluster.local/ns/default/sa/")
    assert v2["servicePort"] == {"name": "http", "port": 9080, "protocol": "HTTP"}
    assert v2["service"]["hostname"] == "reviews.default.svc.cluster.local"

    status, brief = keel.get("/debug/endpointz?brief")
    assert status == 200
    lines = [l for l in brief.splitlines() if l.startswith("reviews.default.svc.cluster.local:http ")]
    assert len(lines) == 3 and any(" 10.244.0.14:9080 map[" in l and "version:v2" in l for l in lines)


def test_push_status_counts_and_reports_invalid_config(keel):
    p = keel.json("/debug/push_status")
    assert int(p["pushVersion"]) >= 1
    assert p["counts"]["services"] == 4
    assert p["counts"]["destinationRules"] == 4
    assert p["counts"]["endpoints"] == 6
    assert "keel_invalid_config" not in p

    bad = os.path.join(keel.config_dir, "bad.yaml")
    write_atomically(bad, "apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
                          "metadata: {name: broken, namespace: default}\n"
                          "spec:\n  hosts: [ratings]\n  http:\n  - route:\n"
                          "    - destination: {host: ratings}\n      weight: 0\n"
                          "    - destination: {host: ratings}\n      weight: 0\n")
    try:
        def reported():
            entries = keel.json("/debug/push_status").get("keel_invalid_config", {})
            (key,) = [k for k in entries if k.startswith("bad.yaml")]
            assert entries[key]["message"] == \
                "VirtualService default/broken: spec.http[0].route: total destination weight = 0"
            return True
        wait_until(reported, 10, "push_status to report bad.yaml")
    finally:
        os.remove(bad)
    wait_until(lambda: "keel_invalid_config" not in keel.json("/debug/push_status"), 10, "the error to clear")


def test_config_dump_and_configz_errors(keel):
    status, body = keel.get("/debug/config_dump")
    assert (status, body) == (400, "You must provide a proxyID in the query string\n")
    status, _ = keel.get("/debug/config_dump?proxyID=nope")
    assert status == 404
    dump = keel.json("/debug/config_dump?proxyID=" + urllib.parse.quote(NODE_ID))
    assert dump["proxyID"] == NODE_ID
    assert isinstance(keel.json("/debug/configz"), list)
    assert set(keel.json("/debug/list")) >= {"adsz", "syncz", "registryz", "endpointz", "push_status",
                                             "connections", "configz", "config_dump"}


KEY = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgdebugtestkey\n-----END PRIVATE KEY-----\n"
CERT = "-----BEGIN CERTIFICATE-----\nMIIBdebugtestcert\n-----END CERTIFICATE-----\n"


def test_configz_lists_secrets_and_configmaps_without_their_data(keel):
    b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    path = os.path.join(keel.config_dir, "secrets.yaml")
    write_atomically(path, f"""apiVersion: v1
kind: Secret
metadata: {{name: gw-cert, namespace: default}}
type: kubernetes.io/tls
data: {{tls.crt: {b64(CERT)}, tls.key: {b64(KEY)}}}
---
apiVersion: v1
kind: Secret
metadata: {{name: db, namespace: default, annotations: {{kubectl.kubernetes.io/last-applied-configuration: 'hunter2'}}}}
stringData: {{password: hunter2}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: istio-ca-root-cert, namespace: default}}
data: {{root-cert.pem: {json.dumps(CERT)}}}
""")
    try:
        def listed():
            return {(o["kind"], o["metadata"]["name"]): o for o in keel.json("/debug/configz")
                    if o["kind"] in ("Secret", "ConfigMap")}
        objects = wait_until(lambda: len(listed()) == 3 and listed(), 10, "configz to list the Secrets")
        assert objects[("Secret", "gw-cert")]["type"] == "kubernetes.io/tls"
        assert set(objects[("Secret", "db")]["metadata"]) == {"name", "namespace", "origin"}
        status, body = keel.get("/debug/configz")
        assert status == 200
        for marker in ("-----BEGIN", "PRIVATE KEY", "hunter2"):
            assert marker not in body
        assert key_material(json.loads(body), ["-----BEGIN", "PRIVATE KEY", "hunter2"]) is None
    finally:
        os.remove(path)
    wait_until(lambda: not any(o["kind"] == "Secret" for o in keel.json("/debug/configz")), 10, "the Secrets to go")


def test_metrics_parse_and_carry_istiods_names(keel):
    m = keel.metrics()
    assert keel.metric("pilot_xds", version="1.24.0") == 1
    for t in ("cds", "eds", "lds", "rds"):
        assert keel.metric("pilot_xds_pushes_total", type=t) > 0, t
        assert keel.metric("pilot_xds_push_time_count", type=t) > 0, t
    assert keel.metric("pilot_xds_config_size_bytes_count", type=CDS) > 0
    assert keel.metric("pilot_xds_config_size_bytes_sum", type=CDS) > 100
    # istiod's buckets.
    sizes = {float(l["le"]) for l, _ in m["pilot_xds_config_size_bytes_bucket"]}
    assert sizes == {1, 1e4, 1e6, 4e6, 1e7, 4e7, float("inf")}
    convergence = {float(l["le"]) for l, _ in m["pilot_proxy_convergence_time_bucket"]}
    assert convergence == {.1, .5, 1, 3, 5, 10, 20, 30, float("inf")}
    push_time = {float(l["le"]) for l, _ in m["pilot_xds_push_time_bucket"]}
    assert push_time == {.01, .1, 1, 3, 5, 10, 20, 30, float("inf")}
    init = {float(l["le"]) for l, _ in m["pilot_pushcontext_init_seconds_bucket"]}
    assert init == {.01, .1, .5, 1, 3, 5, float("inf")}
    assert keel.metric("pilot_debounce_time_count") >= 1
    assert keel.metric("pilot_pushcontext_init_seconds_count") >= 1
    assert keel.metric("pilot_push_triggers_total", type="config") >= 1
    assert keel.metric("pilot_push_triggers_total", type="endpoint") >= 1
    assert keel.metric("pilot_inbound_updates_total", type="config") >= 1
    assert keel.metric("pilot_inbound_updates_total", type="eds") == 6  # the six bookinfo Pods
    assert keel.metric("pilot_inbound_updates_total", type="svc") == 4
    assert keel.metric("pilot_services") == 4
    assert keel.metric("pilot_virt_services") == 1
    assert "pilot_total_xds_rejects_total" in m
    assert keel.metric("process_cpu_seconds_total") > 0
    assert keel.metric("process_resident_memory_bytes") > 1 << 20
    assert abs(keel.metric("process_start_time_seconds") - time.time()) < 3600


def test_convergence_time_is_recorded_after_an_edit(keel):
    count = keel.metric("pilot_proxy_convergence_time_count")
    route_sent = keel.syncz_entry()["route_sent"]
    write_atomically(os.path.join(keel.config_dir, "reviews-v2.yaml"),
                     "apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
                     "metadata: {name: reviews, namespace: default}\n"
                     "spec:\n  hosts: [reviews]\n  http:\n  - route:\n"
                     "    - destination: {host: reviews, subset: v2}\n")
    wait_until(lambda: keel.syncz_entry()["route_sent"] != route_sent and keel.synced(), 10,
               "the new route to be sent and ACKed")
    wait_until(lambda: keel.metric("pilot_proxy_convergence_time_count") == count + 1, 5,
               "a convergence observation")
    # From the file event to the ACK: the debounce (100 ms quiet) plus a round trip.
    assert keel.metric("pilot_proxy_convergence_time_bucket", le="30") == count + 1
    assert keel.metric("pilot_inbound_updates_total", type="config") >= 1
    assert keel.metric("pilot_virt_services") == 2


def test_nack_counts_as_a_reject_and_shows_stale(keel):
    path = os.path.join(keel.config_dir, "destination-rules.yaml")
    with open(path) as f:
        original = f.read()
    rejects = keel.metric("pilot_total_xds_rejects_total", type="cds")
    # gRPC's xDS client accepts ROUND_ROBIN and RING_HASH only: RANDOM makes it NACK the clusters.
    broken = original.replace("  host: reviews\n", "  host: reviews\n  trafficPolicy: {loadBalancer: {simple: RANDOM}}\n")
    assert broken != original
    write_atomically(path, broken)
    try:
        wait_until(lambda: keel.metric("pilot_total_xds_rejects_total", type="cds") > rejects, 10, "a CDS reject")
        assert keel.metric("pilot_xds_cds_reject") >= 1
        e = keel.syncz_entry()
        assert e["cluster_status"] == "STALE" and e["cluster_acked"] != e["cluster_sent"]
    finally:
        write_atomically(path, original)
    wait_until(keel.synced, 10, "SYNCED again after the fix")


def test_debug_needs_a_token_unless_local(keel):
    addr = non_loopback_address()
    if addr is None:
        pytest.skip("this host has no non-loopback address to send a non-local request from")
    remote = f"http://{addr}:{keel.mon}"
    for path in ("/debug/syncz", "/debug/configz", "/debug/adsz?push=true"):
        assert get(remote + path) == (401, ""), path
        # --config-dir without a cluster: no API server to review the token with.
        assert get(remote + path, {"Authorization": "Bearer some-token"}) == (401, ""), path
    assert "Failed to authenticate /debug/syncz" in keel.log()
    # Probes and scrapes stay open, as in istiod.
    assert get(remote + "/ready")[0] == 200
    assert get(remote + "/metrics")[0] == 200
    assert keel.metric("pilot_push_triggers_total", type="debug") == 1  # the 401 pushes did not push


def test_a_pod_change_is_an_eds_push_generated_on_the_push_workers(keel):
    """A Pod's new IP (one the client has endpoints of) rebuilds only endpoints (no full PushContext) and is sent as
    EDS alone; every generation so far, this client's included, ran on the push
    workers."""
    full = keel.metric("keel_pushcontext_builds_total", kind="full")
    endpoints = keel.metric("keel_pushcontext_builds_total", kind="endpoints")
    generated = {t: keel.metric("keel_xds_generations_total", type=t) for t in ("cds", "lds", "rds", "eds")}
    endpoint_sent = keel.syncz_entry()["endpoint_sent"]
    path = os.path.join(keel.config_dir, "pods.yaml")
    with open(path) as f:
        pods = f.read()
    # reviews-v2-0: the client routes to subset v2 since the convergence test's edit.
    assert pods.count("10.244.0.14") == 2  # its podIP and podIPs
    write_atomically(path, pods.replace("10.244.0.14", "10.244.0.99"))
    wait_until(lambda: keel.syncz_entry()["endpoint_sent"] != endpoint_sent and keel.synced(), 10,
               "the moved endpoint to be sent and ACKed")
    assert keel.metric("keel_pushcontext_builds_total", kind="full") == full
    assert keel.metric("keel_pushcontext_builds_total", kind="endpoints") == endpoints + 1
    for t in ("cds", "lds", "rds"):
        assert keel.metric("keel_xds_generations_total", type=t) == generated[t], t
    assert keel.metric("keel_xds_generations_total", type="eds") > generated["eds"]
    assert "keel_xds_generation_off_worker_total" in keel.metrics()
    assert keel.metric("keel_xds_generation_off_worker_total") == 0
