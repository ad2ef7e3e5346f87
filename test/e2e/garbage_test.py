"""Garbage on every port keel-discovery listens on, then proof it still serves.

keel-discovery serves a copy of examples/bookinfo with a CA in a directory (so the
TLS port is up too). Each port gets random bytes, an HTTP/1 request where gRPC is
expected, a connection that says nothing, and the xDS port a gRPC call whose
message is not a DiscoveryRequest (INVALID_ARGUMENT naming the type). The monitoring port gets an
unterminated 300 MiB header (431 after about 16 KiB) and a 300 MiB body (413 before it is read). Afterwards the
process is alive, /ready is 200, and Istio's delta client (a real xDS client) still gets the mesh.
Run: KEEL_DISCOVERY_BIN=... KEEL_DELTA_CLIENT=... build/venv/bin/python -m pytest test/e2e/garbage_test.py
"""

import json
import os
import select
import shutil
import socket
import subprocess
import tempfile

import grpc
import pytest
from keeltest import CDS, free_port, keel_discovery, process_rss

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NODE = "sidecar~10.1.0.9~productpage-v1-0.default~default.svc.cluster.local"
ADS = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"
DELTA = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources"


@pytest.fixture(scope="module")
def keel():
    tmp = tempfile.mkdtemp(prefix="keel-garbage-")
    config_dir = os.path.join(tmp, "config")
    shutil.copytree(os.path.join(ROOT, "examples", "bookinfo"), config_dir)
    secure = free_port()
    args = ["--config-dir", config_dir, "--ca-dir", os.path.join(tmp, "ca"), "--secure-grpc-addr",
            f"127.0.0.1:{secure}", "--webhook-addr", "127.0.0.1:0", "--serving-cert-dir", os.path.join(tmp, "serving")]
    try:
        with keel_discovery(args, os.path.join(tmp, "keel.log")) as k:
            k.secure_addr = f"127.0.0.1:{secure}"
            k.tmp = tmp
            yield k
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def send_and_drain(addr, payload):
    """Sends `payload` (may be empty) and reads until the peer closes or 3 s pass."""
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=3) as s:
        if payload:
            s.sendall(payload)
        try:
            while s.recv(4096):
                pass
        except (socket.timeout, ConnectionResetError):
            pass


def ports(keel):
    return {"xds": keel.xds_addr, "tls": keel.secure_addr, "monitoring": f"127.0.0.1:{keel.mon}"}


@pytest.mark.parametrize("payload", [os.urandom(8192), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"",
                                     b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + os.urandom(512),
                                     b"\x16\x03\x01\x02\x00" + os.urandom(600)],
                         ids=["random", "http1", "silence", "h2-preface-then-noise", "tls-record-of-noise"])
def test_garbage_on_every_port_is_dropped(keel, payload):
    for name, addr in ports(keel).items():
        send_and_drain(addr, payload)
        assert keel.process.poll() is None, f"keel-discovery died after garbage on the {name} port"
    assert keel.get("/ready")[0] == 200


@pytest.mark.parametrize("method,message", [(ADS, "DiscoveryRequest"), (DELTA, "DeltaDiscoveryRequest")])
def test_a_message_that_is_not_a_discovery_request_is_invalid_argument(keel, method, message):
    with grpc.insecure_channel(keel.xds_addr) as channel:
        call = channel.stream_stream(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        responses = call(iter([b"\xff\xff\xff\xff not a protobuf"]), timeout=5)
        with pytest.raises(grpc.RpcError) as failed:
            list(responses)
        assert failed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert failed.value.details() == f"the message is not a envoy.service.discovery.v3.{message}"
    assert keel.process.poll() is None


def send_until_answered(port, head, filler, total):
    """Sends `head`, then up to `total` bytes of `filler` while the server reads and has not
    answered; returns (filler bytes sent, the response's status line or None)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head)
        s.setblocking(False)
        chunk, sent = filler * 65536, 0
        while sent < total:
            readable, writable, _ = select.select([s], [s], [], 10)
            if readable or not writable:  # an answer came, or the server stopped reading for 10 s
                break
            try:
                sent += s.send(chunk[:total - sent])
            except BlockingIOError:
                continue
            except OSError:  # reset: the server closed
                break
        s.settimeout(10)
        answer = b""
        try:
            while b"\r\n" not in answer:
                data = s.recv(4096)
                if not data:
                    break
                answer += data
        except OSError:
            pass
        return sent, (answer.split(b"\r\n", 1)[0].decode(errors="replace") if answer else None)


def test_monitoring_port_refuses_a_huge_header_and_body_then_serves(keel):
    rss_before = process_rss(keel.process.pid)
    sent, status = send_until_answered(keel.mon, b"GET /ready HTTP/1.1\r\nX-Long: ", b"a", 300 << 20)
    assert status == "HTTP/1.1 431 Request Header Fields Too Large", f"after {sent} bytes: {status}"
    assert sent < 32 << 20, f"the monitoring server read {sent} bytes of one header"
    print(f"431 after {sent} bytes sent")
    sent, status = send_until_answered(keel.mon, b"GET /ready HTTP/1.1\r\nContent-Length: 314572800\r\n\r\n",
                                       b"z", 300 << 20)
    assert status == "HTTP/1.1 413 Payload Too Large", f"after {sent} bytes: {status}"
    assert sent < 32 << 20, f"the monitoring server read {sent} bytes of one body"
    print(f"413 after {sent} bytes sent; RSS {rss_before} -> {process_rss(keel.process.pid)}")
    assert process_rss(keel.process.pid) < rss_before + (64 << 20)
    assert keel.process.poll() is None
    assert keel.get("/ready")[0] == 200


def test_still_serving_a_real_xds_client(keel):
    out = os.path.join(keel.tmp, "after.json")
    client = os.environ.get("KEEL_DELTA_CLIENT")
    assert client and os.access(client, os.X_OK), "set KEEL_DELTA_CLIENT (scripts/dev.sh test builds it)"
    run = subprocess.run([client, "--addr", keel.xds_addr, "--node-id", NODE, "--meta", "NAMESPACE=default",
                          "--watch", CDS, "--expect-json", out, "--timeout", "20s"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    with open(out) as f:
        assert "outbound|9080|v1|reviews.default.svc.cluster.local" in json.load(f)[CDS]
    assert keel.get("/ready")[0] == 200
