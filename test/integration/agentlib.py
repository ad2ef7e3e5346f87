"""pilot-agent (the agent of Istio's proxyv2 image, built from the pinned istio.io/istio
module by test/e2e/istio_tools/build.sh) run as an injected `istio-proxy` container runs
it, against a keel-discovery on the `kube` fixture's API server (ca_testlib.Keel).

The agent runs in a "pod root" of its own (its working directory): the files injection
mounts are there at the relative paths pilot-agent uses (./var/run/secrets/tokens/
istio-token from a TokenRequest with audience istio-ca, ./var/run/secrets/istio/
root-cert.pem from the namespace's ConfigMap istio-ca-root-cert that Keel publishes,
./etc/istio/pod/labels and annotations as the downward API writes them), with the env
of the injected container as the kubelet would set it (fieldRefs resolved, $(VAR)
expanded). Envoy is a stand-in (ProxyConfig binaryPath, testdata/envoy-standin.sh: no
Envoy binary exists here); a test plays Envoy on the agent's sockets (Agent.xds,
Agent.secrets).

Differences from a pod, all for the test machine: discoveryAddress is Keel's 127.0.0.1
port, and CA_ADDR (istiod.<system-ns>.svc:15012 in a pod) is unset so the agent takes
the CA from there, with ISTIOD_SAN naming the serving certificate's DNS name (as
istiod's remote installs do); ProxyConfig's binaryPath is the stand-in (and configPath,
OUTPUT_CERTS absolute paths under the pod root), the resourceFieldRef env (GOMAXPROCS,
...) is left unset. The pod should carry status.sidecar.istio.io/port: "0" before it is
injected: the agent's status server would listen on every interface.
"""

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess

import grpc

from ca_testlib import create_token, root_from_configmap, wait_until, write

HERE = os.path.dirname(os.path.abspath(__file__))
STANDIN = os.path.join(HERE, "testdata", "envoy-standin.sh")


def tool(env, name):
    path = os.environ.get(env)
    assert path and os.access(path, os.X_OK), (
        f"set {env} to the {name} test/e2e/istio_tools/build.sh makes (scripts/dev.sh test does)")
    return path


class Agent:
    """pilot-agent `proxy KIND` in a pod root of its own, as the injected istio-proxy container."""

    def __init__(self, tmp, keel, injected_pod, ip):
        """injected_pod: the Pod as Keel's injector returned it; ip: its status.podIP."""
        self.binary = tool("KEEL_PILOT_AGENT", "pilot-agent")
        meta = injected_pod["metadata"]
        self.pod, self.ns, self.labels = meta["name"], meta["namespace"], meta["labels"]
        self.root = os.path.join(tmp, self.pod)  # short: the socket paths under it must fit sun_path
        self.keel, self.ip, self.spec = keel, ip, injected_pod["spec"]
        self.sa = self.spec["serviceAccountName"]
        self.proxy = next(c for c in self.spec["containers"] if c["name"] == "istio-proxy")
        self.kind = self.proxy["args"][1]  # proxy sidecar | proxy router
        self.proxyless = any(e["name"] == "DISABLE_ENVOY" and e.get("value") == "true" for e in self.proxy["env"])
        self.proc = None

    def path(self, rel):
        return os.path.join(self.root, rel)

    def write_pod_files(self):
        # The volumes of Istio's injection template, at the paths pilot-agent reads.
        for d in ("etc/istio/proxy", "etc/istio/pod", "var/lib/istio/envoy", "var/lib/istio/data", "var/run/secrets/tokens", "var/run/secrets/istio",
                  "var/run/secrets/workload-spiffe-uds", "var/run/secrets/credential-uds",
                  "var/run/secrets/workload-spiffe-credentials"):
            os.makedirs(self.path(d), exist_ok=True)
        # The proxyv2 image's bootstrap template (build.sh puts it beside pilot-agent).
        shutil.copy(os.path.join(os.path.dirname(os.path.realpath(self.binary)), "envoy_bootstrap_tmpl.json"),
                    self.path("var/lib/istio/envoy/envoy_bootstrap_tmpl.json"))
        write(self.path("var/run/secrets/tokens/istio-token"), create_token(self.sa, self.ns, "istio-ca", "--duration",
                                                                             "1h"))
        write(self.path("var/run/secrets/istio/root-cert.pem"), root_from_configmap(self.ns))
        # The downward API's format: key="value" per line.
        write(self.path("etc/istio/pod/labels"), "".join(f'{k}="{v}"\n' for k, v in sorted(self.labels.items())))
        write(self.path("etc/istio/pod/annotations"), 'status.sidecar.istio.io/port="0"\n')

    def field(self, path):
        """What the kubelet puts in an env var's fieldRef."""
        return {"metadata.name": self.pod, "metadata.namespace": self.ns, "status.podIP": self.ip,
                "spec.serviceAccountName": self.sa, "status.hostIP": "127.0.0.1", "spec.nodeName": "node-1"}[path]

    def env(self):
        """istio-proxy's env as the kubelet would set it, with this machine's differences."""
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "TMPDIR")}
        for e in self.proxy["env"]:
            if "valueFrom" not in e:
                env[e["name"]] = e.get("value", "")
            elif "fieldRef" in e["valueFrom"]:
                env[e["name"]] = self.field(e["valueFrom"]["fieldRef"]["fieldPath"])
        proxy_config = json.loads(env["PROXY_CONFIG"])
        istiod = f"istiod.{self.keel.system_namespace}.svc:15012"
        assert proxy_config.get("discoveryAddress", istiod) == istiod
        proxy_config.update(discoveryAddress=f"127.0.0.1:{self.keel.secure_port}", binaryPath=STANDIN)
        if self.proxyless:
            # The app reads the gRPC bootstrap, whose server_uri is unix:///<configPath>/XDS: in a pod
            # /etc/istio/proxy, here the pod root's, so the path must be absolute.
            proxy_config["configPath"] = self.path("etc/istio/proxy")
            env["OUTPUT_CERTS"] = self.path(env["OUTPUT_CERTS"].lstrip("/"))
        env["PROXY_CONFIG"] = json.dumps(proxy_config)
        # The CA is the discovery address, as in a pod; unset, the agent takes it from there
        # and verifies it as ISTIOD_SAN (set, it would verify the address as given).
        system_ns = self.keel.system_namespace
        assert env.pop("CA_ADDR") == f"istiod.{system_ns}.svc:15012"
        env["ISTIOD_SAN"] = f"istiod.{system_ns}.svc"
        return env

    def args(self, env):
        """The container's args with $(VAR) expanded, as the kubelet does."""
        return [self.binary] + [re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), a)
                                for a in self.proxy["args"]]

    def start(self):
        self.write_pod_files()
        env = self.env()
        self.log_path = self.path("agent.log")
        self.proc = subprocess.Popen(self.args(env), cwd=self.root, env=env, stdout=open(self.log_path, "w"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        started = self.path("etc/istio/proxy/grpc-bootstrap.json" if self.proxyless else "envoy-args")
        wait_until(lambda: self.running() and os.path.exists(started) and
                   os.path.exists(self.path("etc/istio/proxy/XDS")), 30, f"pilot-agent {self.pod} to start")

    def running(self):
        assert self.proc.poll() is None, f"pilot-agent exited ({self.proc.returncode}):\n{self.log()}"
        return True

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGKILL)  # the agent and the stand-in with it
        self.proc.wait(10)

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def envoy_args(self):
        with open(self.path("envoy-args")) as f:
            return f.read().splitlines()

    def bootstrap_path(self):
        args = self.envoy_args()
        return self.path(args[args.index("-c") + 1])

    def proxy_id(self):
        """The node id Envoy (the bootstrap the agent wrote) presents."""
        with open(self.bootstrap_path()) as f:
            return json.load(f)["node"]["id"]

    def xds(self, *watches, timeout=30):
        """Plays Envoy on the agent's XDS socket: Istio's delta ADS client with the bootstrap's
        node. Returns ({type: [names]}, {type: {name: resource as JSON}}) of its first state."""
        client = tool("KEEL_DELTA_CLIENT", "istio-delta-client")
        names, resources = self.path("names.json"), self.path("resources.json")
        args = [client, "--addr", "unix:" + self.path("etc/istio/proxy/XDS"), "--node-from-bootstrap",
                self.bootstrap_path(), "--expect-json", names, "--resources-json", resources,
                "--timeout", f"{timeout}s"]
        for w in watches:
            args += ["--watch", w]
        run = subprocess.run(args, capture_output=True, text=True, timeout=timeout + 30)
        assert run.returncode == 0, f"delta client: {run.stderr}\nagent log:\n{self.log()}"
        with open(names) as f, open(resources) as g:
            return json.load(f), json.load(g)

    @contextlib.contextmanager
    def connected(self, *watches, timeout=30):
        """xds(), but the client stays connected (its --hold) until the block ends: a proxy
        Keel lists as connected meanwhile. Yields {type: [names]} of its first state."""
        client = tool("KEEL_DELTA_CLIENT", "istio-delta-client")
        names = self.path("held-names.json")
        if os.path.exists(names):
            os.remove(names)
        args = [client, "--addr", "unix:" + self.path("etc/istio/proxy/XDS"), "--node-from-bootstrap",
                self.bootstrap_path(), "--expect-json", names, "--timeout", f"{timeout}s", "--hold"]
        for w in watches:
            args += ["--watch", w]
        proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True)
        try:
            wait_until(lambda: os.path.exists(names) or proc.poll() is not None, timeout + 10,
                       "the held delta client's first state")
            assert proc.poll() is None, f"delta client exited: {proc.stderr.read()}\nagent log:\n{self.log()}"
            with open(names) as f:
                yield json.load(f)
        finally:
            proc.stdin.close()  # --hold ends when stdin closes
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def secrets(self, envoy, names):
        """Plays Envoy's SDS client on the agent's workload socket (SotW, as Envoy's bootstrap)."""
        with grpc.insecure_channel("unix:" + self.path("var/run/secrets/workload-spiffe-uds/socket")) as channel:
            with open(self.bootstrap_path()) as f:
                node = json.load(f)["node"]
            return envoy.fetch_secrets(channel, node["id"], names, {}, timeout=20, method=envoy.SDS_METHOD)
