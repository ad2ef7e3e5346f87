"""Keel's /inject against Istio's own injector, pod by pod.

The reference is istiod's webhook handler (istio.io/istio pkg/kube/inject, run by
test/e2e/istio_tools/injector on a loopback port) configured exactly as istiod is by
its Helm chart: Istio's own istio-discovery chart (from the pinned istio.io/istio
module) rendered with the real `helm` gives ConfigMap istio-sidecar-injector (config,
values) and ConfigMap istio (mesh). The only values set are the image's hub and tag,
to Keel's defaults (the module's chart says registry.istio.io/testing:latest).

Each pod shape is sent as the same AdmissionReview to both; each JSONPatch is applied
(RFC 6902, the `jsonpatch` package) to the pod, and the two results must be equal,
as must the decision (patched, skipped, denied).

Keel's chart's own ConfigMaps (istio-sidecar-injector, istio) are judged by the real
istioctl kube-inject: each shape as a Deployment's pod template, and the template it
writes must be the pod Keel's webhook makes of that Deployment's pod.
"""

import base64
import copy
import difflib
import functools
import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import tempfile
from decimal import Decimal

import jsonpatch
import pytest
import yaml

from keeltest import free_port, keel_discovery, wait_until

TOOLS = os.environ.get("KEEL_TOOLS_DIR", "build/tools/bin")
HELM = os.path.join(TOOLS, "helm")
INJECTOR = os.path.join(TOOLS, "istio-injector")
ISTIOCTL = os.path.join(TOOLS, "istioctl")
ISTIO_CHART = os.path.join(TOOLS, "istio-discovery")
ISTIO_GATEWAY_CHART = os.path.join(TOOLS, "istio-gateway")
KEEL_CHART = os.environ.get("KEEL_CHART_DIR", os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "build", "charts", "keel"))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def render_istiod_config(out_dir, chart=ISTIO_CHART, args=("--set", "global.hub=docker.io/istio",
                                                              "--set", "global.tag=1.31.0")):
    """config, values and mesh files from a chart's ConfigMaps istio-sidecar-injector and
    istio, as istiod reads them (and istioctl kube-inject --injectConfigFile, --valuesFile,
    --meshConfigFile)."""
    rendered = subprocess.run([HELM, "template", "istiod", chart, "-n", "istio-system", *args],
                              capture_output=True, text=True, check=True, timeout=60).stdout
    files = {}
    for doc in yaml.safe_load_all(rendered):
        if not doc or doc.get("kind") != "ConfigMap":
            continue
        name, data = doc["metadata"]["name"], doc.get("data", {})
        if name == "istio-sidecar-injector":
            files["config"], files["values"] = data["config"], data["values"]
        elif name == "istio":
            files["mesh"] = data["mesh"]
    assert set(files) == {"config", "values", "mesh"}, f"Istio's chart rendered no injector/mesh ConfigMaps: {set(files)}"
    paths = {}
    for key, text in files.items():
        paths[key] = os.path.join(out_dir, key)
        with open(paths[key], "w") as f:
            f.write(text)
    return paths


@pytest.fixture(scope="module")
def injectors():
    for tool in (HELM, INJECTOR, ISTIOCTL):
        assert os.access(tool, os.X_OK), f"{tool}: run test/e2e/istio_tools/build.sh (scripts/dev.sh test does)"
    tmp = tempfile.mkdtemp(prefix="keel-inject-istio-")
    os.mkdir(os.path.join(tmp, "istiod"))
    paths = render_istiod_config(os.path.join(tmp, "istiod"))
    istio_port = free_port()
    env = dict(os.environ, ENABLE_NATIVE_SIDECARS="false")
    istio_log = open(os.path.join(tmp, "istio-injector.log"), "w")
    istio = subprocess.Popen([INJECTOR, "--config", paths["config"], "--values", paths["values"], "--mesh",
                              paths["mesh"], "--addr", f"127.0.0.1:{istio_port}"], stdout=istio_log,
                             stderr=subprocess.STDOUT, env=env)
    # Files of Keel's chart's ConfigMaps istio-sidecar-injector and istio, for istioctl kube-inject.
    os.mkdir(os.path.join(tmp, "keel-chart"))
    keel_chart_files = render_istiod_config(os.path.join(tmp, "keel-chart"), KEEL_CHART, ())
    webhook_port = free_port()
    config_dir = os.path.join(tmp, "config")
    args = ["--config-dir", config_dir, "--ca-dir", os.path.join(tmp, "ca"), "--secure-grpc-addr", "127.0.0.1:0",
            "--webhook-addr", f"127.0.0.1:{webhook_port}", "--custom-host", "localhost",
            "--serving-cert-dir", os.path.join(tmp, "serving")]
    try:
        shutil.copytree(os.path.join(ROOT, "examples", "bookinfo"), config_dir)
        with keel_discovery(args, os.path.join(tmp, "keel.log")) as keel:
            tls = ssl.create_default_context(cafile=os.path.join(tmp, "serving", "root-cert.pem"))

            def post_keel(body, path="/inject"):
                return post(http.client.HTTPSConnection("localhost", webhook_port, context=tls, timeout=10), body, path)

            def post_istio(body, path="/inject"):
                return post(http.client.HTTPConnection("127.0.0.1", istio_port, timeout=10), body, path)

            wait_until(lambda: istio.poll() is not None or reachable(post_istio), 20, "Istio's injector")
            assert istio.poll() is None, f"istio-injector exited:\n{open(istio_log.name).read()}"
            yield {"keel": post_keel, "istio": post_istio, "keel_chart_files": keel_chart_files, "keel_log": keel.log}
    finally:
        istio.terminate()
        istio.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def post(conn, body, path="/inject"):
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


def reachable(post_fn):
    try:
        post_fn("{}")
        return True
    except OSError:
        return False


def review(pod, namespace):
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "3c1d2a9e", "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"}, "namespace": namespace,
        "operation": "CREATE", "object": pod}})


def outcome(pod, reply):
    """("patched", pod after the patch) | ("allowed", pod) | ("denied", message)."""
    status, body = reply
    assert status == 200, body
    response = json.loads(body)["response"]
    if not response.get("allowed"):
        return "denied", response.get("result", response.get("status", {})).get("message", "")
    if "patch" not in response:
        return "allowed", pod
    return "patched", jsonpatch.apply_patch(pod, json.loads(base64.b64decode(response["patch"])))


# ---------------------------------------------------------------------------------------------
# Pod shapes
# ---------------------------------------------------------------------------------------------
def base_pod(name="reviews-v1-abc", labels=None, annotations=None, **spec_extra):
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": "bookinfo", "labels": labels or {"app": "reviews", "version": "v1"}},
           "spec": {"serviceAccountName": "bookinfo-reviews", "containers": [{
               "name": "reviews", "image": "docker.io/istio/examples-bookinfo-reviews-v1:1.20.2",
               "ports": [{"containerPort": 9080, "protocol": "TCP"}]}]}}
    if annotations:
        pod["metadata"]["annotations"] = annotations
    pod["spec"].update(spec_extra)
    return pod


def with_app(pod, **fields):
    pod["spec"]["containers"][0].update(fields)
    return pod


def controller_pod(owner_kind, owner_api, owner_name, labels):
    """A pod as a controller creates it: no name yet, generateName, a controller reference."""
    pod = base_pod(labels=labels)
    del pod["metadata"]["name"]
    pod["metadata"]["generateName"] = owner_name + "-"
    pod["metadata"]["ownerReferences"] = [{"apiVersion": owner_api, "kind": owner_kind, "name": owner_name,
                                           "controller": True, "uid": "9a1b"}]
    return pod


def two_containers():
    pod = base_pod()
    pod["spec"]["containers"].append({"name": "logger", "image": "fluent/fluent-bit:3",
                                      "ports": [{"name": "metrics", "containerPort": 2020}]})
    pod["spec"]["initContainers"] = [{"name": "migrate", "image": "busybox", "command": ["true"]}]
    return pod


def user_istio_proxy():
    pod = base_pod()
    pod["spec"]["containers"].append({"name": "istio-proxy", "image": "auto",
                                      "resources": {"limits": {"memory": "512Mi"}}})
    return pod


@functools.lru_cache(maxsize=None)
def istio_gateway_pod_template(*values):
    """The pod template of the Deployment Istio's own gateway chart renders (with `--set`
    values), as JSON text: what the gateway injection template is written for."""
    args = [HELM, "template", "istio-ingressgateway", ISTIO_GATEWAY_CHART, "-n", "istio-ingress"]
    for v in values:
        args += ["--set", v]
    rendered = subprocess.run(args, capture_output=True, text=True, check=True, timeout=60).stdout
    deployment = next(d for d in yaml.safe_load_all(rendered) if d and d.get("kind") == "Deployment")
    return json.dumps(deployment["spec"]["template"])


def gateway_chart_pod(*values):
    """A pod of that Deployment as its ReplicaSet creates it; `env: null` dropped, as the
    API server would."""
    template = json.loads(istio_gateway_pod_template(*values))
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": template["metadata"], "spec": template["spec"]}
    pod["metadata"]["namespace"] = "bookinfo"
    pod["metadata"]["labels"]["pod-template-hash"] = "5d9c7f"
    pod["metadata"]["generateName"] = "istio-ingressgateway-5d9c7f-"
    pod["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "controller": True,
                                           "name": "istio-ingressgateway-5d9c7f", "uid": "7c2d"}]
    for c in pod["spec"]["containers"]:
        if c.get("env") is None:
            c.pop("env", None)
    return pod


def keel_chart_gateway_pod():
    """A pod of the ingress gateway Keel's own chart renders (gateways.istio-ingressgateway)."""
    chart = os.environ.get("KEEL_CHART_DIR", os.path.join(ROOT, "build", "charts", "keel"))
    rendered = subprocess.run([HELM, "template", "keel", chart, "-n", "istio-system", "-s", "templates/ingressgateway.yaml",
                               "--set", "gateways.istio-ingressgateway.enabled=true"],
                              capture_output=True, text=True, check=True, timeout=60).stdout
    template = next(d for d in yaml.safe_load_all(rendered) if d and d.get("kind") == "Deployment")["spec"]["template"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": template["metadata"], "spec": template["spec"]}
    pod["metadata"].update(namespace="istio-system", generateName="istio-ingressgateway-7f6d4-")
    pod["metadata"]["labels"]["pod-template-hash"] = "7f6d4"
    pod["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "controller": True,
                                           "name": "istio-ingressgateway-7f6d4", "uid": "5e1a"}]
    return pod


def bare_gateway_pod():
    """A gateway pod written by hand: the template alone, no istio-proxy of its own."""
    return base_pod(name="my-gateway", labels={"istio": "ingressgateway", "sidecar.istio.io/inject": "true"},
                    annotations={"inject.istio.io/templates": "gateway"})


def nameless_template():
    """A pod template as istioctl kube-inject posts it to the webhook itself: no name, no
    generateName, no owner (istiod then names no workload)."""
    pod = base_pod()
    del pod["metadata"]["name"]
    return pod


def user_istio_proxy_run_as_user():
    """istio-init then leaves uid 1500's traffic alone (istiod's adjustInitContainerUser)."""
    pod = user_istio_proxy()
    pod["spec"]["containers"][1]["securityContext"] = {"runAsUser": 1500, "runAsGroup": 1500}
    return pod


SHAPES = {
    "plain": lambda: base_pod(),
    "no_labels": lambda: base_pod(labels={}),
    "nameless_template": nameless_template,
    "deployment_replicaset": lambda: controller_pod("ReplicaSet", "apps/v1", "ratings-v1-6d8b5c",
                                                    {"app": "ratings", "version": "v1", "pod-template-hash": "6d8b5c"}),
    "cronjob": lambda: controller_pod("Job", "batch/v1", "backup-28912345", {"job-name": "backup-28912345"}),
    "canonical_labels": lambda: base_pod(labels={"app.kubernetes.io/name": "reviews", "app.kubernetes.io/version": "2.1"}),
    "two_containers_and_init": two_containers,
    # Bookinfo's reviews: volumes and mounts of its own.
    "own_volumes": lambda: with_app(base_pod(volumes=[{"name": "wlp-output", "emptyDir": {}},
                                                      {"name": "tmp", "emptyDir": {}}]),
                                    volumeMounts=[{"name": "tmp", "mountPath": "/tmp"},
                                                  {"name": "wlp-output", "mountPath": "/opt/ibm/wlp/output"}]),
    "http_readiness_probe": lambda: with_app(base_pod(), readinessProbe={"httpGet": {"path": "/health", "port": 9080},
                                                                         "periodSeconds": 5, "timeoutSeconds": 2}),
    "named_port_liveness": lambda: with_app(base_pod(), ports=[{"name": "http", "containerPort": 9080}],
                                            livenessProbe={"httpGet": {"path": "/live", "port": "http",
                                                                       "httpHeaders": [{"name": "X-A", "value": "b"}]}}),
    "tcp_and_grpc_probes": lambda: with_app(base_pod(), livenessProbe={"tcpSocket": {"port": 9080}},
                                            startupProbe={"grpc": {"port": 9090}}),
    "no_probe_rewrite": lambda: with_app(base_pod(annotations={"sidecar.istio.io/rewriteAppHTTPProbers": "false"}),
                                         readinessProbe={"httpGet": {"path": "/health", "port": 9080}}),
    "resource_annotations": lambda: base_pod(annotations={"sidecar.istio.io/proxyCPU": "50m",
                                                          "sidecar.istio.io/proxyMemory": "64Mi",
                                                          "sidecar.istio.io/proxyCPULimit": "1",
                                                          "sidecar.istio.io/proxyMemoryLimit": "256Mi"}),
    "proxy_image": lambda: base_pod(annotations={"sidecar.istio.io/proxyImage": "my.registry/istio/proxyv2:1.31.0"}),
    "traffic_annotations": lambda: base_pod(annotations={
        "traffic.sidecar.istio.io/includeOutboundIPRanges": "10.0.0.0/8",
        "traffic.sidecar.istio.io/excludeOutboundIPRanges": "10.96.0.1/32",
        "traffic.sidecar.istio.io/excludeInboundPorts": "9999",
        "traffic.sidecar.istio.io/includeInboundPorts": "9080",
        "traffic.sidecar.istio.io/excludeOutboundPorts": "5432,6379"}),
    "readiness_annotations": lambda: base_pod(annotations={
        "readiness.status.sidecar.istio.io/initialDelaySeconds": "3",
        "readiness.status.sidecar.istio.io/periodSeconds": "7",
        "readiness.status.sidecar.istio.io/failureThreshold": "9"}),
    "log_levels": lambda: base_pod(annotations={"sidecar.istio.io/logLevel": "debug",
                                                "sidecar.istio.io/componentLogLevel": "upstream:debug",
                                                "sidecar.istio.io/agentLogLevel": "default:debug"}),
    "proxy_config_yaml": lambda: base_pod(annotations={
        "proxy.istio.io/config": "concurrency: 2\nproxyMetadata:\n  ISTIO_META_DNS_CAPTURE: \"true\"\n"}),
    "hold_application": lambda: base_pod(annotations={"proxy.istio.io/config": "holdApplicationUntilProxyStarts: true"}),
    "prometheus_annotations": lambda: base_pod(annotations={"prometheus.io/scrape": "true", "prometheus.io/port": "9090",
                                                            "prometheus.io/path": "/m"}),
    "prometheus_merge_off": lambda: base_pod(annotations={"prometheus.io/scrape": "true",
                                                          "prometheus.istio.io/merge-metrics": "false"}),
    "user_istio_proxy_container": user_istio_proxy,
    "user_istio_proxy_run_as_user": user_istio_proxy_run_as_user,
    "inject_true_label": lambda: base_pod(labels={"app": "reviews", "sidecar.istio.io/inject": "true"}),
    "network_label": lambda: base_pod(labels={"app": "reviews", "topology.istio.io/network": "net2"}),
    # The grpc-agent template (proxyless gRPC), as Istio's docs annotate such a pod.
    "grpc_agent": lambda: base_pod(annotations={"inject.istio.io/templates": "grpc-agent",
                                                "proxy.istio.io/config": '{"holdApplicationUntilProxyStarts": true}'}),
    "grpc_agent_env_probe_resources": lambda: with_app(
        base_pod(annotations={"inject.istio.io/templates": "grpc-agent", "sidecar.istio.io/proxyCPU": "20m"}),
        env=[{"name": "GRPC_GO_LOG_SEVERITY_LEVEL", "value": "info"}],
        volumeMounts=[{"name": "config", "mountPath": "/etc/app"}],
        readinessProbe={"httpGet": {"path": "/health", "port": 9080}}),
    "grpc_agent_status_port_off": lambda: base_pod(annotations={"inject.istio.io/templates": "grpc-agent",
                                                                "status.sidecar.istio.io/port": "0"}),
    # The gateway template.
    "gateway_chart": lambda: gateway_chart_pod(),
    "gateway_chart_env_labels_image": lambda: gateway_chart_pod(
        "env.ISTIO_META_ROUTER_MODE=sni-dnat", "labels.version=v2", "networkGateway=net1",
        "podAnnotations.sidecar\\.istio\\.io/proxyImage=my.registry/istio/proxyv2:1.31.0",
        "podAnnotations.inject\\.istio\\.io/templates=gateway"),
    "gateway_bare_pod": bare_gateway_pod,
    "gateway_of_keels_chart": keel_chart_gateway_pod,
    # Skipped by both.
    "inject_false_annotation": lambda: base_pod(annotations={"sidecar.istio.io/inject": "false"}),
    "host_network": lambda: base_pod(hostNetwork=True),
    # Denied by both.
    "bad_readiness_period": lambda: base_pod(annotations={"readiness.status.sidecar.istio.io/periodSeconds": "soon"}),
}


def as_the_api_server_sends(pod):
    """The API server's JSON of a Pod always has each container's `resources` (a Go struct,
    not omitted when empty); Istio's patch (a diff of two Go serialisations) relies on it."""
    for key in ("containers", "initContainers"):
        for c in pod["spec"].get(key, []):
            c.setdefault("resources", {})
    return pod


def assert_same_pods(istio_pod, keel_pod):
    a = json.dumps(istio_pod, indent=1, sort_keys=True).splitlines()
    b = json.dumps(keel_pod, indent=1, sort_keys=True).splitlines()
    diff = "\n".join(difflib.unified_diff(a, b, "istio", "keel", lineterm="", n=3))
    assert not diff, f"the injected pods differ:\n{diff}"


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_keel_injects_as_istios_injector(injectors, shape):
    pod = as_the_api_server_sends(SHAPES[shape]())
    body = review(pod, "bookinfo")
    istio_kind, istio_result = outcome(copy.deepcopy(pod), injectors["istio"](body))
    keel_kind, keel_result = outcome(copy.deepcopy(pod), injectors["keel"](body))
    assert keel_kind == istio_kind, f"Istio: {istio_kind} {istio_result if istio_kind == 'denied' else ''}; " \
                                    f"Keel: {keel_kind} {keel_result if keel_kind == 'denied' else ''}"
    if istio_kind == "denied":
        assert keel_result, "Keel denied without a reason"
        return
    assert_same_pods(istio_result, keel_result)


@pytest.mark.parametrize("path", ["/inject/cluster/cluster2/net/network2",
                                  "/inject/net/network2/my_setting/a--slash--b/",
                                  "/inject/:ENV:cluster=cluster3:ENV:ISTIO_META_DNS_CAPTURE=true"])
@pytest.mark.parametrize("shape", ["plain", "network_label", "gateway_chart"])
def test_the_webhook_url_sets_proxy_env_as_istios(injectors, shape, path):
    """istiod's /inject/<key>/<value>... (a remote cluster's webhook configuration names
    its cluster and network this way)."""
    pod = as_the_api_server_sends(SHAPES[shape]())
    body = review(pod, "bookinfo")
    istio_kind, istio_result = outcome(copy.deepcopy(pod), injectors["istio"](body, path))
    keel_kind, keel_result = outcome(copy.deepcopy(pod), injectors["keel"](body, path))
    assert istio_kind == keel_kind == "patched"
    assert_same_pods(istio_result, keel_result)


def deployment_of(pod, name):
    """The Deployment `name` whose pod template is `pod`'s labels, annotations and spec, and
    the pod its ReplicaSet creates from it (generateName, controller reference, hash label)."""
    namespace = pod["metadata"].get("namespace", "bookinfo")
    labels = {k: v for k, v in pod["metadata"].get("labels", {}).items() if k != "pod-template-hash"}
    template = {"metadata": {"labels": labels}, "spec": pod["spec"]}
    if pod["metadata"].get("annotations"):
        template["metadata"]["annotations"] = pod["metadata"]["annotations"]
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
                  "spec": {"selector": {"matchLabels": labels}, "template": template}}
    replica_set = f"{name}-5d9c7f"
    created = copy.deepcopy(template)
    created["metadata"].update(namespace=namespace, generateName=replica_set + "-", ownerReferences=[{
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": replica_set, "controller": True, "uid": "4b7e"}])
    created["metadata"]["labels"] = dict(labels, **{"pod-template-hash": "5d9c7f"})
    return deployment, dict({"apiVersion": "v1", "kind": "Pod"}, **created)


QUANTITY_SUFFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60, "n": Decimal("1e-9"),
                     "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": 1, "k": 10**3, "M": 10**6, "G": 10**9,
                     "T": 10**12, "P": 10**15, "E": 10**18}


def with_quantity_values(pod_or_template):
    """Each container's resource quantities as their values: istioctl writes them as Go's
    resource.Quantity serialises them (2000m as 2, 1024Mi as 1Gi), as the API server
    stores them; a webhook's patch carries the template's text."""
    for key in ("containers", "initContainers"):
        for c in pod_or_template["spec"].get(key, []):
            for kind in ("limits", "requests"):
                for name, text in c.get("resources", {}).get(kind, {}).items():
                    number, suffix = re.fullmatch(r"([0-9.]+(?:[eE][-+]?[0-9]+)?)([A-Za-z]*)", str(text)).groups()
                    c["resources"][kind][name] = str((Decimal(number) * QUANTITY_SUFFIXES[suffix]).normalize())
    return pod_or_template


def istioctl_kube_inject(files, deployment):
    """("patched", pod template) | ("allowed", pod template) | ("denied", stderr) from the
    real `istioctl kube-inject` with the files of Keel's chart's ConfigMaps."""
    run = subprocess.run([ISTIOCTL, "kube-inject", "--revision", "default", "--injectConfigFile", files["config"],
                          "--valuesFile", files["values"], "--meshConfigFile", files["mesh"], "-f", "-"],
                         input=yaml.safe_dump(deployment), capture_output=True, text=True, timeout=60)
    if run.returncode != 0:
        return "denied", run.stderr
    (written,) = [d for d in yaml.safe_load_all(run.stdout) if d]  # it ends each object with ---
    template = written["spec"]["template"]
    injected = "sidecar.istio.io/status" in template["metadata"].get("annotations", {})
    return ("patched" if injected else "allowed"), template


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_istioctl_kube_inject_with_keels_configmaps_gives_what_keels_webhook_gives(injectors, shape):
    """ConfigMap istio-sidecar-injector of Keel's chart (our own sidecar, gateway and
    grpc-agent templates and values) and ConfigMap istio, saved to files as the Istio
    docs' manual-injection steps do, given to the real istioctl kube-inject with a
    Deployment of the shape: the pod template it writes must be the pod Keel's webhook
    makes of that Deployment's pod (less what the ReplicaSet adds)."""
    deployment, pod = deployment_of(as_the_api_server_sends(SHAPES[shape]()), shape.replace("_", "-"))
    ctl_kind, ctl_template = istioctl_kube_inject(injectors["keel_chart_files"], deployment)
    keel_kind, keel_pod = outcome(copy.deepcopy(pod), injectors["keel"](review(pod, pod["metadata"]["namespace"])))
    assert ctl_kind == keel_kind, f"istioctl: {ctl_kind} {ctl_template if ctl_kind == 'denied' else ''}; " \
                                  f"Keel: {keel_kind} {keel_pod if keel_kind == 'denied' else ''}"
    if keel_kind == "denied":
        return
    keel_pod["metadata"]["labels"].pop("pod-template-hash")
    keel_template = {"metadata": {k: keel_pod["metadata"][k] for k in ("labels", "annotations") if k in keel_pod["metadata"]},
                     "spec": keel_pod["spec"]}
    ctl_template["metadata"].pop("creationTimestamp", None)  # Go's zero time, serialised as null
    assert_same_pods(with_quantity_values(ctl_template), with_quantity_values(keel_template))


def test_the_shapes_cover_every_outcome(injectors):
    """The comparison means something only if Istio patches some shapes, skips some and denies some."""
    kinds = set()
    for shape in SHAPES.values():
        pod = as_the_api_server_sends(shape())
        kinds.add(outcome(copy.deepcopy(pod), injectors["istio"](review(pod, "bookinfo")))[0])
    assert kinds == {"patched", "allowed", "denied"}, kinds
