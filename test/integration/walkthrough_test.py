"""The README's Bookinfo walk-through, on the real kube-apiserver of the `kube` fixture,
with the real helm, kubectl, istioctl and pilot-agent:

  helm install keel build/charts/keel -n <system-ns> --create-namespace \
      --set gateways.istio-ingressgateway.enabled=true
  kubectl label namespace bookinfo istio-injection=enabled
  kubectl apply -n bookinfo -f samples/bookinfo/platform/kube/bookinfo.yaml
  kubectl apply -n bookinfo -f samples/bookinfo/networking/bookinfo-gateway.yaml

with Istio's own Bookinfo sample (samples/bookinfo of the pinned istio.io/istio module,
copied beside the Istio tools by test/e2e/istio_tools/build.sh). Then the gateway pod's
agent (pilot-agent with the env of the istio-proxy container the API server stored)
must hold listener 0.0.0.0_8080 and route http.8080 to productpage; and istioctl
kube-inject must work both ways the walk-through uses it: with no flags (it reads the
MutatingWebhookConfiguration and calls Keel's webhook) and with --injectConfigFile,
--valuesFile and --meshConfigFile saved from the chart's ConfigMaps.

What this machine changes, and why:
- keel-discovery runs outside the cluster (no kubelet runs the chart's istiod pod), with
  the admin kubeconfig, and its system namespace is this run's (walk-<sfx>, not
  istio-system: the shared API server keeps other tests' objects there). The chart's
  MutatingWebhookConfiguration gets clientConfig.url https://localhost:<port>/inject (as
  README's "Keel outside the cluster") and, in every namespaceSelector, this run's
  `keel-walkthrough` label, so other namespaces are never sent to this Keel.
- No controller-manager runs: the test creates each Deployment's pod as its ReplicaSet
  would (generateName, controller reference, pod-template-hash) and sets its status as a
  kubelet would (Running, a 10.71.0.x podIP); the API server calls the webhook and
  stores the injected pod.
- The gateway's pods carry status.sidecar.istio.io/port: "0" (the chart's
  gateways.istio-ingressgateway.podAnnotations): the agent's status server would listen
  on every interface. See agentlib for the agent's own differences.
"""

import copy
import difflib
import json
import os
import shutil
import subprocess
import tempfile

import pytest
import yaml

from agentlib import Agent
from ca_testlib import Keel, kubectl, kubectl_json, suffix, wait_until

TOOLS = os.environ.get("KEEL_TOOLS_DIR", "build/tools/bin")
HELM = os.path.join(TOOLS, "helm")
ISTIOCTL = os.path.join(TOOLS, "istioctl")
BOOKINFO = os.path.join(TOOLS, "bookinfo")
LDS = "type.googleapis.com/envoy.config.listener.v3.Listener"
RDS = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
HASH = "6f8d9c"
# Injection values a user sets at install: keel-discovery's injector must read them from
# ConfigMap istio-sidecar-injector (values, config), as istiod does.
CUSTOM_VALUES = ("--set", "global.proxy.logLevel=debug", "--set", "global.proxy.resources.requests.cpu=50m",
                 "--set", "global.proxy.resources.limits.cpu=1500m",
                 "--set-string", "sidecarInjectorWebhook.injectedAnnotations.example\\.com/injected-by=keel",
                 "--set-json", 'sidecarInjectorWebhook.neverInjectSelector=[{"matchLabels": {"walkthrough/skip": "yes"}}]')


class Ctx:
    pass


def run(*args, check=True, input=None, timeout=120):
    p = subprocess.run(args, capture_output=True, text=True, input=input, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def create_pod_of(deployment, ip):
    """The pod the Deployment's ReplicaSet would create, through the API server (and so its
    webhooks), then Running at `ip` as its kubelet would report it. Returns it as stored."""
    name, ns = deployment["metadata"]["name"], deployment["metadata"]["namespace"]
    template = copy.deepcopy(deployment["spec"]["template"])
    meta = template["metadata"]
    meta.pop("creationTimestamp", None)
    meta["labels"]["pod-template-hash"] = HASH
    meta.update(namespace=ns, generateName=f"{name}-{HASH}-", ownerReferences=[{
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"{name}-{HASH}", "controller": True,
        "uid": "5f0c2b0e-2d1a-4d7e-9b7a-3c1e8f2a9d40"}])
    pod = json.loads(kubectl("create", "-f", "-", "-o", "json",
                             input=json.dumps({"apiVersion": "v1", "kind": "Pod", **template})).stdout)
    status = {"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                         "conditions": [{"type": "Ready", "status": "True"}]}}
    kubectl("-n", ns, "patch", "pod", pod["metadata"]["name"], "--subresource=status", "--type=merge",
            "-p", json.dumps(status))
    return kubectl_json("get", "pod", pod["metadata"]["name"], "-n", ns)


def names(items):
    return [i["name"] for i in items or []]


@pytest.fixture(scope="module")
def ctx(request):
    for tool in (HELM, ISTIOCTL):
        assert os.access(tool, os.X_OK), f"{tool}: run test/e2e/istio_tools/build.sh (scripts/dev.sh test does)"
    c = Ctx()
    c.tmp = tempfile.mkdtemp(prefix="keel-walk-")
    c.sfx = suffix()
    c.system = f"walk-{c.sfx}"
    c.bookinfo = f"bookinfo-{c.sfx}"
    c.webhook = f"istio-sidecar-injector-{c.system}"  # the chart's name outside istio-system
    c.keel = Keel(c.tmp, system_namespace=c.system, extra=["--custom-host", "localhost",
                                                             "--injection-webhook-config-name", c.webhook])
    c.agents = []
    ok = False
    try:
        c.install = run(HELM, "install", "keel", os.environ["KEEL_CHART_DIR"], "-n", c.system, "--create-namespace",
                        "--set", "gateways.istio-ingressgateway.enabled=true", *CUSTOM_VALUES,
                        "--set-string", "gateways.istio-ingressgateway.podAnnotations.status\\.sidecar\\.istio\\.io/port=0",
                        timeout=180)
        config = kubectl_json("get", "mutatingwebhookconfiguration", c.webhook)
        for webhook in config["webhooks"]:
            webhook["clientConfig"] = {"url": f"https://localhost:{c.keel.webhook_port}/inject"}
            webhook["namespaceSelector"].setdefault("matchExpressions", []).append(
                {"key": "keel-walkthrough", "operator": "In", "values": [c.sfx]})
        kubectl("replace", "-f", "-", input=json.dumps(config))
        kubectl("label", "namespace", c.system, f"keel-walkthrough={c.sfx}")
        c.keel.start(timeout=90)
        kubectl("create", "namespace", c.bookinfo)
        kubectl("label", "namespace", c.bookinfo, "istio-injection=enabled", f"keel-walkthrough={c.sfx}")
        kubectl("apply", "-n", c.bookinfo, "-f", os.path.join(BOOKINFO, "platform/kube/bookinfo.yaml"))
        wait_until(lambda: all(w["clientConfig"].get("caBundle") for w in
                               kubectl_json("get", "mutatingwebhookconfiguration", c.webhook)["webhooks"]),
                   30, "Keel to fill the webhooks' caBundle")
        c.deployments = kubectl_json("get", "deployments", "-n", c.bookinfo)["items"]
        c.gateway_deployment = kubectl_json("get", "deployment", "istio-ingressgateway", "-n", c.system)
        c.pods = {}

        def create_all():
            # The API server picks a new caBundle up within about a second: until then the
            # webhook call fails (failurePolicy Fail) and so does the create.
            for i, d in enumerate(c.deployments + [c.gateway_deployment]):
                name = d["metadata"]["name"]
                if name not in c.pods:
                    try:
                        c.pods[name] = create_pod_of(d, f"10.71.0.{i + 2}")
                    except AssertionError as e:
                        if "failed calling webhook" not in str(e):
                            raise
                        return False
            return True

        wait_until(create_all, 30, "the API server to create the Bookinfo and gateway pods through Keel's webhook")
        kubectl("apply", "-n", c.bookinfo, "-f", os.path.join(BOOKINFO, "networking/bookinfo-gateway.yaml"))
        yield c
        ok = request.session.testsfailed == 0
    finally:
        for a in c.agents:
            a.stop()
        c.keel.stop()
        run(HELM, "uninstall", "keel", "-n", c.system, check=False)
        # No namespace controller runs: what the namespaces hold goes by name.
        kubectl("delete", "gateways.networking.istio.io,virtualservices.networking.istio.io", "bookinfo-gateway",
                "bookinfo", "-n", c.bookinfo, "--ignore-not-found", check=False)
        for ns in (c.bookinfo, c.system):
            kubectl("delete", "pods,deployments,services,serviceaccounts,configmaps", "--all", "-n", ns,
                    "--wait=false", check=False)
            kubectl("delete", "namespace", ns, "--wait=false", check=False)
        if ok:
            shutil.rmtree(c.tmp, ignore_errors=True)
        else:
            print(f"kept {c.tmp} (keel and agent logs, pod roots)")


def test_helm_install_deploys_the_chart_with_its_gateway(ctx):
    assert "STATUS: deployed" in ctx.install.stdout, ctx.install.stdout
    for kind in ("deployment", "service", "serviceaccount"):
        kubectl("get", kind, "istio-ingressgateway", "-n", ctx.system)
    kubectl("get", "configmap", "istio-sidecar-injector", "-n", ctx.system)


def test_every_bookinfo_pod_is_stored_with_its_sidecar(ctx):
    assert sorted(d["metadata"]["name"] for d in ctx.deployments) == [
        "details-v1", "productpage-v1", "ratings-v1", "reviews-v1", "reviews-v2", "reviews-v3"]
    for d in ctx.deployments:
        pod = ctx.pods[d["metadata"]["name"]]
        app = d["spec"]["template"]["spec"]["containers"][0]["name"]
        assert names(pod["spec"]["containers"]) == [app, "istio-proxy"], pod["metadata"]["name"]
        assert names(pod["spec"]["initContainers"]) == ["istio-init"]
        proxy = pod["spec"]["containers"][1]
        env = {e["name"]: e.get("value") for e in proxy["env"]}
        assert proxy["args"][:2] == ["proxy", "sidecar"]
        assert env["ISTIO_META_WORKLOAD_NAME"] == d["metadata"]["name"]
        assert env["CA_ADDR"] == f"istiod.{ctx.system}.svc:15012"
        assert pod["metadata"]["labels"]["security.istio.io/tlsMode"] == "istio"


def test_the_injector_reads_the_values_given_at_install(ctx):
    pod = ctx.pods["reviews-v1"]
    proxy = pod["spec"]["containers"][1]
    assert "--proxyLogLevel=debug" in proxy["args"]
    assert proxy["resources"] == {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "1500m",
                                                                                            "memory": "1Gi"}}
    assert pod["metadata"]["annotations"]["example.com/injected-by"] == "keel"
    # neverInjectSelector: a pod that matches it (and does not ask for a sidecar) is stored as sent.
    skipped = json.loads(kubectl("create", "-n", ctx.bookinfo, "-o", "json", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "skipped", "labels": {"walkthrough/skip": "yes"}},
        "spec": {"containers": [{"name": "app", "image": "example.invalid/app"}]}})).stdout)
    assert names(skipped["spec"]["containers"]) == ["app"]


def test_the_gateway_pod_is_stored_as_a_router(ctx):
    pod = ctx.pods["istio-ingressgateway"]
    assert names(pod["spec"]["containers"]) == ["istio-proxy"]
    proxy = pod["spec"]["containers"][0]
    assert proxy["args"][:2] == ["proxy", "router"]
    assert proxy["image"] == "docker.io/istio/proxyv2:1.31.0"  # the chart's "auto", filled in by the webhook


def test_the_gateway_agent_has_the_bookinfo_listener_and_route_to_productpage(ctx):
    pod = ctx.pods["istio-ingressgateway"]
    agent = Agent(ctx.tmp, ctx.keel, pod, pod["status"]["podIP"])
    ctx.agents.append(agent)
    agent.start()
    productpage = f"outbound|9080||productpage.{ctx.bookinfo}.svc.cluster.local"

    def route_to_productpage():
        names_, resources = agent.xds(LDS, f"{RDS}=http.8080")
        if "0.0.0.0_8080" not in names_[LDS] or "http.8080" not in names_.get(RDS, []):
            return None
        route = resources[RDS]["http.8080"]
        clusters = {r["route"]["cluster"] for vh in route.get("virtualHosts", []) for r in vh.get("routes", [])
                    if "route" in r}
        return route if productpage in clusters else None

    route = wait_until(route_to_productpage, 30, f"the gateway's 0.0.0.0_8080 and route http.8080 to {productpage}")
    paths = {m.get("path") or m.get("prefix") for vh in route["virtualHosts"] for r in vh["routes"]
             for m in [r["match"]]}
    assert {"/productpage", "/login", "/logout"} <= paths, paths  # bookinfo-gateway.yaml's matches


def kube_inject(*flags):
    """istioctl kube-inject of Bookinfo's Deployments: {name: pod template}."""
    p = run(ISTIOCTL, "kube-inject", "--kubeconfig", os.environ["KUBECONFIG"], "--revision", "default", *flags,
            "-f", os.path.join(BOOKINFO, "platform/kube/bookinfo.yaml"))
    return {d["metadata"]["name"]: d["spec"]["template"] for d in yaml.safe_load_all(p.stdout)
            if d and d["kind"] == "Deployment"}


def test_istioctl_kube_inject_with_no_flags_calls_keels_webhook(ctx):
    """With no files, istioctl finds the MutatingWebhookConfiguration labelled
    istio.io/rev=default and posts each pod template to its clientConfig.url."""
    before = ctx.keel.metrics()["sidecar_injection_success"]
    templates = kube_inject("-i", ctx.system)
    assert sorted(templates) == ["details-v1", "productpage-v1", "ratings-v1", "reviews-v1", "reviews-v2",
                                 "reviews-v3"]
    for name, template in templates.items():
        assert "istio-proxy" in names(template["spec"]["containers"]), name
    assert ctx.keel.metrics()["sidecar_injection_success"] == before + 6, "the templates did not come from Keel"


def test_istioctl_kube_inject_with_the_walkthroughs_files_injects_as_the_webhook_does(ctx):
    files = {}
    for flag, configmap, key in (("--injectConfigFile", "istio-sidecar-injector", "config"),
                                 ("--valuesFile", "istio-sidecar-injector", "values"),
                                 ("--meshConfigFile", "istio", "mesh")):
        files[flag] = os.path.join(ctx.tmp, f"{configmap}-{key}.yaml")
        with open(files[flag], "w") as f:
            f.write(kubectl("get", "configmap", configmap, "-n", ctx.system, f"-o=jsonpath={{.data.{key}}}").stdout)
    from_files = kube_inject(*[a for flag, path in files.items() for a in (flag, path)])
    from_webhook = kube_inject("-i", ctx.system)
    assert sorted(from_files) == sorted(from_webhook)
    for name in from_files:
        # Posting a template, istioctl sends a pod with no name and no owner, for which
        # istiod's webhook (and so Keel's: e2e.injection_istio's nameless_template) names no
        # workload; from files, istioctl names the Deployment.
        proxy = next(c for c in from_files[name]["spec"]["containers"] if c["name"] == "istio-proxy")
        workload = {e["name"]: e["value"] for e in proxy["env"] if e["name"] in ("ISTIO_META_WORKLOAD_NAME",
                                                                                  "ISTIO_META_OWNER")}
        assert workload == {"ISTIO_META_WORKLOAD_NAME": name, "ISTIO_META_OWNER":
                            f"kubernetes://apis/apps/v1/namespaces/default/deployments/{name}"}, workload
        proxy["env"] = [e for e in proxy["env"] if e["name"] not in workload]
        # From files, istioctl adds no injectedAnnotations (IntoObject passes none); the
        # webhook adds the config's, as istiod's does.
        assert from_webhook[name]["metadata"]["annotations"].pop("example.com/injected-by") == "keel"
        a = json.dumps(from_files[name], indent=1, sort_keys=True).splitlines()
        b = json.dumps(from_webhook[name], indent=1, sort_keys=True).splitlines()
        assert a == b, "\n".join(difflib.unified_diff(a, b, "files", "webhook", lineterm=""))


def test_a_bad_injector_configmap_is_reported_and_the_last_good_stays_in_force(ctx):
    """Last: it edits the ConfigMap the istioctl tests read (and puts it back)."""
    original = kubectl_json("get", "configmap", "istio-sidecar-injector", "-n", ctx.system)
    values = json.loads(original["data"]["values"])
    values["global"]["proxy"]["statusPort"] = "15020"  # a string: istiod's Go templates would fail on it too
    kubectl("patch", "configmap", "istio-sidecar-injector", "-n", ctx.system, "--type=merge",
            "-p", json.dumps({"data": {"values": json.dumps(values)}}))
    key = f"ConfigMap {ctx.system}/istio-sidecar-injector"

    def reported():
        status, body = ctx.keel.http_get("/debug/push_status")
        return json.loads(body).get("keel_invalid_config", {}).get(key) if status == 200 else None

    reason = wait_until(reported, 20, f"{key} under keel_invalid_config")
    assert "values: global.proxy.statusPort: want a non-negative integer" in reason["message"], reason
    pod = create_pod_of(next(d for d in ctx.deployments if d["metadata"]["name"] == "details-v1"), "10.71.0.20")
    assert "--proxyLogLevel=debug" in pod["spec"]["containers"][1]["args"], "the last good values are not in force"
    kubectl("patch", "configmap", "istio-sidecar-injector", "-n", ctx.system, "--type=merge",
            "-p", json.dumps({"data": {"values": original["data"]["values"]}}))
    wait_until(lambda: reported() is None, 20, f"{key} to leave keel_invalid_config")
