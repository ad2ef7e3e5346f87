"""Sidecar injection through the real kube-apiserver: the MutatingWebhookConfiguration
the chart renders (templates/mutatingwebhook.yaml: Istio's four webhooks and their
namespace/object selectors, failurePolicy Fail, no caBundle), pointed at Keel's webhook
port over HTTPS. Keel fills the caBundle with its CA's roots itself (WebhookCertPatcher):
until it does, the API server cannot call it, so the fixture's wait proves the patcher.
The API server calls Keel, applies its JSONPatch, validates the result and stores it:
what `kubectl get pod` returns is what a kubelet would run. No scheduler or kubelet runs,
so pods stay Pending.

The configuration carries this run's revision label (Keel runs with --revision) and every
webhook's namespaceSelector also requires this run's `keel-injection-test` label, so
other namespaces on the shared API server are never sent to it.

Policy cases use `kubectl create --dry-run=server`, which runs admission (the webhook
declares sideEffects None) without storing anything.
"""

import base64
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from ca_testlib import Keel, cert_sans, ensure_namespace, kubectl, kubectl_json, suffix, wait_until


class Ctx:
    pass


def chart_webhook_configuration(name, revision, port, selector_value):
    """The chart's MutatingWebhookConfiguration, renamed and relabelled for this run, calling
    Keel at https://localhost:<port>/inject instead of the istiod Service."""
    helm = os.path.join(os.environ["KEEL_TOOLS_DIR"], "helm")
    out = subprocess.run([helm, "template", "keel", os.environ["KEEL_CHART_DIR"], "-n", "istio-system",
                          "-s", "templates/mutatingwebhook.yaml"], check=True, capture_output=True, text=True).stdout
    config = yaml.safe_load(out)
    config["metadata"]["name"] = name
    config["metadata"]["labels"]["istio.io/rev"] = revision
    for webhook in config["webhooks"]:
        assert "caBundle" not in webhook["clientConfig"], webhook  # Keel's to fill
        webhook["clientConfig"] = {"url": f"https://localhost:{port}/inject"}
        webhook["namespaceSelector"]["matchExpressions"].append(
            {"key": "keel-injection-test", "operator": "In", "values": [selector_value]})
        webhook["timeoutSeconds"] = 10
    return config


def ca_bundles(name):
    config = kubectl_json("get", "mutatingwebhookconfiguration", name)
    return [w["clientConfig"].get("caBundle") for w in config["webhooks"]]


def pod(name, labels=None, annotations=None, host_network=False, owner=None, generate_name=False):
    metadata = {"labels": labels or {"app": "reviews", "version": "v1"}, "annotations": annotations or {}}
    if generate_name:
        metadata["generateName"] = name
    else:
        metadata["name"] = name
    if owner:
        metadata["ownerReferences"] = [owner]
    spec = {"serviceAccountName": "bookinfo-reviews", "containers": [{
        "name": "reviews", "image": "docker.io/istio/examples-bookinfo-reviews-v1:1.20.2",
        "ports": [{"containerPort": 9080, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/health", "port": 9080}, "periodSeconds": 5}}]}
    if host_network:
        spec["hostNetwork"] = True
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def create(ns, obj, dry_run=False, check=True):
    args = ["create", "-n", ns, "-f", "-", "-o", "json"] + (["--dry-run=server"] if dry_run else [])
    p = kubectl(*args, input=json.dumps(obj), check=check)
    return json.loads(p.stdout) if p.returncode == 0 else p


def names(items):
    return [i["name"] for i in items or []]


def env_of(container):
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def post_inject(ctx, body, content_type="application/json"):
    """POST /inject over TLS, verifying Keel's serving certificate for "localhost"."""
    tls = ssl.create_default_context(cafile=ctx.root_path)
    conn = http.client.HTTPSConnection("localhost", ctx.webhook_port, context=tls, timeout=10)
    try:
        conn.request("POST", "/inject", body=body, headers={"Content-Type": content_type})
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


def injection_metrics(ctx):
    m = ctx.keel.metrics()  # prometheus_client names a counter's family without its _total
    return {k: m[f"sidecar_injection_{k}"] for k in ("requests", "success", "skip", "failure")}


@pytest.fixture(scope="module")
def ctx(request):
    c = Ctx()
    c.tmp = tempfile.mkdtemp(prefix="keel-inject-")
    c.sfx = suffix()
    c.ns = f"inject-{c.sfx}"       # labelled istio-injection=enabled (and this run's selector label)
    c.plain = f"plain-{c.sfx}"     # not labelled: never sent to the webhook
    c.webhook = f"keel-sidecar-injector-{c.sfx}"
    c.rev = f"rev-{c.sfx}"
    c.other = f"keel-sidecar-injector-other-{c.sfx}"  # another revision's: Keel leaves it alone
    ensure_namespace("istio-system")
    for ns in (c.ns, c.plain):
        ensure_namespace(ns)
    kubectl("label", "namespace", c.ns, "istio-injection=enabled", f"keel-injection-test={c.sfx}")
    c.keel = Keel(c.tmp, extra=["--custom-host", "localhost", "--revision", c.rev,
                                "--injection-webhook-config-name", c.webhook])
    c.webhook_port = c.keel.webhook_port
    ok = False
    try:
        # The other revision's selects no namespace: without a caBundle, its calls would fail.
        for name, rev, selected in ((c.webhook, c.rev, c.sfx), (c.other, f"other-{c.sfx}", f"none-{c.sfx}")):
            kubectl("apply", "-f", "-", input=json.dumps(chart_webhook_configuration(name, rev, c.webhook_port, selected)))
        # 90 s: a CA Lease holder that died without releasing it (another test's Keel) is
        # waited out for its 30 s term before this Keel may create the root and be ready.
        c.keel.start(timeout=90)
        c.root_path = os.path.join(c.tmp, "serving-istio-system", "root-cert.pem")
        with open(c.root_path) as f:
            c.root = f.read()
        c.root_b64 = base64.b64encode(c.root.encode()).decode()
        # The API server picks a new caBundle up within about a second.
        wait_until(lambda: "istio-proxy" in names(create(c.ns, pod("probe"), dry_run=True)["spec"]["containers"]),
                   30, "Keel to fill the caBundle and the API server to call Keel's webhook")
        yield c
        ok = request.session.testsfailed == 0
    finally:
        c.keel.stop()
        kubectl("delete", "mutatingwebhookconfiguration", c.webhook, c.other, "--ignore-not-found", check=False)
        kubectl("delete", "pods", "--all", "-n", c.ns, "--wait=false", check=False)
        for ns in (c.ns, c.plain):
            kubectl("delete", "namespace", ns, "--wait=false", check=False)
        if ok:
            shutil.rmtree(c.tmp, ignore_errors=True)
        else:
            print(f"kept {c.tmp} (keel logs)")


ZERO_WEIGHTS = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, labels: {istio.io/rev: REV}}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 0
    - destination: {host: reviews, subset: v2}
      weight: 0
"""


def test_the_validation_webhook_refuses_what_keel_would_drop_once_it_fails_closed(ctx):
    """The chart's istio-validator, for this run's revision (its objectSelector: objects
    labelled istio.io/rev=REV), calling Keel's /validate: Keel fills its caBundle, sees the API
    server call it (a dry-run create denied) and flips failurePolicy to Fail; then kubectl
    apply of a VirtualService whose weights are all 0 is refused with the field path."""
    crds = os.environ.get("KEEL_ISTIO_CRDS")
    assert crds, "KEEL_ISTIO_CRDS: the chart's crd-all.gen.yaml (keel_kube_test sets it)"
    kubectl("apply", "--server-side", "--force-conflicts", "-f", crds, timeout=90)
    helm = os.path.join(os.environ["KEEL_TOOLS_DIR"], "helm")
    out = subprocess.run([helm, "template", "keel", os.environ["KEEL_CHART_DIR"], "-n", "istio-system", "-s",
                          "templates/validatingwebhookconfiguration.yaml", "--set", f"revision={ctx.rev}"],
                         check=True, capture_output=True, text=True).stdout
    config = next(d for d in yaml.safe_load_all(out) if d)
    assert config["metadata"]["name"] == f"istio-validator-{ctx.rev}-istio-system"
    assert config["webhooks"][0]["failurePolicy"] == "Ignore" and "caBundle" not in config["webhooks"][0]["clientConfig"]
    name = f"keel-validator-{ctx.sfx}"
    config["metadata"]["name"] = name
    config["webhooks"][0]["clientConfig"] = {"url": f"https://localhost:{ctx.webhook_port}/validate"}
    config["webhooks"][0]["timeoutSeconds"] = 10
    kubectl("apply", "-f", "-", input=json.dumps(config))
    try:
        def policy():
            hook = kubectl_json("get", "validatingwebhookconfiguration", name)["webhooks"][0]
            return hook["clientConfig"].get("caBundle") == ctx.root_b64 and hook["failurePolicy"] == "Fail"
        wait_until(policy, 60, "Keel to fill the caBundle and, once called, set failurePolicy Fail")
        invalid = ZERO_WEIGHTS.replace("REV", ctx.rev)
        p = kubectl("apply", "-n", ctx.ns, "-f", "-", input=invalid, check=False)
        assert p.returncode != 0
        assert ('admission webhook "rev.validation.istio.io" denied the request: configuration is invalid: '
                f"VirtualService {ctx.ns}/reviews: spec.http[0].route: total destination weight = 0") in p.stderr, p.stderr
        valid = invalid.replace("weight: 0", "weight: 50")
        kubectl("apply", "-n", ctx.ns, "--dry-run=server", "-f", "-", input=valid)
        # Objects of other revisions are not this webhook's (objectSelector): stored, as by istiod.
        kubectl("apply", "-n", ctx.ns, "--dry-run=server", "-f", "-", input=ZERO_WEIGHTS.replace("REV", "another"))
        assert ctx.keel.metrics()["galley_validation_passed"] >= 1
        assert 'galley_validation_failed{reason="invalid_resource"}' in ctx.keel.http_get("/metrics")[1]
    finally:
        kubectl("delete", "validatingwebhookconfiguration", name, "--ignore-not-found", check=False)


def test_a_pod_in_a_labelled_namespace_is_stored_with_istios_sidecar(ctx):
    stored = create(ctx.ns, pod("reviews-v1"))
    stored = kubectl_json("get", "pod", "reviews-v1", "-n", ctx.ns)  # what the API server kept
    spec, meta = stored["spec"], stored["metadata"]
    assert names(spec["containers"]) == ["reviews", "istio-proxy"]
    assert names(spec["initContainers"]) == ["istio-init"]
    assert {"istio-envoy", "istio-data", "istio-podinfo", "istio-token", "istiod-ca-cert"} <= set(names(spec["volumes"]))
    token = next(v for v in spec["volumes"] if v["name"] == "istio-token")
    assert token["projected"]["sources"][0]["serviceAccountToken"]["audience"] == "istio-ca"
    proxy = spec["containers"][1]
    assert proxy["image"] == "docker.io/istio/proxyv2:1.31.0"
    assert proxy["args"][:2] == ["proxy", "sidecar"]
    env = env_of(proxy)
    assert env["CA_ADDR"] == f"istiod-{ctx.rev}.istio-system.svc:15012"  # the revision's Service, as istiod
    assert env["PROXY_CONFIG"] == "{}\n"  # as istiod: only what differs from Istio's built-in defaults
    assert env["ISTIO_META_WORKLOAD_NAME"] == "reviews-v1"
    assert proxy["readinessProbe"]["httpGet"] == {"path": "/healthz/ready", "port": 15021, "scheme": "HTTP"}
    # The app's probe goes through the agent, which keeps what it probed.
    app = spec["containers"][0]
    assert app["readinessProbe"]["httpGet"]["path"] == "/app-health/reviews/readyz"
    assert app["readinessProbe"]["httpGet"]["port"] == 15020
    assert json.loads(env["ISTIO_KUBE_APP_PROBERS"])["/app-health/reviews/readyz"]["httpGet"]["port"] == 9080
    init_args = spec["initContainers"][0]["args"]
    assert init_args[:9] == ["istio-iptables", "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT"]
    assert meta["labels"]["security.istio.io/tlsMode"] == "istio"
    assert meta["labels"]["service.istio.io/canonical-name"] == "reviews"
    assert meta["labels"]["service.istio.io/canonical-revision"] == "v1"
    status = json.loads(meta["annotations"]["sidecar.istio.io/status"])
    assert status["containers"] == ["istio-proxy"] and status["initContainers"] == ["istio-init"]
    assert meta["annotations"]["prometheus.io/port"] == "15020"
    assert meta["annotations"]["istio.io/rev"] == ctx.rev


def test_a_controllers_pod_without_a_name_names_its_deployment(ctx):
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "ratings-v1-6d8b5c", "controller": True,
             "uid": "0b1f7a52-6a3b-4a0e-9a55-7f0e4e6c1d21"}
    stored = create(ctx.ns, pod("ratings-v1-6d8b5c-", {"app": "ratings", "version": "v1", "pod-template-hash": "6d8b5c"},
                                owner=owner, generate_name=True))
    env = env_of(stored["spec"]["containers"][1])
    assert env["ISTIO_META_WORKLOAD_NAME"] == "ratings-v1"
    assert env["ISTIO_META_OWNER"] == f"kubernetes://apis/apps/v1/namespaces/{ctx.ns}/deployments/ratings-v1"


def test_a_pod_of_istios_gateway_chart_is_stored_with_the_gateway_template(ctx):
    """What a ReplicaSet of Istio's own gateway chart's Deployment would create (no
    controller-manager runs here, so the test creates the pod from the template)."""
    helm = os.path.join(os.environ["KEEL_TOOLS_DIR"], "helm")
    chart = os.path.join(os.environ["KEEL_TOOLS_DIR"], "istio-gateway")
    out = subprocess.run([helm, "template", "istio-ingressgateway", chart, "-n", ctx.ns], check=True,
                         capture_output=True, text=True).stdout
    deployment = next(d for d in yaml.safe_load_all(out) if d and d.get("kind") == "Deployment")
    template = deployment["spec"]["template"]
    template["metadata"]["name"] = "istio-ingressgateway-1"
    template["spec"]["serviceAccountName"] = "default"  # the chart's ServiceAccount is not installed here
    create(ctx.ns, {"apiVersion": "v1", "kind": "Pod", **template})
    stored = kubectl_json("get", "pod", "istio-ingressgateway-1", "-n", ctx.ns)
    spec, meta = stored["spec"], stored["metadata"]
    assert names(spec["containers"]) == ["istio-proxy"]
    assert "initContainers" not in spec
    proxy = spec["containers"][0]
    assert proxy["image"] == "docker.io/istio/proxyv2:1.31.0"  # the chart's "auto", filled in
    assert proxy["args"][:2] == ["proxy", "router"]
    assert env_of(proxy)["CA_ADDR"] == f"istiod-{ctx.rev}.istio-system.svc:15012"
    assert proxy["securityContext"]["runAsUser"] == 1337 and proxy["securityContext"]["runAsNonRoot"] is True
    assert {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"} in spec["securityContext"]["sysctls"]
    assert "security.istio.io/tlsMode" not in meta["labels"]
    assert json.loads(meta["annotations"]["sidecar.istio.io/status"])["initContainers"] is None


@pytest.mark.parametrize("case", ["unlabelled-namespace", "label-false", "annotation-false", "host-network"])
def test_pods_that_opt_out_are_stored_untouched(ctx, case):
    ns, p = ctx.ns, pod(f"skip-{case}")
    if case == "unlabelled-namespace":
        ns = ctx.plain
    elif case == "label-false":
        p["metadata"]["labels"]["sidecar.istio.io/inject"] = "false"
    elif case == "annotation-false":
        p["metadata"]["annotations"]["sidecar.istio.io/inject"] = "false"
    else:
        p["spec"]["hostNetwork"] = True
    before = injection_metrics(ctx)
    stored = create(ns, p, dry_run=True)
    assert names(stored["spec"]["containers"]) == ["reviews"]
    assert "initContainers" not in stored["spec"]
    assert "sidecar.istio.io/status" not in stored["metadata"].get("annotations", {})
    after = injection_metrics(ctx)
    # The selectors keep the first two from Keel; the others reach it and are skipped there.
    called = case in ("annotation-false", "host-network")
    assert after["skip"] - before["skip"] == (1 if called else 0), (before, after)
    assert after["success"] == before["success"]


def test_a_pod_keel_cannot_inject_is_refused_with_the_reason(ctx):
    before = injection_metrics(ctx)
    p = create(ctx.ns, pod("bad-port", annotations={"status.sidecar.istio.io/port": "fifteen"}), check=False)
    assert not isinstance(p, dict), "the API server stored a pod Keel refused"
    assert "denied the request" in p.stderr, p.stderr
    assert f"Pod {ctx.ns}/bad-port: annotation status.sidecar.istio.io/port" in p.stderr, p.stderr
    assert injection_metrics(ctx)["failure"] == before["failure"] + 1


def test_garbage_on_the_webhook_port_is_refused_and_keel_keeps_serving(ctx):
    assert post_inject(ctx, "{not json")[0] == 400
    assert post_inject(ctx, json.dumps({"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1"}))[0] == 400
    assert post_inject(ctx, "x=1", content_type="application/x-www-form-urlencoded")[0] == 415
    status, body = post_inject(ctx, json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                                                "request": {"uid": "u1", "namespace": "x", "object": []}}))
    assert status == 400 and "request.object" in body, body
    # Plaintext bytes on the TLS port: the handshake fails and the connection is closed.
    with socket.create_connection(("127.0.0.1", ctx.webhook_port), timeout=5) as s:
        s.sendall(b"POST /inject HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        s.settimeout(5)
        try:
            data = s.recv(4096)
        except ConnectionResetError:
            data = b""
        assert not data.startswith(b"HTTP/"), data
    assert ctx.keel.http_get("/ready")[0] == 200
    assert "istio-proxy" in names(create(ctx.ns, pod("after-garbage"), dry_run=True)["spec"]["containers"])


def test_with_keel_down_pod_creation_fails_closed_and_resumes_after_restart(ctx):
    ctx.keel.stop()
    p = create(ctx.ns, pod("while-down"), dry_run=True, check=False)
    assert not isinstance(p, dict), "a pod was admitted without its sidecar while the injector was down"
    assert "failed calling webhook" in p.stderr, p.stderr
    ctx.keel.start(timeout=90)
    wait_until(lambda: "istio-proxy" in names(create(ctx.ns, pod("after-restart"), dry_run=True)["spec"]["containers"]),
               30, "the webhook to answer again after Keel's restart")


def test_the_serving_certificate_names_the_revisions_service(ctx):
    """A revision's webhook configuration calls istiod-<rev>.<ns>.svc (istiod's SANs)."""
    with open(os.path.join(ctx.tmp, "serving-istio-system", "cert-chain.pem")) as f:
        sans = cert_sans(f.read())
    for name in (f"istiod-{ctx.rev}.istio-system.svc", "istiod.istio-system.svc", "istiod-remote.istio-system.svc",
                 "istio-pilot.istio-system.svc", "localhost"):
        assert f"DNS:{name}" in sans, sans


def test_keel_keeps_its_revisions_ca_bundle_and_leaves_other_revisions_alone(ctx):
    assert ca_bundles(ctx.webhook) == [ctx.root_b64] * 4
    assert ca_bundles(ctx.other) == [None] * 4
    # Someone overwrites one webhook's caBundle: the watch brings the change and Keel repairs it.
    tampered = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nnot ours\n-----END CERTIFICATE-----\n").decode()
    kubectl("patch", "mutatingwebhookconfiguration", ctx.webhook, "--type=json",
            "-p", json.dumps([{"op": "replace", "path": "/webhooks/2/clientConfig/caBundle", "value": tampered}]))
    wait_until(lambda: ca_bundles(ctx.webhook) == [ctx.root_b64] * 4, 30, "Keel to restore the tampered caBundle")
    assert ca_bundles(ctx.other) == [None] * 4
    _, body = ctx.keel.http_get("/metrics")
    attempts = [s.value for f in text_string_to_metric_families(body) for s in f.samples
                if s.name == "webhook_patch_attempts_total" and s.labels == {"name": ctx.webhook}]
    assert attempts and attempts[0] >= 1, attempts
