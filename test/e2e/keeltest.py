"""What the Python end-to-end tests share: free loopback ports, bounded waits,
HTTP GETs that return error statuses instead of raising, and keel-discovery
started as a subprocess and stopped again.

Test files in test/e2e import it by name (pytest puts their directory on sys.path).
"""

import base64
import binascii
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

# xDS type URLs.
CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
LDS = "type.googleapis.com/envoy.config.listener.v3.Listener"
RDS = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"


def envoy_messages(descriptor_set_path, *names):
    """Message classes for the fully qualified `names` (e.g.
    "envoy.service.discovery.v3.DiscoveryRequest"), from the FileDescriptorSet the
    build compiles the Envoy protos from (build/envoy_closure.pb), in a pool of their
    own. Returns them in the order asked."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    fds = descriptor_pb2.FileDescriptorSet()
    with open(descriptor_set_path, "rb") as f:
        fds.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for fd in fds.file:
        pool.Add(fd)
    return [message_factory.GetMessageClass(pool.FindMessageTypeByName(n)) for n in names]


def envoy_descriptors():
    """The path of the build's Envoy FileDescriptorSet (KEEL_ENVOY_DESCRIPTORS, build/envoy_closure.pb)."""
    path = os.environ.get("KEEL_ENVOY_DESCRIPTORS")
    assert path and os.path.exists(path), "set KEEL_ENVOY_DESCRIPTORS to build/envoy_closure.pb"
    return path


def process_rss(pid):
    """Resident set size of process `pid`, in bytes (VmRSS)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def key_material(value, markers):
    """The first JSON string in `value` holding one of `markers`, as text or as base64
    (Secret data and DataSource inline bytes are base64 in JSON), cut to 80
    characters; None if there is none."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return next((m for v in value if (m := key_material(v, markers)) is not None), None)
    if not isinstance(value, str):
        return None
    texts = [value]
    try:
        texts.append(base64.b64decode(value, validate=True).decode("latin-1"))
    except (binascii.Error, ValueError):
        pass
    return value[:80] if any(m in t for t in texts for m in markers) else None


_handed_out = set()


def free_port(host="127.0.0.1"):
    """A port nothing listens on now, never the same twice in this process (the
    kernel may hand a just-closed port out again before its first user binds it)."""
    while True:
        with socket.socket() as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def non_loopback_address():
    """An address of this host that is not loopback (a request from it is not local), or None."""
    candidates = []
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # sends nothing: only picks a source address
            candidates.append(s.getsockname()[0])
    except OSError:
        pass
    try:
        candidates += socket.gethostbyname_ex(socket.gethostname())[2]
    except OSError:
        pass
    return next((a for a in candidates if not a.startswith("127.")), None)


def write_atomically(path, text):
    """Writes `path` by rename, so a watcher never reads half a file."""
    tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def wait_until(predicate, timeout, what, interval=0.1):
    """Polls predicate() until it returns something truthy, which is returned.
    Exceptions count as "not yet"; the last one is reported on timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - reported on timeout
            last = e
        if time.monotonic() >= deadline:
            why = f" (last error: {last!r})" if last else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{why}")
        time.sleep(interval)


def http_get(url, headers=None, timeout=5):
    """(status, body text) of a GET; HTTP errors are answers too; (None, "") if nothing answers."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:  # refused, reset, timed out: nothing answers
        return None, ""


class Keel:
    """A running keel-discovery: its xDS address, monitoring port and log."""

    def __init__(self, process, xds_addr, mon_port, log_path):
        self.process = process
        self.xds_addr = xds_addr
        self.mon = mon_port
        self.log_path = log_path

    def url(self, path):
        return f"http://127.0.0.1:{self.mon}{path}"

    def get(self, path, headers=None):
        return http_get(self.url(path), headers)

    def log(self):
        with open(self.log_path) as f:
            return f.read()


@contextlib.contextmanager
def keel_discovery(args, log_path, monitoring_host="127.0.0.1", ready_timeout=15, keel_class=Keel, preexec_fn=None):
    """Runs $KEEL_DISCOVERY_BIN with `args` plus free --grpc-addr/--monitoring-addr
    ports until /ready answers 200 (bounded; fails at once if it exits), yields a
    `keel_class` (Keel or a subclass), and stops it afterwards. `preexec_fn` runs
    in the child before exec (e.g. to lower a resource limit)."""
    binary = os.environ.get("KEEL_DISCOVERY_BIN")
    assert binary and os.access(binary, os.X_OK), "set KEEL_DISCOVERY_BIN to the keel-discovery binary"
    xds_port, mon_port = free_port(), free_port()
    with open(log_path, "w") as log:
        proc = subprocess.Popen([binary, *args, "--grpc-addr", f"127.0.0.1:{xds_port}",
                                 "--monitoring-addr", f"{monitoring_host}:{mon_port}"],
                                stdout=log, stderr=subprocess.STDOUT, preexec_fn=preexec_fn)
        keel = keel_class(proc, f"127.0.0.1:{xds_port}", mon_port, log_path)
        try:
            wait_until(lambda: proc.poll() is not None or keel.get("/ready")[0] == 200, ready_timeout,
                       f"keel-discovery /ready (log: {log_path})")
            assert proc.poll() is None, f"keel-discovery exited with {proc.returncode}:\n{keel.log()[-4000:]}"
            yield keel
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.contextmanager
def keel_on_bookinfo(prefix, files=None, args=()):
    """keel_discovery serving a copy of examples/bookinfo (plus `files`, name -> YAML)
    in a temp dir removed afterwards; the Keel yielded has `config_dir` and `tmp`."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    tmp = tempfile.mkdtemp(prefix=prefix)
    config_dir = os.path.join(tmp, "config")
    shutil.copytree(os.path.join(root, "examples", "bookinfo"), config_dir)
    for name, text in (files or {}).items():
        write_atomically(os.path.join(config_dir, name), text)
    try:
        with keel_discovery(["--config-dir", config_dir, *args], os.path.join(tmp, "keel.log")) as k:
            k.config_dir, k.tmp = config_dir, tmp
            yield k
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


REVIEWS_V1_NODE = "sidecar~10.1.0.3~reviews-v1-0.default~default.svc.cluster.local"
ADS_METHOD = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"


def reviews_virtual_inbound(keel, request_cls, response_cls, listener_cls):
    """virtualInbound as Bookinfo's reviews-v1 sidecar gets it (one SotW request over
    grpcio, the build's Envoy message classes), decoded as a Listener."""
    import grpc  # only the tests that fetch xDS need it

    request = request_cls(type_url=LDS, resource_names=["virtualInbound"])
    request.node.id = REVIEWS_V1_NODE
    request.node.metadata.fields["NAMESPACE"].string_value = "default"
    request.node.metadata.fields["LABELS"].struct_value.fields["app"].string_value = "reviews"
    request.node.metadata.fields["LABELS"].struct_value.fields["version"].string_value = "v1"
    with grpc.insecure_channel(keel.xds_addr) as channel:
        call = channel.stream_stream(ADS_METHOD, request_serializer=request_cls.SerializeToString,
                                     response_deserializer=response_cls.FromString)(iter([request]), timeout=10)
        response = next(call)
        call.cancel()
    assert len(response.resources) == 1, response
    listener = listener_cls()
    listener.ParseFromString(response.resources[0].value)
    return listener


def pick_filter_chain(chains, port, transport, alpns):
    """The chain Envoy's filter-chain matcher picks for a connection to `port` with this
    transport protocol ("tls", "raw_buffer") and ALPN list, or None (no chain: closed).
    `chains`: (chain, destination port or None, transport protocol or "", [ALPNs]) per
    filter chain, so the same matcher serves decoded protos and protojson dicts. Each
    criterion, in Envoy's order, keeps the chains that name a matching value if any do,
    else those that name none."""
    candidates = list(chains)
    for index, matches in ((1, lambda p: p == port), (2, lambda t: t == transport),
                           (3, lambda ps: any(a in ps for a in alpns))):
        specific = [c for c in candidates if c[index] and matches(c[index])]
        candidates = specific if specific else [c for c in candidates if not c[index]]
    assert len(candidates) <= 1, f"{len(candidates)} filter chains match port {port} {transport} {alpns}"
    return candidates[0][0] if candidates else None


def echo_server(address, name):
    """A started grpcio server on `address` whose /keel.test.Echo/Who answers `name`."""
    import grpc  # here, not at the top: most users of this module need no grpcio
    from concurrent import futures
    handler = grpc.method_handlers_generic_handler(
        "keel.test.Echo", {"Who": grpc.unary_unary_rpc_method_handler(lambda req, ctx: name.encode())})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(address)
    server.start()
    return server
