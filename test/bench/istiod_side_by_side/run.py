#!/usr/bin/env python3
"""istiod_side_by_side: Istio's pilot-discovery and Keel's keel-discovery, one after
the other, on the same synthetic mesh in a real kube-apiserver, under N simulated
sidecars (./loadclient). A benchmark: it prints numbers and Keel/istiod ratios,
nothing passes or fails on them. See test/bench/README.md for what each row means.

  /work/main/build/venv/bin/python test/bench/istiod_side_by_side/run.py [BUILD_DIR]
      [--services 2000 --pods 4000 --sidecars 1000 --namespaces 20]
      [--changes 20] [--servers istiod,keel] [--keel-alone-streams 10000 --keel-alone-conns 50]

BUILD_DIR holds pilot/keel-discovery (default /work/main/build). The Go binaries
come from ./build.sh (cached). The harness (test/harness/kube-harness.sh) runs in a
fresh dir under /dev/shm and is removed afterwards (--keep keeps it).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.dirname(HERE))
from kube_sync_bench import Api, free_port, proc_cpu_s, proc_rss_kb, wait_until  # noqa: E402

HARNESS = os.path.join(REPO, "test", "harness", "kube-harness.sh")
GO = os.environ.get("GO", shutil.which("go") or "/usr/local/go/bin/go")


def log(msg):
    print(f"[bench] {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def pod_ip(i):
    return f"10.{100 + i // 65536}.{(i // 256) % 256}.{i % 256}"


def spare_ip(k):  # a new endpoint address for change k: never used by any Pod before
    return f"10.250.{k // 256}.{k % 256}"


def http_status(url, timeout=2):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except Exception:
        return 0


def istio_crds():
    """Istio's full CRD set from the istio.io/istio module go.mod pins (in the module cache)."""
    gomod = open(os.path.join(HERE, "go.mod")).read()
    version = re.search(r"istio\.io/istio (\S+)", gomod).group(1)
    cache = subprocess.run([GO, "env", "GOMODCACHE"], capture_output=True, text=True, check=True).stdout.strip()
    path = os.path.join(cache, f"istio.io/istio@{version}", "manifests/charts/base/files/crd-all.gen.yaml")
    if not os.path.exists(path):
        subprocess.run([GO, "mod", "download", f"istio.io/istio@{version}"], cwd=HERE, check=True,
                       env=dict(os.environ, GOWORK="off", GOTOOLCHAIN="local"))
    return path


class Mesh:
    """The synthetic mesh: namespaces, Services (one http port 8080), Pods (Running, Ready, podIP
    via /status), one EndpointSlice per Service, spare Pods whose IPs the endpoint changes swap
    in, and VirtualServices / DestinationRules on the first few Services."""

    def __init__(self, args):
        self.a = args
        self.nss = [f"bench-{i}" for i in range(args.namespaces)]
        self.per_svc = max(1, args.pods // args.services)

    def ns_of(self, s):
        return self.nss[s % len(self.nss)]

    def svc_of_pod(self, i):
        return min(i // self.per_svc, self.a.services - 1)

    def slice_endpoints(self, s, swap=None):
        """Endpoints of Service s's slice; swap=(k) puts spare Pod k in place of the first one."""
        ns = self.ns_of(s)
        eps = []
        for j in range(self.per_svc):
            i = s * self.per_svc + j
            if i >= self.a.pods:
                break
            ip, name = pod_ip(i), f"pod-{i}"
            if swap is not None and j == 0:
                ip, name = spare_ip(swap), f"spare-{swap}"
            eps.append({"addresses": [ip], "conditions": {"ready": True},
                        "targetRef": {"kind": "Pod", "name": name, "namespace": ns}})
        return eps

    def vs(self, s, marker):
        ns = self.ns_of(s)
        host = f"svc-{s}.{ns}.svc.cluster.local"
        return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                "metadata": {"name": f"vs-{s}", "namespace": ns},
                "spec": {"hosts": [host], "http": [
                    {"match": [{"uri": {"prefix": marker}}], "route": [{"destination": {"host": host, "subset": "v1"}}],
                     "timeout": "5s"},
                    {"route": [{"destination": {"host": host, "subset": "v0"}, "weight": 90},
                               {"destination": {"host": host, "subset": "v1"}, "weight": 10}]}]}}

    def create(self, api):
        a = self.a
        calls = [("POST", "/api/v1/namespaces", {"metadata": {"name": n}}) for n in self.nss + ["istio-system"]]
        api.run_all(calls)
        svcs, pods, status, slices, istio = [], [], [], [], []

        def pod(ns, name, ip, labels):
            pods.append(("POST", f"/api/v1/namespaces/{ns}/pods", {
                "metadata": {"name": name, "labels": labels},
                "spec": {"containers": [{"name": "app", "image": "keel.bench/app:1",
                                         "ports": [{"name": "http", "containerPort": 8080}]}]}}))
            status.append(("PATCH", f"/api/v1/namespaces/{ns}/pods/{name}/status", {
                "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                           "conditions": [{"type": "Ready", "status": "True"}]}},
                "application/merge-patch+json"))

        for s in range(a.services):
            ns = self.ns_of(s)
            svcs.append(("POST", f"/api/v1/namespaces/{ns}/services", {
                "metadata": {"name": f"svc-{s}", "labels": {"app": f"svc-{s}"}},
                "spec": {"selector": {"app": f"svc-{s}"},
                         "ports": [{"name": "http", "port": 8080, "targetPort": 8080}]}}))
            slices.append(("POST", f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices", {
                "metadata": {"name": f"svc-{s}-bench", "labels": {"kubernetes.io/service-name": f"svc-{s}"}},
                "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                "endpoints": self.slice_endpoints(s)}))
        for i in range(a.pods):
            s = self.svc_of_pod(i)
            pod(self.ns_of(s), f"pod-{i}", pod_ip(i), {"app": f"svc-{s}", "version": f"v{i % 2}"})
        for k in range(a.changes):
            s = k % a.services
            pod(self.ns_of(s), f"spare-{k}", spare_ip(k), {"app": f"svc-{s}", "version": "v0"})
        for s in range(min(a.services, a.istio_configs)):
            ns = self.ns_of(s)
            istio.append(("POST", f"/apis/networking.istio.io/v1/namespaces/{ns}/virtualservices",
                          self.vs(s, f"/bench-route-{s}-0")))
            istio.append(("POST", f"/apis/networking.istio.io/v1/namespaces/{ns}/destinationrules", {
                "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
                "metadata": {"name": f"dr-{s}", "namespace": ns},
                "spec": {"host": f"svc-{s}.{ns}.svc.cluster.local",
                         "trafficPolicy": {"connectionPool": {"tcp": {"maxConnections": 100}}},
                         "subsets": [{"name": "v0", "labels": {"version": "v0"}},
                                     {"name": "v1", "labels": {"version": "v1"}}]}}))
        for what, c in [("Services", svcs), ("Pods", pods), ("Pod statuses", status),
                        ("EndpointSlices", slices), ("VirtualServices+DestinationRules", istio)]:
            log(f"creating {len(c)} {what}")
            api.run_all(c)

    def sidecars_file(self, path, n):
        """Sidecar i is Pod i % pods (a sidecar beyond the Pods repeats one: a reconnecting proxy)."""
        with open(path, "w") as f:
            for k in range(n):
                i = k % self.a.pods
                f.write(f"pod-{i} {self.ns_of(self.svc_of_pod(i))} {pod_ip(i)} "
                        f"app=svc-{self.svc_of_pod(i)},version=v{i % 2}\n")

    def set_slice(self, api, s, swap):
        api.request("PATCH", f"/apis/discovery.k8s.io/v1/namespaces/{self.ns_of(s)}/endpointslices/svc-{s}-bench",
                    {"endpoints": self.slice_endpoints(s, swap)}, "application/merge-patch+json")

    def set_vs(self, api, s, marker):
        api.request("PATCH", f"/apis/networking.istio.io/v1/namespaces/{self.ns_of(s)}/virtualservices/vs-{s}",
                    {"spec": self.vs(s, marker)["spec"]}, "application/merge-patch+json")

    def restore(self, api):
        """Back to the state create() made, so the next server sees the same mesh."""
        api.run_all([("PATCH", f"/apis/discovery.k8s.io/v1/namespaces/{self.ns_of(k % self.a.services)}"
                      f"/endpointslices/svc-{k % self.a.services}-bench",
                      {"endpoints": self.slice_endpoints(k % self.a.services)}, "application/merge-patch+json")
                     for k in range(min(self.a.changes, self.a.services))])
        self.set_vs(api, 0, "/bench-route-0-0")


class Server:
    """One xDS server process: how to start it, its xDS address, its readiness URL."""

    def __init__(self, name, cmd, env, cwd, grpc_port, ready_url, log_path):
        self.name, self.cmd, self.env, self.cwd = name, cmd, env, cwd
        self.grpc_port, self.ready_url, self.log_path = grpc_port, ready_url, log_path
        self.proc = None

    def start(self):
        log(f"starting {self.name}: {' '.join(self.cmd)}")
        self.logf = open(self.log_path, "w")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(self.cmd, env=self.env, cwd=self.cwd, stdout=self.logf, stderr=subprocess.STDOUT)

        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; log: {self.log_path}")
            return http_status(self.ready_url) == 200

        wait_until(f"{self.name} ready", 600, 0.05, ready)
        return time.monotonic() - t0

    def watch_rss(self, limit_mib):
        """Kills the server if its RSS passes limit_mib (the machine is shared); sets self.killed."""
        self.killed = None

        def loop():
            while self.proc.poll() is None:
                try:
                    rss = proc_rss_kb(self.proc.pid) / 1024
                except (OSError, AttributeError):
                    return
                if rss > limit_mib:
                    self.killed = f"killed at RSS {rss:.0f} MiB > --rss-limit-mib {limit_mib}"
                    log(f"{self.name}: {self.killed}")
                    self.proc.kill()
                    return
                time.sleep(0.2)

        threading.Thread(target=loop, daemon=True).start()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def istiod(bins, kubeconfig, work):
    grpc, http, mon, ctrlz = free_port(), free_port(), free_port(), free_port()
    env = dict(os.environ, POD_NAMESPACE="istio-system", POD_NAME="istiod-bench", REVISION="default",
               ENABLE_CA_SERVER="false", PILOT_CERT_PROVIDER="none",
               INJECTION_WEBHOOK_CONFIG_NAME="", VALIDATION_WEBHOOK_CONFIG_NAME="",
               PILOT_ENABLE_GATEWAY_API="false", PILOT_ENABLE_GATEWAY_API_DEPLOYMENT_CONTROLLER="false",
               PILOT_ENABLE_GATEWAY_API_STATUS="false", PILOT_ENABLE_STATUS="false")
    cwd = os.path.join(work, "istiod-cwd")
    os.makedirs(cwd, exist_ok=True)
    cmd = [os.path.join(bins, "pilot-discovery"), "discovery", "--kubeconfig", kubeconfig,
           f"--grpcAddr=127.0.0.1:{grpc}", f"--httpAddr=127.0.0.1:{http}", f"--monitoringAddr=127.0.0.1:{mon}",
           "--httpsAddr=", "--secureGRPCAddr=", f"--ctrlz_port={ctrlz}", "--ctrlz_address=127.0.0.1",
           "--log_output_level=default:warn", "--domain", "cluster.local"]
    return Server("istiod", cmd, env, cwd, grpc, f"http://127.0.0.1:{http}/ready", os.path.join(work, "istiod.log"))


def keel(build, kubeconfig, work, max_conns_per_ip=2048):
    grpc, mon = free_port(), free_port()
    cmd = [os.path.join(build, "pilot", "keel-discovery"), "--kubeconfig", kubeconfig, "--disable-ca",
           "--log-level", "warn", f"--grpc-addr=127.0.0.1:{grpc}", f"--monitoring-addr=127.0.0.1:{mon}",
           f"--max-connections-per-ip={max_conns_per_ip}"]
    return Server("keel", cmd, dict(os.environ), work, grpc, f"http://127.0.0.1:{mon}/ready",
                  os.path.join(work, "keel.log"))


class LoadClient:
    def __init__(self, bins, addr, sidecars, n, conns, delta, log_path):
        self.logf = open(log_path, "w")
        self.proc = subprocess.Popen([os.path.join(bins, "loadclient"), "--addr", addr, "--sidecars", sidecars,
                                      "--n", str(n), "--conns", str(conns)] + (["--delta"] if delta else []),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.logf, text=True)

    def ask(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        out = self.proc.stdout.readline()
        if not out:
            raise RuntimeError(f"loadclient exited ({self.proc.poll()}); see {self.logf.name}")
        return json.loads(out)

    def close(self):
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(20)
        except Exception:
            self.proc.kill()
            self.proc.wait(5)


def quantile(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * (len(v) - 1) + 0.5))] if v else float("nan")


def measure(server, mesh, api, bins, sidecars_path, n, conns, changes, work, vs_change=True):
    """Runs one server through the whole sequence; returns {metric: value}."""
    r = {}
    lc = None
    try:
        r["ready_s"] = server.start()
        server.watch_rss(mesh.a.rss_limit_mib)
        pid = server.proc.pid
        r["cpu_sync_s"] = proc_cpu_s(pid)
        time.sleep(3)
        r["rss_sync_mib"] = proc_rss_kb(pid) / 1024
        cpu0 = proc_cpu_s(pid)
        lc = LoadClient(bins, f"127.0.0.1:{server.grpc_port}", sidecars_path, n, conns, mesh.a.delta,
                        os.path.join(work, f"loadclient-{server.name}-{n}.log"))
        init = lc.ask("initial 900")
        log(f"{server.name}: initial config: {init}")
        if init["complete"] < n:
            r["error"] = f"only {init['complete']}/{n} streams got CDS+EDS+LDS+RDS ({init['down']} down, last error: {init['last_error']})"
        r["initial_all_s"] = init["since_start"]["max_ms"] / 1000 if init["since_start"] else float("nan")
        r["initial_p50_s"] = init["since_start"]["p50_ms"] / 1000 if init["since_start"] else float("nan")
        r["initial_bytes"] = init["bytes_per_stream"]
        r["initial_stream_errors"] = init["errors"]
        time.sleep(3)
        r["cpu_initial_push_s"] = proc_cpu_s(pid) - cpu0
        r["rss_connected_mib"] = proc_rss_kb(pid) / 1024
        lat, eds_bytes = [], []
        cpu0 = proc_cpu_s(pid)
        for k in range(changes):
            s = k % mesh.a.services
            lc.ask(f"watch eds {spare_ip(k)}")
            t0 = time.time_ns()
            mesh.set_slice(api, s, k)
            res = lc.ask(f"await {mesh.a.change_timeout}")
            if res["seen"] < n:
                log(f"{server.name}: change {k}: only {res['seen']}/{n} got the new endpoint: {res}")
                r.setdefault("error", f"endpoint change {k}: {res['seen']}/{n} streams got it")
                break
            lat.append((res["last_ns"] - t0) / 1e6)
            log(f"{server.name}: endpoint change {k}: {lat[-1]:.0f} ms")
            eds_bytes.append(res["bytes_per_stream"])
            time.sleep(0.2)
        r["cpu_per_change_s"] = (proc_cpu_s(pid) - cpu0) / max(len(lat), 1)
        r["eds_p50_ms"], r["eds_p99_ms"], r["eds_max_ms"] = quantile(lat, .5), quantile(lat, .99), max(lat, default=float("nan"))
        r["eds_bytes"] = sum(eds_bytes) / max(len(eds_bytes), 1)
        log(f"{server.name}: endpoint changes (ms): {[round(x) for x in lat]}")
        if vs_change and mesh.a.istio_configs > 0:
            lc.ask("watch rds /bench-route-0-1")
            t0 = time.time_ns()
            mesh.set_vs(api, 0, "/bench-route-0-1")
            res = lc.ask(f"await {mesh.a.change_timeout}")
            r["rds_ms"] = (res["last_ns"] - t0) / 1e6 if res["seen"] == n else float("nan")
            r["rds_bytes"] = res["bytes_per_stream"]
            if res["seen"] < n:
                r.setdefault("error", f"VirtualService change: {res['seen']}/{n} streams got it")
        r["rss_end_mib"] = proc_rss_kb(pid) / 1024
        with open(f"/proc/{pid}/status") as f:
            r["rss_peak_mib"] = int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1)) / 1024
        r["loadclient_cpu_s"] = proc_cpu_s(lc.proc.pid)
        stats = lc.ask("stats")
        r["stream_errors"] = stats["errors"]
        r["stream_last_error"] = stats["last_error"]
        lc.close()
    except Exception as e:  # report what was measured up to the failure
        r["error"] = (getattr(server, "killed", None) or "") + f" ({type(e).__name__}: {e})"
        log(f"{server.name}: {r['error']}")
        try:
            lc.proc.kill()
        except Exception:
            pass
    finally:
        server.stop()
        mesh.restore(api)
    return r


def fmt(v, unit):
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    if unit == "":
        return str(v)
    if unit == "B":
        return f"{v / 1024:.0f} KiB" if v < 10 * 1024 * 1024 else f"{v / 1048576:.1f} MiB"
    return f"{v:.3f} {unit}" if v < 10 else f"{v:.1f} {unit}" if v < 1000 else f"{v:.0f} {unit}"


ROWS = [  # (key, label, unit)
    ("ready_s", "start -> ready (/ready 200)", "s"),
    ("cpu_sync_s", "CPU user+sys, start -> ready", "s"),
    ("rss_sync_mib", "RSS after sync (ready + 3 s)", "MiB"),
    ("initial_p50_s", "initial config (CDS+EDS+LDS+RDS), p50 stream", "s"),
    ("initial_all_s", "initial config, all N streams", "s"),
    ("cpu_initial_push_s", "CPU user+sys, N streams' initial config", "s"),
    ("rss_connected_mib", "RSS with N connected", "MiB"),
    ("initial_bytes", "bytes per proxy, initial config", "B"),
    ("eds_p50_ms", "endpoint change -> all N have EDS, p50", "ms"),
    ("eds_p99_ms", "endpoint change -> all N have EDS, p99", "ms"),
    ("eds_max_ms", "endpoint change -> all N have EDS, max", "ms"),
    ("cpu_per_change_s", "CPU user+sys per endpoint change", "s"),
    ("eds_bytes", "bytes per proxy per endpoint change", "B"),
    ("rds_ms", "VirtualService change -> all N have RDS", "ms"),
    ("rds_bytes", "bytes per proxy, VirtualService change", "B"),
    ("rss_peak_mib", "peak RSS (VmHWM)", "MiB"),
    ("stream_errors", "stream failures (each reconnected with backoff)", ""),
    ("loadclient_cpu_s", "(load client's own CPU, whole run)", "s"),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build", nargs="?", default="/work/main/build", help="Keel build dir (has pilot/keel-discovery)")
    ap.add_argument("--services", type=int, default=2000)
    ap.add_argument("--pods", type=int, default=4000)
    ap.add_argument("--namespaces", type=int, default=20)
    ap.add_argument("--sidecars", type=int, default=1000)
    ap.add_argument("--changes", type=int, default=20, help="endpoint changes")
    ap.add_argument("--change-timeout", type=int, default=600, help="seconds a change may take to reach every stream")
    ap.add_argument("--istio-configs", type=int, default=10, help="VirtualServices and DestinationRules, one each per Service")
    ap.add_argument("--servers", default="istiod,keel")
    ap.add_argument("--keel-alone-streams", type=int, default=0, help="then Keel alone with this many streams (e.g. 10000)")
    ap.add_argument("--keel-alone-conns", type=int, default=50, help="gRPC connections those streams share")
    ap.add_argument("--delta", action="store_true", help="sidecars on Delta ADS (Istio's default since 1.22), not SotW")
    ap.add_argument("--rss-limit-mib", type=int, default=12000, help="kill a server whose RSS passes this")
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    log("building / finding the Go binaries (build.sh)")
    bins = subprocess.run([os.path.join(HERE, "build.sh")], capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run([HARNESS, "build"], check=True, stdout=subprocess.DEVNULL)
    kube_dir = tempfile.mkdtemp(prefix="keel-sbs-kube-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    work = tempfile.mkdtemp(prefix="keel-sbs-")
    results = {}
    try:
        log(f"harness in {kube_dir}, logs in {work}")
        subprocess.run([HARNESS, "start", kube_dir], check=True, stdout=subprocess.DEVNULL, timeout=180)
        kubeconfig = os.path.join(kube_dir, "kubeconfig")
        kubectl = os.path.join(REPO, "build/tools/bin/kubectl")
        if not os.path.exists(kubectl):
            kubectl = "/work/main/build/tools/bin/kubectl"
        subprocess.run([kubectl, "--kubeconfig", kubeconfig, "apply", "--server-side", "-f", istio_crds()],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run([kubectl, "--kubeconfig", kubeconfig, "wait", "--for=condition=Established", "crd", "--all",
                        "--timeout=60s"], check=True, stdout=subprocess.DEVNULL)
        api = Api(kube_dir, args.workers)
        mesh = Mesh(args)
        t0 = time.monotonic()
        mesh.create(api)
        log(f"mesh created in {time.monotonic() - t0:.1f} s")
        sidecars = os.path.join(work, "sidecars.txt")
        mesh.sidecars_file(sidecars, max(args.sidecars, args.keel_alone_streams))
        for name in [n for n in args.servers.split(",") if n]:
            srv = istiod(bins, kubeconfig, work) if name == "istiod" else keel(args.build, kubeconfig, work)
            results[name] = measure(srv, mesh, api, bins, sidecars, args.sidecars, args.sidecars, args.changes, work)
            log(f"{name}: {results[name]}")
        if args.keel_alone_streams:
            srv = keel(args.build, kubeconfig, work, max_conns_per_ip=0)
            results["keel-alone"] = measure(srv, mesh, api, bins, sidecars, args.keel_alone_streams,
                                            args.keel_alone_conns, args.changes, work, vs_change=False)
            log(f"keel-alone: {results['keel-alone']}")
    finally:
        if not args.keep:
            subprocess.run([HARNESS, "clean", kube_dir], stdout=subprocess.DEVNULL)
        log(f"logs kept in {work}" + (f"; harness kept in {kube_dir}" if args.keep else ""))
        with open(os.path.join(work, "results.json"), "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=1)

    if results.get("istiod") or results.get("keel"):
        print(f"\nistiod vs Keel, side by side: {args.services} Services, {args.pods} Pods, {args.namespaces} namespaces, "
              f"{args.istio_configs} VirtualServices + DestinationRules, {args.sidecars} sidecars ({'Delta' if args.delta else 'SotW'} ADS, "
              f"one gRPC connection each), {args.changes} endpoint changes; {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d')}\n")
        i, k = results.get("istiod", {}), results.get("keel", {})
        w = max(len(r[1]) for r in ROWS)
        print(f"| {'':<{w}} | {'istiod':>12} | {'Keel':>12} | {'Keel/istiod':>11} |")
        print(f"|{'-' * (w + 2)}|{'-' * 14}|{'-' * 14}|{'-' * 13}|")
        for key, label, unit in ROWS:
            a, b = i.get(key), k.get(key)
            ratio = f"{b / a:.2f}" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a and a == a and b == b else "-"
            print(f"| {label:<{w}} | {fmt(a, unit):>12} | {fmt(b, unit):>12} | {ratio:>11} |")
        for name in ("istiod", "keel"):
            if results.get(name, {}).get("error"):
                print(f"\n{name}: {results[name]['error']}")
            if results.get(name, {}).get("stream_errors"):
                print(f"\n{name}: {results[name]['stream_errors']} stream failures ({results[name]['initial_stream_errors']}"
                      f" before every stream had its initial config), last: {results[name]['stream_last_error']}")
    ka = results.get("keel-alone")
    if ka:
        per_stream = (ka.get("rss_connected_mib", float("nan")) - ka.get("rss_sync_mib", float("nan"))) \
            * 1048576 / args.keel_alone_streams
        print(f"\nKeel alone, {args.keel_alone_streams} streams over {args.keel_alone_conns} gRPC connections, "
              f"{args.services} Services, {args.pods} Pods, {args.changes} endpoint changes:")
        print(f"  initial config, all streams    {fmt(ka.get('initial_all_s'), 's')}")
        print(f"  RSS after sync / connected     {fmt(ka.get('rss_sync_mib'), 'MiB')} / {fmt(ka.get('rss_connected_mib'), 'MiB')}"
              f"  -> {per_stream / 1024:.1f} KiB per stream")
        print(f"  endpoint change p50/p99/max    {fmt(ka.get('eds_p50_ms'), 'ms')} / {fmt(ka.get('eds_p99_ms'), 'ms')}"
              f" / {fmt(ka.get('eds_max_ms'), 'ms')}")
        print(f"  CPU per endpoint change        {fmt(ka.get('cpu_per_change_s'), 's')}")
        if ka.get("error"):
            print(f"  error: {ka['error']}")
    print()


if __name__ == "__main__":
    main()
