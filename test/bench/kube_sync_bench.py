#!/usr/bin/env python3
"""kube_sync_bench: keel-discovery against a real kube-apiserver with a big cluster.

Prints numbers (it is a benchmark, not a test: nothing passes or fails on speed):

  1. creation: N Pods (+ their status: IP, Ready, as a kubelet would write), M
     Services and M EndpointSlices, POSTed in parallel with the harness's admin
     client certificate (kubectl apply is sequential per object, ~10x slower);
  2. initial sync: keel-discovery --kubeconfig from exec to GET /ready == 200
     (/ready waits for every informer's first complete list to reach the store),
     its first push, its RSS (VmRSS) and CPU time;
  3. watch throughput: B Pods relabelled in one parallel burst; the time until
     keel_kube_applied_events_total (events applied to the config store) counted
     all B, the lag behind the API server's last acknowledgement, and keel's CPU
     time per event (its capacity on one core, whatever the apiserver's pace);
     then /debug/configz is checked to hold all B labels.

It starts its own harness (test/harness/kube-harness.sh) in a temp dir, so it
never touches ctest's fixture, and removes it afterwards (--keep keeps it).

  build/venv/bin/python test/bench/kube_sync_bench.py            # 10k Pods, 2k Services, 2k slices
  build/venv/bin/python test/bench/kube_sync_bench.py --pods 1000 --services 200 --burst 200   # quick
"""

import argparse
import concurrent.futures as cf
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HARNESS = os.path.join(REPO, "test", "harness", "kube-harness.sh")


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    """Parallel JSON requests to the kube-apiserver, one keep-alive TLS connection per thread."""

    def __init__(self, kube_dir, workers):
        env = dict(l.strip().split("=", 1) for l in open(os.path.join(kube_dir, "harness.env")) if "=" in l)
        self.port = int(env["APISERVER_PORT"])
        pki = os.path.join(kube_dir, "pki")
        self.ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.crt"))
        self.ctx.load_cert_chain(os.path.join(pki, "admin.crt"), os.path.join(pki, "admin.key"))
        self.local = threading.local()
        self.pool = cf.ThreadPoolExecutor(max_workers=workers)

    def _conn(self):
        c = getattr(self.local, "conn", None)
        if c is None:
            c = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=60)
            self.local.conn = c
        return c

    def request(self, method, path, body=None, content_type="application/json"):
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(5):
            c = self._conn()
            try:
                c.request(method, path, body=data, headers={"Content-Type": content_type, "Accept": "application/json"})
                r = c.getresponse()
                payload = r.read()
            except (http.client.HTTPException, OSError):
                self.local.conn = None
                c.close()
                time.sleep(0.2 * (attempt + 1))
                continue
            if r.status == 429 or r.status >= 500:  # apiserver overloaded: back off, retry
                time.sleep(0.2 * (attempt + 1))
                continue
            if r.status >= 300:
                raise RuntimeError(f"{method} {path}: HTTP {r.status}: {payload[:300]!r}")
            return json.loads(payload) if payload else None
        raise RuntimeError(f"{method} {path}: failed after retries")

    def run_all(self, calls):
        """calls: list of (method, path, body[, content_type]); returns seconds taken."""
        t0 = time.monotonic()
        futures = [self.pool.submit(self.request, *c) for c in calls]
        for f in cf.as_completed(futures):
            f.result()
        return time.monotonic() - t0


def pod_ip(i):
    return f"10.{100 + i // 65536}.{(i // 256) % 256}.{i % 256}"


def keel_get(port, path, timeout=10):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
        return r.status, r.read()


def metric(port, name):
    _, body = keel_get(port, "/metrics")
    total = 0.0
    for line in body.decode().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def proc_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))


def proc_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def wait_until(what, timeout, interval, fn):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def start_keel(binary, kubeconfig, log_path):
    """keel-discovery --kubeconfig; returns (Popen, monitoring port, log file, seconds to /ready 200)."""
    grpc_port, mon_port = free_port(), free_port()
    keel_log = open(log_path, "w")
    cmd = [binary, "--kubeconfig", kubeconfig, "--disable-ca", "--log-level", "info",
           "--grpc-addr", f"127.0.0.1:{grpc_port}", "--monitoring-addr", f"127.0.0.1:{mon_port}"]
    log("starting keel-discovery: " + " ".join(cmd))
    t0 = time.monotonic()
    keel = subprocess.Popen(cmd, stdout=keel_log, stderr=subprocess.STDOUT)

    def ready():
        if keel.poll() is not None:
            raise RuntimeError(f"keel-discovery exited with {keel.returncode}; log: {log_path}")
        try:
            return keel_get(mon_port, "/ready", timeout=2)[0] == 200
        except Exception:
            return False

    wait_until("keel /ready", 300, 0.02, ready)
    return keel, mon_port, keel_log, time.monotonic() - t0


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keel", default=os.environ.get("KEEL_DISCOVERY_BIN", os.path.join(REPO, "build/pilot/keel-discovery")))
    ap.add_argument("--pods", type=int, default=10000)
    ap.add_argument("--services", type=int, default=2000, help="Services, and as many EndpointSlices")
    ap.add_argument("--namespaces", type=int, default=10)
    ap.add_argument("--burst", type=int, default=2000, help="Pods relabelled in the watch burst")
    ap.add_argument("--workers", type=int, default=16, help="parallel API connections")
    ap.add_argument("--no-pod-status", action="store_true", help="skip the Pod status patches")
    ap.add_argument("--kube-dir", help="harness dir (default: a new dir in /dev/shm if it exists, else $TMPDIR;"
                    " tmpfs spares etcd its fsyncs)")
    ap.add_argument("--keep", action="store_true", help="keep the harness running and its dir")
    args = ap.parse_args()

    kube_dir = args.kube_dir or tempfile.mkdtemp(prefix="keel-bench-kube-",
                                                 dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    work = tempfile.mkdtemp(prefix="keel-bench-")
    keel = None
    rows = []  # (what, value, unit, note)
    try:
        log(f"starting a kube-apiserver + etcd in {kube_dir}")
        subprocess.run([HARNESS, "clean", kube_dir], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([HARNESS, "start", kube_dir], check=True, stdout=subprocess.DEVNULL, timeout=180)
        api = Api(kube_dir, args.workers)
        kubeconfig = os.path.join(kube_dir, "kubeconfig")

        # Baseline: keel on the empty cluster.
        k0, mon0, _, _ = start_keel(args.keel, kubeconfig, os.path.join(work, "keel-empty.log"))
        time.sleep(1)
        rss_empty = proc_rss_kb(k0.pid)
        applied_empty = metric(mon0, "keel_kube_applied_events_total")
        stop(k0)

        nss = [f"bench-{i}" for i in range(args.namespaces)]
        api.run_all([("POST", "/api/v1/namespaces", {"metadata": {"name": n}}) for n in nss])
        per_svc = max(1, args.pods // args.services)

        def ns_of(s):
            return nss[s % len(nss)]

        svc_calls, pod_calls, status_calls, slice_calls = [], [], [], []
        for s in range(args.services):
            ns = ns_of(s)
            svc_calls.append(("POST", f"/api/v1/namespaces/{ns}/services", {
                "metadata": {"name": f"svc-{s}", "labels": {"app": f"svc-{s}"}},
                "spec": {"selector": {"app": f"svc-{s}"},
                         "ports": [{"name": "http", "port": 8080, "targetPort": 8080}]}}))
            eps = []
            for j in range(per_svc):
                i = s * per_svc + j
                if i >= args.pods:
                    break
                eps.append({"addresses": [pod_ip(i)], "conditions": {"ready": True},
                            "targetRef": {"kind": "Pod", "name": f"pod-{i}", "namespace": ns}})
            slice_calls.append(("POST", f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices", {
                "metadata": {"name": f"svc-{s}-abcde", "labels": {"kubernetes.io/service-name": f"svc-{s}"}},
                "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                "endpoints": eps}))
        for i in range(args.pods):
            s = min(i // per_svc, args.services - 1)
            ns = ns_of(s)
            pod_calls.append(("POST", f"/api/v1/namespaces/{ns}/pods", {
                "metadata": {"name": f"pod-{i}", "labels": {"app": f"svc-{s}", "version": f"v{i % 2}"}},
                "spec": {"containers": [{"name": "app", "image": "keel.bench/app:1",
                                         "ports": [{"name": "http", "containerPort": 8080}]}]}}))
            status_calls.append(("PATCH", f"/api/v1/namespaces/{ns}/pods/pod-{i}/status", {
                "status": {"phase": "Running", "podIP": pod_ip(i), "podIPs": [{"ip": pod_ip(i)}],
                           "conditions": [{"type": "Ready", "status": "True"}]}},
                "application/merge-patch+json"))

        created = 0
        t_create = 0.0
        for what, calls in [("Services", svc_calls), ("Pods", pod_calls),
                            ("Pod status patches", [] if args.no_pod_status else status_calls),
                            ("EndpointSlices", slice_calls)]:
            if not calls:
                continue
            log(f"creating {len(calls)} {what} ({args.workers} parallel connections)")
            dt = api.run_all(calls)
            t_create += dt
            created += len(calls)
            rows.append((f"create {what}", f"{dt:.1f}", "s", f"{len(calls)} requests, {len(calls) / dt:.0f}/s"))
        rows.append(("create total", f"{t_create:.1f}", "s", f"{created} requests, {created / t_create:.0f}/s"))

        # ---- initial sync
        keel, mon_port, keel_log, t_ready = start_keel(args.keel, kubeconfig, os.path.join(work, "keel.log"))
        cpu_sync = proc_cpu_s(keel.pid)
        rss_sync = proc_rss_kb(keel.pid)
        time.sleep(3)
        rss_settled = proc_rss_kb(keel.pid)
        with open(f"/proc/{keel.pid}/status") as f:
            rss_peak = int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1))
        applied0 = metric(mon_port, "keel_kube_applied_events_total")
        keel_log.flush()
        pushes, first_push = 0, "?"
        with open(keel_log.name) as f:
            for line in f:
                m = re.search(r"push (\d+): (\d+) services, .*?([\d.]+) ms", line)
                if m:
                    pushes, first_push = int(m.group(1)), f"{m.group(3)} ms ({m.group(2)} services)"
                if "xDS (ADS, plaintext gRPC) listening" in line:
                    break  # the push just before this line is the startup push, over the complete view
        rows.append(("keel start -> /ready 200", f"{t_ready:.2f}", "s", f"{int(applied0)} objects applied to the store"))
        rows.append(("keel CPU during sync", f"{cpu_sync:.2f}", "s", f"{cpu_sync / max(applied0, 1) * 1e6:.0f} us per object"))
        rows.append(("keel startup push (PushContext)", first_push, "", f"push #{pushes}: {pushes - 1} pushes during the sync"))
        rows.append(("keel RSS at /ready", f"{rss_sync / 1024:.0f}", "MiB", f"peak (VmHWM) {rss_peak / 1024:.0f} MiB"))
        rows.append(("keel RSS 3 s after /ready", f"{rss_settled / 1024:.0f}", "MiB",
                     f"{rss_empty / 1024:.0f} MiB on an empty cluster: "
                     f"{(rss_settled - rss_empty) * 1024 / max(applied0 - applied_empty, 1):.0f} B per object"))

        # ---- watch burst
        burst = min(args.burst, args.pods)
        calls = []
        for i in range(burst):
            s = min(i // per_svc, args.services - 1)
            calls.append(("PATCH", f"/api/v1/namespaces/{ns_of(s)}/pods/pod-{i}",
                          {"metadata": {"labels": {"bench": "round1"}}}, "application/merge-patch+json"))
        cpu0 = proc_cpu_s(keel.pid)
        done = threading.Event()
        t_sent = [0.0]

        def send():
            api.run_all(calls)
            t_sent[0] = time.monotonic()
            done.set()

        ready_probes = [0, 0]  # [answers, not 200]

        def probe_ready():  # /ready must stay 200 while events stream in
            while not done.is_set():
                try:
                    ok = keel_get(mon_port, "/ready", timeout=2)[0] == 200
                except Exception:
                    ok = False
                ready_probes[0] += 1
                ready_probes[1] += 0 if ok else 1
                time.sleep(0.01)

        log(f"watch burst: relabelling {burst} Pods")
        t0 = time.monotonic()
        threading.Thread(target=send, daemon=True).start()
        threading.Thread(target=probe_ready, daemon=True).start()
        wait_until("keel to apply the burst", 300, 0.02,
                   lambda: metric(mon_port, "keel_kube_applied_events_total") >= applied0 + burst)
        t_applied = time.monotonic()
        done.wait(300)
        cpu_burst = proc_cpu_s(keel.pid) - cpu0
        dt = t_applied - t0
        rows.append(("burst: API server acknowledged all", f"{t_sent[0] - t0:.2f}", "s", f"{burst / (t_sent[0] - t0):.0f} writes/s"))
        rows.append(("burst: keel applied all", f"{dt:.2f}", "s", f"{burst / dt:.0f} events/s end to end"))
        rows.append(("burst: /ready probes not 200", f"{ready_probes[1]}/{ready_probes[0]}", "", "every 10 ms during the burst"))
        rows.append(("burst: keel lag after last ack", f"{(t_applied - t_sent[0]) * 1000:.0f}", "ms", ""))
        rows.append(("burst: keel CPU", f"{cpu_burst:.2f}", "s",
                     f"{cpu_burst / burst * 1e6:.0f} us per event (~{burst / max(cpu_burst, 1e-9):.0f} events/s per core)"))

        rows.append(("keel RSS after the burst", f"{proc_rss_kb(keel.pid) / 1024:.0f}", "MiB", ""))
        t0 = time.monotonic()
        _, body = keel_get(mon_port, "/debug/configz", timeout=120)
        t_configz = time.monotonic() - t0
        configz = json.loads(body)
        labelled = sum(1 for o in configz if o.get("kind") == "Pod"
                       and (o.get("metadata", {}).get("labels") or {}).get("bench") == "round1")
        rows.append(("configz reflects the burst", f"{labelled}/{burst}", "", f"GET took {t_configz:.2f} s, {len(body) / 1e6:.1f} MB"))
        rows.append(("keel RSS after GET /debug/configz", f"{proc_rss_kb(keel.pid) / 1024:.0f}", "MiB", ""))
        if labelled != burst:
            log(f"WARNING: configz shows {labelled} of {burst} relabelled Pods")
    finally:
        if keel:
            stop(keel)
        if not args.keep:
            subprocess.run([HARNESS, "clean", kube_dir], stdout=subprocess.DEVNULL)
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"kept {kube_dir} (harness running) and {work}")

    print(f"\nkeel-discovery vs kube-apiserver: {args.pods} Pods, {args.services} Services, "
          f"{args.services} EndpointSlices in {args.namespaces} namespaces ({os.cpu_count()} CPUs, shared)\n")
    w = max(len(r[0]) for r in rows)
    for what, value, unit, note in rows:
        print(f"  {what:<{w}}  {value:>10} {unit:<4} {note}")
    print()


if __name__ == "__main__":
    main()
