"""Helpers for the CA integration tests: a keel-discovery process against the real
kube-apiserver of the `kube` fixture, kubectl, openssl, Istio's CA API compiled at
test time with grpcio-tools, and the Envoy ADS messages from the build's descriptor set.

Nothing here fakes a component: tokens come from `kubectl create token` (TokenRequest),
certificates are checked with the openssl CLI, metrics with prometheus_client's parser.
"""

import base64
import importlib
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import uuid
from importlib import resources

import grpc
from prometheus_client.parser import text_string_to_metric_families

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "test", "e2e"))
from keeltest import envoy_messages, free_port, http_get, wait_until  # noqa: E402  (the e2e tests' shared helpers)
KUBECTL = os.environ.get("KUBECTL") or shutil.which("kubectl") or "kubectl"
OPENSSL = shutil.which("openssl") or "openssl"
SERVING_NAME = "istiod.istio-system.svc"  # the DNS SAN of Keel's serving certificate


def suffix():
    """A short random name part: reruns against the same API server never collide."""
    return uuid.uuid4().hex[:6]


# ---------------------------------------------------------------------------------------------
# kubectl
# ---------------------------------------------------------------------------------------------
def kubectl(*args, input=None, check=True, timeout=30):
    p = subprocess.run([KUBECTL, *args], input=input, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}")
    return p


def kubectl_json(*args):
    return json.loads(kubectl(*args, "-o", "json").stdout)


def apply(obj):
    kubectl("apply", "-f", "-", input=json.dumps(obj))


def exists(kind, name, namespace=None):
    args = ["get", kind, name] + (["-n", namespace] if namespace else [])
    return kubectl(*args, check=False).returncode == 0


def ensure_namespace(name):
    if not exists("namespace", name):
        kubectl("create", "namespace", name)


def create_token(sa, ns, audience="istio-ca", *extra):
    return kubectl("create", "token", sa, "-n", ns, "--audience", audience, *extra).stdout.strip()


def root_from_configmap(ns="istio-system"):
    cm = kubectl_json("get", "configmap", "istio-ca-root-cert", "-n", ns)
    return cm["data"]["root-cert.pem"]


def secret_field(ns, name, key):
    s = kubectl_json("get", "secret", name, "-n", ns)
    return base64.b64decode(s["data"][key]).decode()


# ---------------------------------------------------------------------------------------------
# JWTs (to forge one, or expire a real one)
# ---------------------------------------------------------------------------------------------
def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jwt_parts(token):
    header, payload, _ = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(payload))


def sign_jwt(header, payload, key_pem_path):
    """RS256 with openssl: the same algorithm the API server's service-account keys use."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    sig = subprocess.run([OPENSSL, "dgst", "-sha256", "-sign", key_pem_path], input=signing_input.encode(),
                         capture_output=True, check=True).stdout
    return f"{signing_input}.{b64url(sig)}"


# ---------------------------------------------------------------------------------------------
# openssl
# ---------------------------------------------------------------------------------------------
def openssl(*args, input=None, check=True):
    p = subprocess.run([OPENSSL, *args], input=input, capture_output=True, text=True, timeout=30)
    if check and p.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} failed: {p.stderr.strip()}")
    return p


def new_key(path, key_type="ec", rsa_bits=2048):
    if key_type == "ec":
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)
    else:
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{rsa_bits}", "-out", path)
    return path


def make_csr(key_path, subject="/O=evil corp/CN=admin", sans=()):
    """A CSR with a subject and SANs of its own (Keel must ignore both)."""
    args = ["req", "-new", "-key", key_path, "-subj", subject]
    if sans:
        args += ["-addext", "subjectAltName=" + ",".join(sans)]
    return openssl(*args).stdout


def corrupt_csr_signature(csr_pem):
    """The same CSR with its signature's last byte flipped: well-formed, does not verify."""
    body = "".join(line for line in csr_pem.strip().splitlines() if not line.startswith("-----"))
    der = bytearray(base64.b64decode(body))
    der[-1] ^= 0x01
    b64 = base64.b64encode(bytes(der)).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN CERTIFICATE REQUEST-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE REQUEST-----\n"


def self_signed_cert(tmp, name):
    """A self-signed certificate from a root nobody else trusts (key, cert paths)."""
    key, cert = os.path.join(tmp, f"{name}.key"), os.path.join(tmp, f"{name}.pem")
    new_key(key)
    openssl("req", "-x509", "-key", key, "-out", cert, "-days", "1", "-subj", f"/O=not the mesh/CN={name}",
            "-addext", f"subjectAltName=URI:spiffe://cluster.local/ns/default/sa/{name}")
    return key, cert


def split_pem(bundle):
    out, cur = [], []
    for line in bundle.splitlines():
        cur.append(line)
        if line.startswith("-----END"):
            out.append("\n".join(cur) + "\n")
            cur = []
    return out


def cert_text(pem):
    return openssl("x509", "-noout", "-text", input=pem).stdout


def cert_sans(pem):
    """The SubjectAltName entries, e.g. ["URI:spiffe://..."] (empty when none)."""
    out = openssl("x509", "-noout", "-ext", "subjectAltName", input=pem).stdout
    lines = [l.strip() for l in out.splitlines()[1:] if l.strip()]
    return [s.strip() for l in lines for s in l.split(",")]


def cert_fingerprint(pem):
    return openssl("x509", "-noout", "-fingerprint", "-sha256", input=pem).stdout.strip()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def verify_chain(tmp, chain, root_pem):
    """`openssl verify -CAfile root -untrusted <intermediates> leaf`; returns the CompletedProcess."""
    root = write(os.path.join(tmp, f"verify-root-{suffix()}.pem"), root_pem)
    leaf = write(os.path.join(tmp, f"verify-leaf-{suffix()}.pem"), chain[0])
    args = ["verify", "-CAfile", root]
    if len(chain) > 1:
        args += ["-untrusted", write(os.path.join(tmp, f"verify-chain-{suffix()}.pem"), "".join(chain[1:]))]
    return openssl(*args, leaf, check=False)


class TlsPeer:
    """`openssl s_server` requiring a client certificate (-Verify 1), one connection."""

    def __init__(self, cert, key, ca_file, extra=()):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [OPENSSL, "s_server", "-accept", f"127.0.0.1:{self.port}", "-cert", cert, "-key", key, "-CAfile", ca_file,
             "-Verify", "1", "-verify_return_error", "-naccept", "1", *extra],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(10):
            self.close()
            raise AssertionError("openssl s_server did not start: " + "".join(self.lines))

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)
            if line.startswith("ACCEPT"):
                self._ready.set()
        self._ready.set()

    def connect(self, cert, key, ca_file):
        """`openssl s_client` with a client certificate; returns (returncode, output)."""
        p = subprocess.run([OPENSSL, "s_client", "-connect", f"127.0.0.1:{self.port}", "-cert", cert, "-key", key,
                            "-CAfile", ca_file, "-verify_return_error"],
                           input="Q\n", capture_output=True, text=True, timeout=20)
        return p.returncode, p.stdout + p.stderr

    def close(self):
        """Ends the server; returns everything it printed."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(5)
        return "".join(self.lines)


# ---------------------------------------------------------------------------------------------
# gRPC: Istio's CA API (compiled now) and Envoy's ADS (from the build's descriptor set)
# ---------------------------------------------------------------------------------------------
_ca_modules = None


def ca_api(tmp):
    """(ca_pb2, ca_pb2_grpc) for istio.v1.auth, generated by grpcio-tools into tmp from
    security/v1alpha1/ca.proto of the pinned istio.io/api ($KEEL_ISTIO_API_DIR, set by ca.cmake)."""
    global _ca_modules
    if _ca_modules:
        return _ca_modules
    from grpc_tools import protoc
    out = os.path.join(tmp, "gen")
    os.makedirs(out, exist_ok=True)
    wkt = str(resources.files("grpc_tools") / "_proto")
    api = os.environ["KEEL_ISTIO_API_DIR"]
    rc = protoc.main(["protoc", f"-I{api}", f"-I{wkt}", f"--python_out={out}",
                      f"--grpc_python_out={out}", "security/v1alpha1/ca.proto"])
    assert rc == 0, f"protoc failed on {api}/security/v1alpha1/ca.proto"
    sys.path.insert(0, out)
    _ca_modules = (importlib.import_module("security.v1alpha1.ca_pb2"),
                   importlib.import_module("security.v1alpha1.ca_pb2_grpc"))
    return _ca_modules


class Envoy:
    """Envoy/xDS message classes from the FileDescriptorSet the build compiles the protos
    from (KEEL_ENVOY_DESCRIPTORS: build/envoy_closure.pb), in a pool of their own."""

    def __init__(self, descriptor_set_path):
        self.DiscoveryRequest, self.DiscoveryResponse, self.Listener, self.Secret = envoy_messages(
            descriptor_set_path, "envoy.service.discovery.v3.DiscoveryRequest",
            "envoy.service.discovery.v3.DiscoveryResponse", "envoy.config.listener.v3.Listener",
            "envoy.extensions.transport_sockets.tls.v3.Secret")

    LISTENER_TYPE = "type.googleapis.com/envoy.config.listener.v3.Listener"
    SECRET_TYPE = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
    CLUSTER_TYPE = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
    ADS_METHOD = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"
    SDS_METHOD = "/envoy.service.secret.v3.SecretDiscoveryService/StreamSecrets"  # SDS on its own, as Envoy's sds-grpc

    def request(self, type_url, node_id=None, metadata=None, nonce="", error_code=None):
        """A DiscoveryRequest; with `error_code` a NACK of `nonce` (error_detail.code)."""
        r = self.DiscoveryRequest(type_url=type_url, response_nonce=nonce)
        if node_id is not None:
            r.node.id = node_id
            for k, v in (metadata or {}).items():
                r.node.metadata.fields[k].string_value = v
        if error_code is not None:
            r.error_detail.code = error_code
            r.error_detail.message = f"rejected with code {error_code}"
        return r

    def stream(self, channel, timeout=60):
        """An open ADS stream: AdsStream.send() queues requests, recv() reads a response."""
        return AdsStream(self, channel, timeout)

    def fetch_listeners(self, channel, node_id, names, metadata, timeout=10, token=None):
        """One ADS stream (with `authorization: Bearer <token>` if given): asks for `names`
        (LDS) and returns the first response's Listener names."""
        return [l.name for l in self.fetch(self.LISTENER_TYPE, self.Listener, channel, node_id, names, metadata,
                                           timeout, token)]

    def fetch_secrets(self, channel, node_id, names, metadata, timeout=10, token=None, method=ADS_METHOD):
        """As fetch_listeners, for SDS: {name: Secret} of the first response."""
        return {s.name: s for s in self.fetch(self.SECRET_TYPE, self.Secret, channel, node_id, names, metadata,
                                              timeout, token, method)}

    def fetch(self, type_url, message_cls, channel, node_id, names, metadata, timeout, token, method=ADS_METHOD):
        request = self.DiscoveryRequest(type_url=type_url, resource_names=names)
        request.node.id = node_id
        for k, v in metadata.items():
            request.node.metadata.fields[k].string_value = v
        done = threading.Event()

        def requests():
            yield request
            done.wait(timeout)

        call = channel.stream_stream(method, request_serializer=self.DiscoveryRequest.SerializeToString,
                                     response_deserializer=self.DiscoveryResponse.FromString)(
            requests(), timeout=timeout, metadata=[("authorization", f"Bearer {token}")] if token else None)
        try:
            for response in call:
                if response.type_url != type_url:
                    continue
                out = []
                for any_ in response.resources:
                    message = message_cls()
                    message.ParseFromString(any_.value)
                    out.append(message)
                return out
            return []
        finally:
            done.set()
            call.cancel()


class AdsStream:
    def __init__(self, envoy, channel, timeout):
        self._requests = queue.Queue()

        def requests():
            while True:
                r = self._requests.get()
                if r is None:
                    return
                yield r

        self.call = channel.stream_stream(envoy.ADS_METHOD, request_serializer=envoy.DiscoveryRequest.SerializeToString,
                                          response_deserializer=envoy.DiscoveryResponse.FromString)(
            requests(), timeout=timeout)

    def send(self, request):
        self._requests.put(request)

    def recv(self):
        return next(self.call)

    def close(self):
        self._requests.put(None)
        self.call.cancel()


def task_count(pid):
    """Threads of process `pid` (/proc/PID/task)."""
    return len(os.listdir(f"/proc/{pid}/task"))


def tls_channel(port, root_pem, target_name=SERVING_NAME):
    creds = grpc.ssl_channel_credentials(root_certificates=root_pem.encode())
    return grpc.secure_channel(f"127.0.0.1:{port}", creds, options=[("grpc.ssl_target_name_override", target_name)])


def plaintext_channel(port):
    return grpc.insecure_channel(f"127.0.0.1:{port}")


def create_certificate(tmp, channel, token, csr, validity=0, timeout=20):
    """CreateCertificate; returns the chain. Raises grpc.RpcError."""
    ca_pb2, ca_pb2_grpc = ca_api(tmp)
    stub = ca_pb2_grpc.IstioCertificateServiceStub(channel)
    metadata = [("authorization", f"Bearer {token}")] if token is not None else []
    resp = stub.CreateCertificate(ca_pb2.IstioCertificateRequest(csr=csr, validity_duration=validity),
                                  metadata=metadata, timeout=timeout)
    return list(resp.cert_chain)


def rpc_error(fn):
    """Runs fn, which must fail with a gRPC error; returns (code, details)."""
    try:
        fn()
    except grpc.RpcError as e:
        return e.code(), e.details()
    raise AssertionError("the call succeeded but was expected to fail")


# ---------------------------------------------------------------------------------------------
# keel-discovery
# ---------------------------------------------------------------------------------------------
class Keel:
    """keel-discovery against the fixture's API server; ports chosen once and kept across restarts."""

    def __init__(self, tmp, system_namespace="istio-system", extra=()):
        self.binary = os.environ.get("KEEL_DISCOVERY_BIN", os.path.join(REPO, "build/pilot/keel-discovery"))
        assert os.access(self.binary, os.X_OK), f"{self.binary}: set KEEL_DISCOVERY_BIN to keel-discovery"
        self.kubeconfig = os.environ.get("KUBECONFIG")
        assert self.kubeconfig, "KUBECONFIG must point at the kube fixture (keel_kube_test sets it)"
        self.tmp = tmp
        self.system_namespace = system_namespace
        self.extra = list(extra)
        self.grpc_port, self.secure_port, self.mon_port = free_port(), free_port(), free_port()
        self.webhook_port = free_port()  # HTTPS /inject; kept across restarts like the others
        self.proc = None
        self.starts = 0
        self.log_path = None

    def args(self):
        return [self.binary, "--kubeconfig", self.kubeconfig, "--grpc-addr", f"127.0.0.1:{self.grpc_port}",
                "--secure-grpc-addr", f"127.0.0.1:{self.secure_port}", "--monitoring-addr",
                f"127.0.0.1:{self.mon_port}", "--webhook-addr", f"127.0.0.1:{self.webhook_port}",
                "--system-namespace", self.system_namespace,
                "--serving-cert-dir", os.path.join(self.tmp, f"serving-{self.system_namespace}"), *self.extra]

    def start(self, timeout=30):
        self.launch()
        self.wait_ready(timeout)

    def launch(self):
        """Starts the process without waiting for it (see wait_ready)."""
        assert self.proc is None
        self.starts += 1
        self.log_path = os.path.join(self.tmp, f"keel-{self.system_namespace}-{self.starts}.log")
        self.proc = subprocess.Popen(self.args(), stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT)

    def wait_ready(self, timeout=30):
        def ready():
            assert self.proc.poll() is None, f"keel-discovery exited ({self.proc.returncode}):\n{self.log()}"
            if self.http_get("/ready")[0] != 200:
                return False
            with socket.create_connection(("127.0.0.1", self.secure_port), timeout=1):
                return True

        wait_until(ready, timeout, "keel-discovery /ready and its TLS port")

    def stop(self):
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self):
        self.stop()
        self.start()

    def log(self):
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path) as f:
            return f.read()

    def http_get(self, path):
        return http_get(f"http://127.0.0.1:{self.mon_port}{path}", timeout=3)

    def metrics(self):
        """{family name: value} of the unlabelled counters and gauges, parsed by prometheus_client
        (which reports a counter's sample as NAME_total; the family keeps the exposed name)."""
        status, body = self.http_get("/metrics")
        assert status == 200, f"/metrics: {status}"
        out = {}
        for family in text_string_to_metric_families(body):
            if family.type not in ("counter", "gauge"):
                continue
            for sample in family.samples:
                if not sample.labels and sample.name in (family.name, family.name + "_total"):
                    out[family.name] = sample.value
        return out
