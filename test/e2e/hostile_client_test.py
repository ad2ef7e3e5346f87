"""What one misbehaving xDS client can make keel-discovery log and hold.

keel-discovery serves a copy of examples/bookinfo. The clients are ours (grpcio with
the build's Envoy messages), written to do what a broken or hostile proxy does:
- a SotW stream that NACKs the same response 20,000 times, as fast as it can send:
  Keel's log stays under 1 MB (per-site rate-limited warnings, the count of lines
  left out said in the next one written) while pilot_total_xds_rejects counts every
  NACK;
- a delta stream that subscribes 100,000 made-up EDS names per request: past the
  default bound (--max-subscribed-names 100000) the stream is closed with
  RESOURCE_EXHAUSTED naming the flag, and Keel's RSS returns to within 32 MiB of
  where it was (the made-up names are not kept in the XdsCache either);
- after both, Istio's delta client (a real xDS client) still gets the mesh.
Run: KEEL_DISCOVERY_BIN=... KEEL_ENVOY_DESCRIPTORS=build/envoy_closure.pb KEEL_DELTA_CLIENT=... \
    build/venv/bin/python -m pytest test/e2e/hostile_client_test.py
"""

import json
import os
import queue
import subprocess
import time

import grpc
import pytest
from keeltest import CDS, EDS, envoy_descriptors, envoy_messages, keel_on_bookinfo, process_rss, wait_until

NODE = "sidecar~10.1.0.9~productpage-v1-0.default~default.svc.cluster.local"
ADS = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"
DELTA = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources"


@pytest.fixture(scope="module")
def keel():
    with keel_on_bookinfo("keel-hostile-client-") as k:
        yield k


@pytest.fixture(scope="module")
def messages():
    path = envoy_descriptors()
    names = ("DiscoveryRequest", "DiscoveryResponse", "DeltaDiscoveryRequest", "DeltaDiscoveryResponse")
    return dict(zip(names, envoy_messages(path, *(f"envoy.service.discovery.v3.{n}" for n in names))))


class Stream:
    """A bidi ADS stream fed from a queue; responses read with next()."""

    def __init__(self, channel, method, request_cls, response_cls, timeout=120):
        self.requests = queue.Queue()

        def feed():
            while (r := self.requests.get()) is not None:
                yield r

        self.call = channel.stream_stream(method, request_serializer=request_cls.SerializeToString,
                                          response_deserializer=response_cls.FromString)(feed(), timeout=timeout)

    def close(self):
        self.requests.put(None)
        self.call.cancel()


def counter(keel, name, **labels):
    status, body = keel.get("/metrics")
    assert status == 200
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in body.splitlines():
        if line.startswith(f"{name}{{{want}}} " if want else f"{name} "):
            return float(line.split()[-1])
    return 0.0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_nack_loop_is_counted_not_logged(keel, messages):
    request_cls, response_cls = messages["DiscoveryRequest"], messages["DiscoveryResponse"]
    nacks = 20000
    channel = grpc.insecure_channel(keel.xds_addr)
    stream = Stream(channel, ADS, request_cls, response_cls)
    try:
        first = request_cls(type_url=CDS)
        first.node.id = NODE
        first.node.metadata.fields["NAMESPACE"].string_value = "default"
        stream.requests.put(first)
        response = next(stream.call)
        assert response.type_url == CDS and response.resources
        before_log = os.path.getsize(keel.log_path)
        before_rejects = counter(keel, "pilot_total_xds_rejects", type="cds")
        before_cpu, began = cpu_seconds(keel.process.pid), time.monotonic()
        nack = request_cls(type_url=CDS, response_nonce=response.nonce, version_info="")
        nack.error_detail.code = 3
        nack.error_detail.message = "rejected: " + "x" * 200
        for _ in range(nacks):
            stream.requests.put(nack)
        wait_until(lambda: counter(keel, "pilot_total_xds_rejects", type="cds") >= before_rejects + nacks, 60,
                   f"{nacks} NACKs counted")
        cpu, wall = cpu_seconds(keel.process.pid) - before_cpu, time.monotonic() - began
        logged = os.path.getsize(keel.log_path) - before_log
        print(f"{nacks} NACKs in {wall:.1f} s: {logged} bytes of log, {cpu:.2f} CPU seconds in keel-discovery")
        assert counter(keel, "pilot_total_xds_rejects", type="cds") == before_rejects + nacks, "every NACK counted"
        assert logged < 1 << 20, f"{logged} bytes of log for {nacks} NACKs"
        assert "similar lines suppressed" in keel.log()
    finally:
        stream.close()
        channel.close()


def test_a_subscription_flood_is_refused_past_the_bound_and_memory_returns(keel, messages):
    request_cls, response_cls = messages["DeltaDiscoveryRequest"], messages["DeltaDiscoveryResponse"]
    pid = keel.process.pid
    rss_before = process_rss(pid)
    channel = grpc.insecure_channel(keel.xds_addr, options=[("grpc.max_send_message_length", 16 << 20)])
    stream = Stream(channel, DELTA, request_cls, response_cls)
    closed = None
    try:
        for round_ in range(3):
            r = request_cls(type_url=EDS)
            if round_ == 0:
                r.node.id = NODE
                r.node.metadata.fields["NAMESPACE"].string_value = "default"
            r.resource_names_subscribe.extend(f"made-up-{round_}-{i:06d}" for i in range(100000))
            stream.requests.put(r)
            try:
                response = next(stream.call)  # round 0: every name answered as removed (they do not exist)
                assert len(response.removed_resources) == 100000, len(response.removed_resources)
                print(f"round {round_}: 100,000 names answered as removed; RSS {process_rss(pid) >> 20} MiB")
            except grpc.RpcError as e:
                closed = (round_, e.code(), e.details())
                break
    finally:
        stream.close()
        channel.close()
    assert closed, "the stream should have been closed past 100,000 names"
    round_, code, details = closed
    assert round_ == 1 and code == grpc.StatusCode.RESOURCE_EXHAUSTED, closed
    assert "subscribed to 200000 resource names, more than the 100000" in details and "--max-subscribed-names" in details
    assert counter(keel, "keel_xds_streams_over_limit_total", bound="subscribed_names") == 1
    at_close = process_rss(pid)
    # Its state is dropped; what it made Keel cache is not kept (no such resources),
    # and the heap released every 2 s goes back to the OS.
    wait_until(lambda: process_rss(pid) < rss_before + (32 << 20), 20, "RSS back near where it was")
    print(f"RSS {rss_before >> 20} MiB before, {at_close >> 20} MiB at the close, {process_rss(pid) >> 20} MiB after")


def test_a_real_client_is_served_afterwards(keel, tmp_path):
    client = os.environ.get("KEEL_DELTA_CLIENT")
    assert client and os.access(client, os.X_OK), "set KEEL_DELTA_CLIENT (scripts/dev.sh test builds it)"
    out = str(tmp_path / "after.json")
    p = subprocess.run([client, "--addr", keel.xds_addr, "--node-id", NODE, "--meta", "NAMESPACE=default",
                        "--watch", CDS, "--expect-json", out, "--timeout", "20s"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr[-2000:]
    with open(out) as f:
        assert "outbound|9080|v1|reviews.default.svc.cluster.local" in json.load(f)[CDS]
    assert keel.process.poll() is None and keel.get("/ready")[0] == 200
