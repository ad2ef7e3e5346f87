"""End to end with a second real xDS client: Python grpcio dialling xds:///.

keel-discovery serves a config dir; two grpcio echo backends on 127.0.0.2/3 answer
"v1"/"v2"; a grpcio channel to xds:///echo.default.svc.cluster.local:PORT must route
per the VirtualService, and follow an edit of it without a new channel.
Run: KEEL_DISCOVERY_BIN=build/pilot/keel-discovery build/venv/bin/python -m pytest test/e2e/python_xds_test.py
"""

import json
import os
import tempfile
import urllib.parse

import grpc
import pytest
from keeltest import echo_server, free_port, keel_discovery, wait_until, write_atomically

METHOD = "/keel.test.Echo/Who"


CONFIG = """
apiVersion: v1
kind: Service
metadata: {{name: echo, namespace: default}}
spec:
  clusterIP: 10.96.0.10
  selector: {{app: echo}}
  ports: [{{name: grpc-echo, port: {port}, targetPort: {port}}}]
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {{name: echo, namespace: default}}
spec:
  host: echo
  subsets:
  - {{name: v1, labels: {{version: v1}}}}
  - {{name: v2, labels: {{version: v2}}}}
""" + "".join("""---
apiVersion: v1
kind: Pod
metadata: {{name: echo-{v}, namespace: default, labels: {{app: echo, version: {v}}}}}
spec: {{containers: [{{name: echo, ports: [{{name: grpc-echo, containerPort: {port}}}]}}]}}
status:
  phase: Running
  podIP: {ip}
  conditions: [{{type: Ready, status: "True"}}]
""".replace("{v}", v).replace("{ip}", ip) for v, ip in (("v1", "127.0.0.2"), ("v2", "127.0.0.3")))

ROUTE = """apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {{name: echo, namespace: default}}
spec:
  hosts: [echo]
  http:
  - route:
    - destination: {{host: echo, subset: {subset}}}
"""


@pytest.fixture(scope="module")
def mesh():
    binary = os.environ.get("KEEL_DISCOVERY_BIN")
    assert binary and os.access(binary, os.X_OK), "set KEEL_DISCOVERY_BIN to the keel-discovery binary"
    port = free_port("127.0.0.2")
    servers = [echo_server(f"127.0.0.2:{port}", "v1"), echo_server(f"127.0.0.3:{port}", "v2")]
    tmp = tempfile.mkdtemp(prefix="keel-pyxds-")
    config_dir = os.path.join(tmp, "config")
    os.mkdir(config_dir)
    with open(os.path.join(config_dir, "echo.yaml"), "w") as f:
        f.write(CONFIG.format(port=port))
    write_atomically(os.path.join(config_dir, "route.yaml"), ROUTE.format(subset="v1"))
    try:
        with keel_discovery(["--config-dir", config_dir, "--log-level", "debug"],
                            os.path.join(tmp, "keel.log")) as keel:
            node_id = "sidecar~127.0.0.1~pyclient.default~default.svc.cluster.local"
            bootstrap = os.path.join(tmp, "bootstrap.json")
            with open(bootstrap, "w") as f:
                json.dump({"xds_servers": [{"server_uri": keel.xds_addr,
                                            "channel_creds": [{"type": "insecure"}],
                                            "server_features": ["xds_v3"]}],
                           "node": {"id": node_id, "locality": {},
                                    "metadata": {"GENERATOR": "grpc", "NAMESPACE": "default"}}}, f)
            os.environ["GRPC_XDS_BOOTSTRAP"] = bootstrap
            channel = grpc.insecure_channel(f"xds:///echo.default.svc.cluster.local:{port}")
            yield {"channel": channel, "config_dir": config_dir, "keel": keel, "node": node_id}
            channel.close()
    finally:
        for s in servers:
            s.stop(0)


def who(channel):
    call = channel.unary_unary(METHOD, request_serializer=lambda b: b, response_deserializer=lambda b: b)
    return call(b"", timeout=5, wait_for_ready=True).decode()


def test_routes_to_the_subset_the_virtual_service_names(mesh):
    assert [who(mesh["channel"]) for _ in range(10)] == ["v1"] * 10


def test_follows_an_edit_without_a_new_channel(mesh):
    write_atomically(os.path.join(mesh["config_dir"], "route.yaml"), ROUTE.format(subset="v2"))
    wait_until(lambda: who(mesh["channel"]) == "v2", 10, "traffic to move to v2")
    assert [who(mesh["channel"]) for _ in range(10)] == ["v2"] * 10
    # One ADS stream the whole time: the client did not reconnect.
    assert mesh["keel"].log().count("ADS: new connection") == 1


def test_everything_sent_was_acked(mesh):
    status, body = mesh["keel"].get(f"/debug/config_dump?proxyID={urllib.parse.quote(mesh['node'])}")
    assert status == 200, body
    dump = json.loads(body)
    assert set(dump["xds"]) >= {"LDS", "RDS", "CDS", "EDS"}
    for type_name, state in dump["xds"].items():
        assert state["acked"], f"{type_name} not acked: {state}"
        assert "lastNack" not in state
