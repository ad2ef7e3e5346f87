"""Keel's Helm chart with the real helm and kubectl binaries: the chart as the build
stages it (<build>/charts/keel: manifests/charts/keel plus Istio's CRDs and the kind
registry, see manifests/CMakeLists.txt).

TestChart needs nothing else. It lints the chart, compares `helm template` with golden
files, checks that bad values fail with the schema's message, and checks that the
chart's CRDs are Istio's own file from the pinned istio.io/api, one per Istio kind of
the registry.

TestInstall needs the real kube-apiserver of the `kube` ctest fixture (KUBECONFIG). It
runs `helm install`, so the API server validates every rendered object. It then runs
keel-discovery with a token of the chart's ServiceAccount: Keel must get ready with no
Forbidden, which shows the RBAC is enough. The same token is refused what Keel does
not do, which shows the RBAC is not too broad. Last come `helm upgrade` and
`helm uninstall`. The steps run in file order and share one release.

  build/venv/bin/python -m pytest test/e2e/helm_chart_test.py::TestChart
  eval "$(test/harness/kube-harness.sh env /tmp/kube)"     # after: kube-harness.sh start /tmp/kube
  build/venv/bin/python -m pytest test/e2e/helm_chart_test.py::TestInstall

Environment: KEEL_TOOLS_DIR (helm, kubectl; default build/tools/bin), KEEL_DISCOVERY_BIN
(default build/pilot/keel-discovery), KEEL_CHART_DIR (default build/charts/keel),
KEEL_ISTIO_API_DIR (the istio.io/api module; ctest sets it), KEEL_KINDS_JSON (the kind
registry; default build/pilot/gen/pilot/model/kinds.json), REFRESH_GOLDEN=1 (rewrites
test/e2e/testdata/helm-template-*.golden.yaml), KEEL_HELM_KEEP=1 (keep the temp dir
with keel's logs and the kubeconfigs).
"""

import base64
import difflib
import json
import os
import re
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from keeltest import free_port, http_get

ROOT = Path(__file__).resolve().parents[2]
CHART_SOURCE = ROOT / "manifests" / "charts" / "keel"
TESTDATA = Path(__file__).resolve().parent / "testdata"
CUSTOM_VALUES = TESTDATA / "helm-values-custom.yaml"
PRODUCTION_VALUES = TESTDATA / "helm-values-istiod-production.yaml"  # Istio's keys, as istiod users set them

RELEASE = "keel"
NAMESPACE = "istio-system"  # the release namespace = keel-discovery --system-namespace
APP_NAMESPACE = "keel-helm-e2e"  # where the test's own Service lives
CLUSTER_ROLE = f"istiod-clusterrole-{NAMESPACE}"


def _tool_path(env_name, default):
    p = Path(os.environ.get(env_name) or default)
    return p if p.is_absolute() else ROOT / p


CHART = _tool_path("KEEL_CHART_DIR", "build/charts/keel")
KINDS = json.loads(_tool_path("KEEL_KINDS_JSON", "build/pilot/gen/pilot/model/kinds.json").read_text())["kinds"]
ISTIO_KINDS = [k for k in KINDS if k["group"].endswith("istio.io")]
CRD_NAMES = sorted(f"{k['plural']}.{k['group']}" for k in ISTIO_KINDS)

TOOLS = _tool_path("KEEL_TOOLS_DIR", "build/tools/bin")
HELM = str(TOOLS / "helm")
KUBECTL = str(TOOLS / "kubectl")
KEEL = str(_tool_path("KEEL_DISCOVERY_BIN", "build/pilot/keel-discovery"))

# Keel's log or a kubectl error that says the API server refused the caller.
FORBIDDEN = re.compile(r'forbidden|"code":\s*403|PERMISSION_DENIED|PermissionDenied', re.IGNORECASE)


# --------------------------------------------------------------------------- helpers


def run(args, *, env=None, check=True, timeout=120, input=None):
    """Runs a command; with check, a non-zero exit fails the test with its output."""
    p = subprocess.run([str(a) for a in args], env=env, capture_output=True, text=True, timeout=timeout, input=input)
    if check and p.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))}: exit {p.returncode}\nstdout:\n{p.stdout[-4000:]}\nstderr:\n{p.stderr[-4000:]}")
    return p


def helm_env(home):
    """helm's cache/config/data in a temp dir: nothing read from or written to $HOME."""
    env = dict(os.environ)
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        env[var] = str(Path(home) / var.lower())
    env.pop("HELM_KUBECONTEXT", None)
    env.pop("HELM_NAMESPACE", None)
    return env


def helm_template(env, *extra):
    return run([HELM, "template", RELEASE, CHART, "--namespace", NAMESPACE, *extra], env=env).stdout


def docs_by_kind_name(rendered):
    out = {}
    for doc in yaml.safe_load_all(rendered):
        if doc:
            out[(doc["kind"], doc["metadata"]["name"])] = doc
    return out


def assert_golden(actual, golden):
    if os.environ.get("REFRESH_GOLDEN") == "1":
        golden.write_text(actual)
        return
    assert golden.exists(), f"{golden} is missing: run with REFRESH_GOLDEN=1 to create it"
    expected = golden.read_text()
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(expected.splitlines(True), actual.splitlines(True), str(golden), "helm template")
        )
        pytest.fail(f"helm template differs from {golden.name} (REFRESH_GOLDEN=1 rewrites it):\n{diff}")


def container(deployment):
    return deployment["spec"]["template"]["spec"]["containers"][0]


def flag(c, name):
    """The value of --name=VALUE in the container's args (None if absent)."""
    for a in c["args"]:
        if a.startswith(f"--{name}="):
            return a.split("=", 1)[1]
    return None


@pytest.fixture(scope="module")
def henv(tmp_path_factory):
    return helm_env(tmp_path_factory.mktemp("helm-home"))


# --------------------------------------------------------------------------- TestChart


class TestChart:
    def test_lint(self, henv):
        for extra in ([], ["-f", CUSTOM_VALUES]):
            p = run([HELM, "lint", "--strict", CHART, *extra], env=henv)
            assert "0 chart(s) failed" in p.stdout, p.stdout

    def test_template_default_matches_golden(self, henv):
        assert_golden(helm_template(henv), TESTDATA / "helm-template-default.golden.yaml")

    def test_template_custom_matches_golden(self, henv):
        assert_golden(helm_template(henv, "-f", CUSTOM_VALUES), TESTDATA / "helm-template-custom.golden.yaml")

    def test_default_render_is_istiod_shaped(self, henv):
        docs = docs_by_kind_name(helm_template(henv))
        assert set(docs) == {
            ("ServiceAccount", "istiod"),
            ("ConfigMap", "istio"),
            ("ClusterRole", CLUSTER_ROLE),
            ("ClusterRoleBinding", CLUSTER_ROLE),
            ("Role", "istiod"),
            ("RoleBinding", "istiod"),
            ("Service", "istiod"),
            ("Deployment", "istiod"),
            ("MutatingWebhookConfiguration", "istio-sidecar-injector"),
            ("ConfigMap", "istio-sidecar-injector"),
            ("ValidatingWebhookConfiguration", "istio-validator-istio-system"),
            ("ValidatingWebhookConfiguration", "istiod-default-validator"),
        }, "one pod: no PodDisruptionBudget, no HorizontalPodAutoscaler"
        for (kind, _), doc in docs.items():
            if kind not in ("ClusterRole", "ClusterRoleBinding", "MutatingWebhookConfiguration",
                            "ValidatingWebhookConfiguration"):
                assert doc["metadata"]["namespace"] == NAMESPACE

        d = docs[("Deployment", "istiod")]
        assert d["spec"]["replicas"] == 1
        labels = d["spec"]["template"]["metadata"]["labels"]
        assert labels["app"] == "istiod" and labels["istio"] == "pilot"
        assert d["spec"]["template"]["spec"]["serviceAccountName"] == "istiod"
        c = container(d)
        assert c["image"] == "keel-discovery:0.1.0"
        assert c["readinessProbe"]["httpGet"] == {"path": "/ready", "port": 15014}
        assert c["livenessProbe"]["httpGet"]["port"] == 15014
        sc = c["securityContext"]
        assert sc["runAsUser"] == 1337 and sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"]
        assert sc["capabilities"] == {"drop": ["ALL"]} and sc["allowPrivilegeEscalation"] is False
        assert flag(c, "grpc-addr") == "0.0.0.0:15010"
        assert flag(c, "secure-grpc-addr") == "0.0.0.0:15012"
        assert flag(c, "monitoring-addr") == "0.0.0.0:15014"
        assert flag(c, "webhook-addr") == "0.0.0.0:15017"
        assert {p["name"]: p["containerPort"] for p in c["ports"]}["https-webhooks"] == 15017
        assert flag(c, "domain") == "cluster.local"
        assert flag(c, "trust-domain") == "cluster.local"
        assert flag(c, "system-namespace") == NAMESPACE
        # The pod name identifies the replica in the leader-election Lease.
        assert c["env"] == [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
        # The serving cert dir is a writable volume (the root filesystem is not).
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        volumes = {v["name"]: v for v in d["spec"]["template"]["spec"]["volumes"]}
        assert "emptyDir" in volumes[mounts[flag(c, "serving-cert-dir")]]
        token = volumes[mounts["/var/run/secrets/tokens"]]["projected"]["sources"][0]["serviceAccountToken"]
        assert token == {"audience": "istio-ca", "expirationSeconds": 43200, "path": "istio-token"}

        svc = docs[("Service", "istiod")]
        ports = {p["name"]: (p["port"], p.get("targetPort", p["port"])) for p in svc["spec"]["ports"]}
        assert ports == {
            "grpc-xds": (15010, 15010),
            "https-dns": (15012, 15012),
            "https-webhook": (443, 15017),
            "http-monitoring": (15014, 15014),
        }
        assert svc["spec"]["selector"] == {"app": "istiod", "istio": "pilot"}

        mesh = yaml.safe_load(docs[("ConfigMap", "istio")]["data"]["mesh"])
        assert mesh == {
            "trustDomain": "cluster.local",
            "rootNamespace": NAMESPACE,
            "defaultConfig": {"discoveryAddress": f"istiod.{NAMESPACE}.svc:15012"},
            "defaultProviders": {"metrics": ["prometheus"]},
        }

    @pytest.mark.parametrize(
        "values, providers",
        [
            ([], {"metrics": ["prometheus"]}),
            (["--set", "telemetry.v2.prometheus.enabled=false"], None),
            (["--set", "telemetry.enabled=false"], None),
            (["--set", "meshConfig.defaultProviders.accessLogging[0]=envoy"], {"accessLogging": ["envoy"]}),
        ],
    )
    def test_mesh_names_the_prometheus_provider_as_istios_chart(self, henv, values, providers):
        """Istio's chart names the built-in Prometheus metrics provider unless telemetry is
        off or meshConfig sets defaultProviders itself (which then stands alone); the same
        values through Istio's own istio-discovery chart render the same providers."""
        ours = docs_by_kind_name(helm_template(henv, *values))
        assert yaml.safe_load(ours[("ConfigMap", "istio")]["data"]["mesh"]).get("defaultProviders") == providers
        istio = docs_by_kind_name(run([HELM, "template", "istiod", TOOLS / "istio-discovery", "-n", NAMESPACE,
                                       "--set", "global.hub=docker.io/istio", *values], env=henv).stdout)
        assert yaml.safe_load(istio[("ConfigMap", "istio")]["data"]["mesh"]).get("defaultProviders") == providers

    def test_custom_render_scales_and_overrides(self, henv):
        docs = docs_by_kind_name(helm_template(henv, "-f", CUSTOM_VALUES))
        d = docs[("Deployment", "istiod")]
        assert "replicas" not in d["spec"], "the autoscaler owns replicas"
        hpa = docs[("HorizontalPodAutoscaler", "istiod")]
        assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 4)
        assert hpa["spec"]["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}
        assert docs[("PodDisruptionBudget", "istiod")]["spec"]["minAvailable"] == 1
        c = container(d)
        assert c["image"] == "registry.example.org/mesh/keel-discovery:0.1.0-rc1"
        assert c["imagePullPolicy"] == "IfNotPresent"
        assert flag(c, "trust-domain") == "example.org"
        assert flag(c, "domain") == "corp.example"
        assert flag(c, "log-level") == "debug"
        assert c["resources"]["limits"] == {"cpu": "2", "memory": "2Gi"}
        assert {e["name"]: e.get("value") for e in c["env"]} == {
            "POD_NAME": None, "GRPC_VERBOSITY": "ERROR", "KEEL_EXAMPLE_NUMBER": "3"}
        mesh = yaml.safe_load(docs[("ConfigMap", "istio")]["data"]["mesh"])
        assert mesh["trustDomain"] == "example.org"
        assert mesh["defaultConfig"] == {
            "discoveryAddress": f"istiod.{NAMESPACE}.svc:15012",
            "holdApplicationUntilProxyStarts": True,
        }
        assert docs[("ServiceAccount", "istiod")]["imagePullSecrets"] == [{"name": "example-registry"}]

    @pytest.mark.parametrize(
        "values, pdb",
        [
            (["--set", "replicaCount=1"], False),
            (["--set", "replicaCount=2"], True),
            (["--set", "replicaCount=3,autoscaleEnabled=true,autoscaleMin=1"], False),
            (["--set", "autoscaleEnabled=true,autoscaleMin=2"], True),
            (["--set", "replicaCount=2,global.defaultPodDisruptionBudget.enabled=false"], False),
        ],
    )
    def test_pod_disruption_budget_only_with_more_than_one_pod(self, henv, values, pdb):
        docs = docs_by_kind_name(helm_template(henv, *values))
        assert (("PodDisruptionBudget", "istiod") in docs) == pdb

    def test_global_mtls_enabled_renders_a_mesh_wide_strict_peer_authentication(self, henv):
        assert ("PeerAuthentication", "default") not in docs_by_kind_name(helm_template(henv))
        docs = docs_by_kind_name(helm_template(henv, "--set", "global.mtls.enabled=true"))
        pa = docs[("PeerAuthentication", "default")]
        assert pa["apiVersion"] == "security.istio.io/v1" and pa["metadata"]["namespace"] == NAMESPACE
        assert pa["spec"] == {"mtls": {"mode": "STRICT"}}
        docs = docs_by_kind_name(helm_template(henv, "--set", "global.mtls.enabled=true,meshConfig.rootNamespace=mesh-root"))
        assert docs[("PeerAuthentication", "default")]["metadata"]["namespace"] == "mesh-root"

    def test_injector_webhooks_call_the_istiod_service_without_a_ca_bundle(self, henv):
        mwc = docs_by_kind_name(helm_template(henv))[("MutatingWebhookConfiguration", "istio-sidecar-injector")]
        assert mwc["metadata"]["labels"]["istio.io/rev"] == "default", "what keel-discovery's patcher selects"
        hooks = {h["name"]: h for h in mwc["webhooks"]}
        assert list(hooks) == [f"{p}.sidecar-injector.istio.io" for p in ("rev.namespace", "rev.object", "namespace", "object")]
        for h in hooks.values():
            assert h["clientConfig"] == {"service": {"name": "istiod", "namespace": NAMESPACE, "path": "/inject", "port": 443}}
            assert (h["failurePolicy"], h["sideEffects"], h["reinvocationPolicy"]) == ("Fail", "None", "Never")
        assert hooks["namespace.sidecar-injector.istio.io"]["namespaceSelector"] == {
            "matchExpressions": [{"key": "istio-injection", "operator": "In", "values": ["enabled"]}]}
        # Cluster-scoped, so named for the namespace outside istio-system (as Istio's chart).
        other = docs_by_kind_name(helm_template(henv, "--namespace", "mesh-b"))
        assert ("MutatingWebhookConfiguration", "istio-sidecar-injector-mesh-b") in other

    @pytest.mark.parametrize("revision", ["", "canary"])
    def test_revision_names_selects_and_injects_as_istios_chart(self, henv, revision):
        """Istio's own istio-discovery chart (from the pinned module) rendered with the same
        `revision`: the objects both charts make have the same names, and the webhooks,
        the Service and the Deployment the same selectors."""
        istio_chart = TOOLS / "istio-discovery"
        assert istio_chart.is_dir(), f"{istio_chart}: run test/e2e/istio_tools/build.sh (scripts/dev.sh test does)"
        ours = docs_by_kind_name(helm_template(henv, "--set", f"revision={revision}"))
        istio = docs_by_kind_name(run([HELM, "template", "istiod", istio_chart, "-n", NAMESPACE, "--set",
                                       f"revision={revision}", "--set", "global.hub=docker.io/istio"], env=henv).stdout)
        shared_kinds = {"Deployment", "Service", "ServiceAccount", "ConfigMap", "MutatingWebhookConfiguration",
                        "ValidatingWebhookConfiguration", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
        # istiod-default-validator is Istio's base chart's, not istio-discovery's.
        ours.pop(("ValidatingWebhookConfiguration", "istiod-default-validator"), None)
        missing = {k for k in ours if k[0] in shared_kinds} - set(istio)
        assert not missing, f"named otherwise than by Istio's chart: {sorted(missing)}"
        suffix = f"-{revision}" if revision else ""
        name = f"istiod{suffix}"
        for kind in ("Deployment", "Service"):
            assert ours[(kind, name)]["metadata"]["labels"]["istio.io/rev"] == (revision or "default")
        assert ours[("Service", name)]["spec"]["selector"] == istio[("Service", name)]["spec"]["selector"]
        assert ours[("Deployment", name)]["spec"]["selector"] == istio[("Deployment", name)]["spec"]["selector"]
        mwc = ("MutatingWebhookConfiguration", f"istio-sidecar-injector{suffix}")
        assert ours[mwc]["metadata"]["labels"]["istio.io/rev"] == istio[mwc]["metadata"]["labels"]["istio.io/rev"]

        def hooks(doc):
            return [(h["name"], h["clientConfig"], h["namespaceSelector"], h["objectSelector"]) for h in doc["webhooks"]]

        assert hooks(ours[mwc]) == hooks(istio[mwc])
        vwc = ("ValidatingWebhookConfiguration", f"istio-validator{suffix}-{NAMESPACE}")

        def validators(doc):
            return [(h["name"], h["clientConfig"]["service"]["name"], h["clientConfig"]["service"]["path"], h["rules"],
                     h["objectSelector"], h["failurePolicy"], h["sideEffects"]) for h in doc["webhooks"]]

        assert validators(ours[vwc]) == validators(istio[vwc])
        assert ours[vwc]["metadata"]["labels"]["istio.io/rev"] == istio[vwc]["metadata"]["labels"]["istio.io/rev"]
        deployment = ours[("Deployment", name)]
        assert flag(container(deployment), "revision") == (revision or None)
        assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == name
        mesh = yaml.safe_load(ours[("ConfigMap", f"istio{suffix}")]["data"]["mesh"])
        assert mesh["defaultConfig"]["discoveryAddress"] == f"{name}.{NAMESPACE}.svc:15012"
        values = json.loads(ours[("ConfigMap", f"istio-sidecar-injector{suffix}")]["data"]["values"])
        assert values["revision"] == revision

    def test_istios_own_values_install_and_notes_name_what_keel_does_not_use(self, henv, tmp_path):
        """Every key of Istio's istio-discovery values (its defaults, from the pinned module)
        is accepted; those Keel does not use are named in NOTES.txt."""
        istio = yaml.safe_load((TOOLS / "istio-discovery" / "values.yaml").read_text())["_internal_defaults_do_not_set"]
        values = tmp_path / "istio-values.yaml"
        values.write_text(yaml.safe_dump(istio))
        p = run([HELM, "install", RELEASE, CHART, "-n", NAMESPACE, "--dry-run=client", "-f", values], env=henv)
        notes = p.stdout.split("NOTES:", 1)[1]
        assert "Accepted from Istio's istio-discovery values and not used by Keel" in notes
        for key in ("variant", "volumeMounts", "topologySpreadConstraints", "global.proxy.tracer", "pdb"):
            assert f"\n  {key}\n" in notes, key
        assert "serviceAccountAnnotations" not in notes and "podLabels" not in notes  # implemented

    def test_a_production_istiod_values_file_renders_what_it_says(self, henv):
        docs = docs_by_kind_name(helm_template(henv, "-f", PRODUCTION_VALUES))
        sa = docs[("ServiceAccount", "istiod-1-24")]
        assert sa["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/istiod"}
        d = docs[("Deployment", "istiod-1-24")]
        assert d["metadata"]["labels"]["cost-center"] == "mesh"
        assert d["spec"]["template"]["metadata"]["labels"]["team"] == "platform"
        assert d["spec"]["template"]["metadata"]["labels"]["istio.io/rev"] == "1-24"
        env = {e["name"]: e.get("value") for e in container(d)["env"]}
        assert env["PILOT_DEBOUNCE_AFTER"] == "200ms"
        assert container(d)["resources"]["requests"] == {"cpu": "500m", "memory": "2048Mi"}
        svc = docs[("Service", "istiod-1-24")]
        assert svc["metadata"]["annotations"]["service.beta.kubernetes.io/aws-load-balancer-internal"] == "true"
        assert ("ValidatingWebhookConfiguration", f"istio-validator-1-24-{NAMESPACE}") in docs
        assert ("ValidatingWebhookConfiguration", "istiod-default-validator") not in docs, "a revision's: not the default's"
        mesh = yaml.safe_load(docs[("ConfigMap", "istio-1-24")]["data"]["mesh"])
        assert mesh["outboundTrafficPolicy"] == {"mode": "REGISTRY_ONLY"} and mesh["accessLogFile"] == "/dev/stdout"

    def test_injector_values_add_the_auto_webhook_and_reinvocation(self, henv):
        docs = docs_by_kind_name(helm_template(
            henv, "--set", "sidecarInjectorWebhook.enableNamespacesByDefault=true,sidecarInjectorWebhook.reinvocationPolicy=IfNeeded"))
        hooks = {h["name"]: h for h in docs[("MutatingWebhookConfiguration", "istio-sidecar-injector")]["webhooks"]}
        auto = hooks["auto.sidecar-injector.istio.io"]
        assert {"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                "values": ["kube-system", "kube-public", "kube-node-lease", "local-path-storage"]} in auto["namespaceSelector"]["matchExpressions"]
        assert {h["reinvocationPolicy"] for h in hooks.values()} == {"IfNeeded"}

    def test_no_ingress_gateway_by_default(self, henv):
        assert not [k for k in docs_by_kind_name(helm_template(henv)) if k[1] == "istio-ingressgateway"]

    def test_the_ingress_gateway_is_shaped_as_istios_gateway_chart(self, henv):
        """The pod template beside the one Istio's own gateway chart (from the pinned module,
        staged in KEEL_TOOLS_DIR by test/e2e/istio_tools/build.sh) renders: what the injector
        reads must be the same."""
        docs = docs_by_kind_name(helm_template(henv, "--set", "gateways.istio-ingressgateway.enabled=true"))
        kinds = {kind for kind, name in docs if name == "istio-ingressgateway"}
        assert kinds == {"ServiceAccount", "Deployment", "Service", "Role", "RoleBinding"}, kinds
        ours = docs[("Deployment", "istio-ingressgateway")]["spec"]["template"]
        istio_chart = TOOLS / "istio-gateway"
        assert istio_chart.is_dir(), f"{istio_chart}: run test/e2e/istio_tools/build.sh (scripts/dev.sh test does)"
        istio = docs_by_kind_name(run([HELM, "template", "istio-ingressgateway", istio_chart, "-n", NAMESPACE],
                                      env=henv).stdout)[("Deployment", "istio-ingressgateway")]["spec"]["template"]
        for key in ("inject.istio.io/templates", "sidecar.istio.io/inject", "prometheus.io/port"):
            assert ours["metadata"]["annotations"][key] == istio["metadata"]["annotations"][key], key
        for key in ("sidecar.istio.io/inject", "istio", "app"):
            assert ours["metadata"]["labels"][key] == istio["metadata"]["labels"][key], key
        ours_proxy, istio_proxy = ours["spec"]["containers"][0], istio["spec"]["containers"][0]
        for key in ("name", "image", "securityContext", "ports"):
            assert ours_proxy[key] == istio_proxy[key], key
        assert ours["spec"]["securityContext"]["sysctls"] == istio["spec"]["securityContext"]["sysctls"]
        assert ours["spec"]["serviceAccountName"] == "istio-ingressgateway"
        service = docs[("Service", "istio-ingressgateway")]["spec"]
        assert service["type"] == "LoadBalancer"
        assert service["selector"] == {"app": "istio-ingressgateway", "istio": "ingressgateway"}
        assert [(p["port"], p["targetPort"]) for p in service["ports"]] == [(15021, 15021), (80, 8080), (443, 8443)]
        role = docs[("Role", "istio-ingressgateway")]
        assert role["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "watch", "list"]}]

    @pytest.mark.parametrize(
        "values, message",
        [
            ({"replicaCount": "two"}, "at '/replicaCount': got string, want integer"),
            ({"replicaCout": 2}, "additional properties 'replicaCout' not allowed"),
            ({"autoscaleMin": 0}, "at '/autoscaleMin'"),
            ({"global": {"imagePullPolicy": "Sometimes"}}, "at '/global/imagePullPolicy': value must be one of"),
            ({"global": {"logging": {"level": "verbose"}}}, "at '/global/logging/level'"),
            ({"global": {"tag": 1.24}}, "at '/global/tag': got number, want string"),
            ({"meshConfig": {"trustDomain": "Example.ORG"}}, "at '/meshConfig/trustDomain'"),
            ({"resources": {"requests": {"cpu": "lots"}}}, "at '/resources/requests/cpu'"),
            ({"cpu": {"targetAverageUtilization": "high"}}, "at '/cpu/targetAverageUtilization'"),
            ({"sidecarInjectorWebhook": {"reinvocationPolicy": "Always"}}, "at '/sidecarInjectorWebhook/reinvocationPolicy'"),
            ({"gateways": {"istio-ingressgateway": {"type": "External"}}}, "at '/gateways/istio-ingressgateway/type'"),
            ({"gateways": {"istio-ingressgateway": {"ports": [{"port": 80, "target": 8080}]}}},
             "at '/gateways/istio-ingressgateway/ports/0'"),
            (
                {"autoscaleEnabled": True, "autoscaleMin": 5, "autoscaleMax": 2},
                "autoscaleMin (5) must not be greater than autoscaleMax (2)",
            ),
            ({"global": {"controlPlaneSecurityEnabled": False}}, "controlPlaneSecurityEnabled=false is not supported"),
        ],
    )
    def test_bad_values_fail_with_a_clear_message(self, henv, tmp_path, values, message):
        bad = tmp_path / "bad-values.yaml"
        bad.write_text(yaml.safe_dump(values))
        p = run([HELM, "template", RELEASE, CHART, "--namespace", NAMESPACE, "-f", bad], env=henv, check=False)
        assert p.returncode != 0, f"helm template accepted {values}"
        assert message in p.stderr, p.stderr
        assert p.stdout == "", "nothing is rendered"

    def test_chart_crds_are_istios_crd_file(self, henv):
        # Fetched at build time, never committed: the source chart has no crds/.
        assert not (CHART_SOURCE / "crds").exists(), "crds/ is staged by the build (manifests/CMakeLists.txt)"
        istio_crds = Path(os.environ["KEEL_ISTIO_API_DIR"]) / "kubernetes" / "customresourcedefinitions.gen.yaml"
        assert sorted(p.name for p in (CHART / "crds").iterdir()) == ["crd-all.gen.yaml"]
        assert (CHART / "crds" / "crd-all.gen.yaml").read_bytes() == istio_crds.read_bytes()
        # What helm would install: one CRD per Istio kind of the registry, at its versions.
        shown = [d for d in yaml.safe_load_all(run([HELM, "show", "crds", CHART], env=henv).stdout) if d]
        assert sorted(d["metadata"]["name"] for d in shown) == CRD_NAMES
        by_name = {d["metadata"]["name"]: d for d in shown}
        for k in ISTIO_KINDS:
            crd = by_name[f"{k['plural']}.{k['group']}"]
            assert crd["spec"]["names"]["kind"] == k["kind"]
            assert sorted(v["name"] for v in crd["spec"]["versions"] if v["served"]) == sorted(k["versions"])

    def test_packaged_chart_is_self_contained(self, henv, tmp_path):
        run([HELM, "package", CHART, "--destination", tmp_path], env=henv)
        chart_yaml = yaml.safe_load((CHART / "Chart.yaml").read_text())
        with tarfile.open(tmp_path / f"keel-{chart_yaml['version']}.tgz") as tgz:
            member = tgz.getmember("keel/crds/crd-all.gen.yaml")
            assert member.isfile()
            assert tgz.extractfile(member).read() == (CHART / "crds" / "crd-all.gen.yaml").read_bytes()
            assert tgz.getmember("keel/files/kinds.json").isfile(), "the RBAC rules are rendered from it"
            names = tgz.getnames()
        assert "keel/values.schema.json" in names and "keel/README.md" in names

    def test_app_version_is_the_project_version(self):
        project = re.search(r"project\(keel VERSION ([0-9.]+)", (ROOT / "CMakeLists.txt").read_text()).group(1)
        chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
        assert chart["appVersion"] == project, "Chart.yaml appVersion (the default image tag) != CMake project VERSION"


# --------------------------------------------------------------------------- TestInstall


def wait_for(what, predicate, timeout, interval=0.2, detail=None):
    """Polls predicate until it is truthy; on timeout fails with detail() (e.g. a log tail)."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}" + (f"\n{detail()}" if detail else ""))
        time.sleep(interval)


def token_kubeconfig(admin_kubeconfig, token, path):
    """A kubeconfig with the admin kubeconfig's server and CA and `token` as the user."""
    admin = yaml.safe_load(Path(admin_kubeconfig).read_text())
    ctx = next(c["context"] for c in admin["contexts"] if c["name"] == admin["current-context"])
    cluster = next(c["cluster"] for c in admin["clusters"] if c["name"] == ctx["cluster"])
    ca = cluster.get("certificate-authority-data")
    if not ca:
        ca_file = Path(admin_kubeconfig).parent / cluster["certificate-authority"]
        ca = base64.b64encode(ca_file.read_bytes()).decode()
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": {"server": cluster["server"], "certificate-authority-data": ca}}],
        "users": [{"name": "sa", "user": {"token": token}}],
        "contexts": [{"name": "sa", "context": {"cluster": "test", "user": "sa"}}],
        "current-context": "sa",
    }
    Path(path).write_text(yaml.safe_dump(kubeconfig))
    return str(path)


class Keel:
    """keel-discovery against the API server, its output in a log file."""

    def __init__(self, kubeconfig, log_path, *extra):
        self.port = free_port()
        self.log_path = Path(log_path)
        self.log = open(self.log_path, "w")
        args = [KEEL, "--kubeconfig", kubeconfig, "--grpc-addr", "127.0.0.1:0", "--secure-grpc-addr", "127.0.0.1:0",
                "--webhook-addr", "127.0.0.1:0", "--monitoring-addr", f"127.0.0.1:{self.port}", "--system-namespace", NAMESPACE, "--log-level", "debug",
                *extra]
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def output(self):
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def tail(self, n=40):
        return "\n".join(self.output().splitlines()[-n:])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


@pytest.fixture(scope="class")
def cluster(tmp_path_factory):
    """The API server (KUBECONFIG), helm's env, and the state the test must restore."""
    kubeconfig = os.environ.get("KUBECONFIG")
    if not kubeconfig or not Path(kubeconfig).exists():
        pytest.fail("TestInstall needs KUBECONFIG of a running API server (ctest fixture `kube`, "
                    "or test/harness/kube-harness.sh start DIR)")
    tmp = Path(tempfile.mkdtemp(prefix="keel-helm-"))
    env = helm_env(tmp)
    env["KUBECONFIG"] = kubeconfig

    def kubectl(*args, check=True, **kw):
        return run([KUBECTL, *args], env=env, check=check, **kw)

    def exists(*args):
        return kubectl("get", *args, "--ignore-not-found", "-o", "name").stdout.strip() != ""

    state = {
        "env": env,
        "tmp": tmp,
        "kubeconfig": kubeconfig,
        "kubectl": kubectl,
        "exists": exists,
        "crds_before": {n for n in CRD_NAMES if exists("crd", n)},
        "ca_secret_before": exists("secret", "istio-ca-secret", "-n", NAMESPACE),
        "keels": [],
    }
    # istio-system with a Pod Security "warn" label: the API server then warns (and
    # helm prints it) if the Deployment's pod would not meet the restricted standard.
    # Not "enforce": other tests of the shared fixture may create Pods there.
    if not exists("namespace", NAMESPACE):
        kubectl("create", "namespace", NAMESPACE)
    kubectl("label", "namespace", NAMESPACE, "pod-security.kubernetes.io/warn=restricted", "--overwrite")
    if not exists("namespace", APP_NAMESPACE):
        kubectl("create", "namespace", APP_NAMESPACE)
    yield state

    for keel in state["keels"]:
        keel.stop()
    run([HELM, "uninstall", RELEASE, "-n", NAMESPACE], env=env, check=False)
    # Leave the shared API server as found. Namespaces stay: without a controller
    # manager a deleted namespace stays Terminating forever.
    kubectl("delete", "service", "reviews", "-n", APP_NAMESPACE, "--ignore-not-found", check=False)
    kubectl("delete", "virtualservice", "reviews", "-n", APP_NAMESPACE, "--ignore-not-found", check=False)
    kubectl("delete", "serviceaccount", "nobody", "-n", APP_NAMESPACE, "--ignore-not-found", check=False)
    if not state["ca_secret_before"]:
        kubectl("delete", "secret", "istio-ca-secret", "-n", NAMESPACE, "--ignore-not-found", check=False)
        kubectl("delete", "configmap", "-A", "--field-selector", "metadata.name=istio-ca-root-cert", check=False)
    for crd in set(CRD_NAMES) - state["crds_before"]:
        kubectl("delete", "crd", crd, "--ignore-not-found", check=False)
    kubectl("label", "namespace", NAMESPACE, "pod-security.kubernetes.io/warn-", check=False)
    if os.environ.get("KEEL_HELM_KEEP") == "1":
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="class")
def sa_kubeconfig(cluster):
    """A kubeconfig whose user is the chart's ServiceAccount istio-system/istiod."""
    token = cluster["kubectl"]("create", "token", "istiod", "-n", NAMESPACE, "--duration=1h").stdout.strip()
    return token_kubeconfig(cluster["kubeconfig"], token, cluster["tmp"] / "istiod.kubeconfig")


def assert_forbidden(cluster, kubeconfig, *args):
    p = run([KUBECTL, "--kubeconfig", kubeconfig, *args], env=cluster["env"], check=False)
    assert p.returncode != 0, f"kubectl {' '.join(args)} succeeded with the istiod token:\n{p.stdout}"
    assert FORBIDDEN.search(p.stderr), f"kubectl {' '.join(args)} failed, but not as Forbidden:\n{p.stderr}"


def can_i(cluster, kubeconfig, *args):
    p = run([KUBECTL, "--kubeconfig", kubeconfig, "auth", "can-i", *args], env=cluster["env"], check=False)
    answer = p.stdout.strip()
    assert answer in ("yes", "no"), p.stderr
    return answer == "yes"


class TestInstall:
    def test_install(self, cluster):
        p = run([HELM, "install", RELEASE, CHART, "-n", NAMESPACE, "--create-namespace"], env=cluster["env"])
        assert "STATUS: deployed" in p.stdout, p.stdout
        assert "PodSecurity" not in p.stdout + p.stderr, f"the pod does not meet the restricted standard:\n{p.stderr}"
        exists = cluster["exists"]
        for obj in ("deployment/istiod", "service/istiod", "serviceaccount/istiod", "configmap/istio", "role/istiod",
                    "rolebinding/istiod"):
            assert exists(obj, "-n", NAMESPACE), obj
        assert exists("clusterrole", CLUSTER_ROLE) and exists("clusterrolebinding", CLUSTER_ROLE)
        for crd in CRD_NAMES:
            assert exists("crd", crd), crd
        status = json.loads(run([HELM, "status", RELEASE, "-n", NAMESPACE, "-o", "json"], env=cluster["env"]).stdout)
        assert status["info"]["status"] == "deployed"

    def test_custom_render_passes_server_validation(self, cluster):
        # The objects only the custom values make (HPA, PDB, scheduling, env), checked
        # by the API server without being stored: rendered for another namespace so
        # nothing collides with the release.
        rendered = run([HELM, "template", RELEASE, CHART, "--namespace", APP_NAMESPACE, "-f", CUSTOM_VALUES],
                       env=cluster["env"]).stdout
        kinds = {kind for kind, _ in docs_by_kind_name(rendered)}
        assert {"HorizontalPodAutoscaler", "PodDisruptionBudget", "Deployment"} <= kinds
        p = cluster["kubectl"]("create", "--dry-run=server", "-f", "-", input=rendered)
        assert p.stdout.count("(server dry run)") == len(docs_by_kind_name(rendered)), p.stdout
        # A revision's objects (named and selected for it) too.
        rendered = run([HELM, "template", RELEASE, CHART, "--namespace", APP_NAMESPACE, "--set", "revision=canary",
                        "--set", "gateways.istio-ingressgateway.enabled=true"], env=cluster["env"]).stdout
        p = cluster["kubectl"]("create", "--dry-run=server", "-f", "-", input=rendered)
        assert p.stdout.count("(server dry run)") == len(docs_by_kind_name(rendered)), p.stdout

    def test_keel_runs_with_the_chart_service_account(self, cluster, sa_kubeconfig):
        kubectl = cluster["kubectl"]
        # Config for Keel to find, written as admin before it starts.
        kubectl("apply", "-f", "-", input=yaml.safe_dump_all([
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "reviews", "namespace": APP_NAMESPACE},
             "spec": {"ports": [{"name": "http", "port": 9080}], "selector": {"app": "reviews"}}},
            {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
             "metadata": {"name": "reviews", "namespace": APP_NAMESPACE},
             "spec": {"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews"}}]}]}},
        ]))
        keel = Keel(sa_kubeconfig, cluster["tmp"] / "keel.log")
        cluster["keels"].append(keel)

        def ready():
            assert keel.proc.poll() is None, f"keel-discovery exited ({keel.proc.returncode}):\n{keel.tail()}"
            return http_get(keel.url("/ready"))[0] == 200

        wait_for("/ready 200 (every informer listed with the istiod token)", ready, timeout=60, detail=keel.tail)

        status, body = http_get(keel.url("/debug/configz"))
        assert status == 200
        names = {(o.get("kind"), o["metadata"].get("namespace"), o["metadata"]["name"]) for o in json.loads(body)}
        assert ("Service", APP_NAMESPACE, "reviews") in names
        assert ("VirtualService", APP_NAMESPACE, "reviews") in names

        # The CA: its root in Secret istio-ca-secret (created with the istiod token
        # unless it was there), the root ConfigMap created in every namespace
        # (configmaps create) and repaired when edited (watch by name + update).
        assert cluster["exists"]("secret", "istio-ca-secret", "-n", NAMESPACE)

        def root_cert():
            p = kubectl("get", "configmap", "istio-ca-root-cert", "-n", APP_NAMESPACE, "-o",
                        "jsonpath={.data.root-cert\\.pem}", check=False)
            return p.stdout if p.returncode == 0 and "BEGIN CERTIFICATE" in p.stdout else None

        wait_for(f"ConfigMap {APP_NAMESPACE}/istio-ca-root-cert", root_cert, timeout=20, detail=keel.tail)
        kubectl("patch", "configmap", "istio-ca-root-cert", "-n", APP_NAMESPACE, "--type=merge",
                "-p", '{"data":{"root-cert.pem":"tampered"}}')
        wait_for("Keel to repair the tampered root ConfigMap", root_cert, timeout=20, detail=keel.tail)
        assert "CA: repaired" in keel.output()

        # The chart's injector webhooks get the CA's roots as their caBundle (update,
        # patch on mutatingwebhookconfigurations), so the API server trusts port 15017.
        def ca_bundles():
            p = kubectl("get", "mutatingwebhookconfiguration", "istio-sidecar-injector", "-o",
                        "jsonpath={.webhooks[*].clientConfig.caBundle}", check=False)
            return p.stdout.split() if p.returncode == 0 else []

        root = base64.b64encode(root_cert().encode()).decode()
        wait_for("Keel to fill the injector webhooks' caBundle", lambda: ca_bundles() == [root] * 4, timeout=20,
                 detail=keel.tail)

        assert not FORBIDDEN.search(keel.output()), f"keel-discovery was refused something:\n{keel.tail(80)}"
        assert keel.stop() == 0, keel.tail()

    def test_keel_without_the_chart_rbac_is_forbidden(self, cluster):
        # The control for the test above: the same checks see a ServiceAccount the
        # chart did not bind.
        kubectl = cluster["kubectl"]
        if not cluster["exists"]("serviceaccount", "nobody", "-n", APP_NAMESPACE):
            kubectl("create", "serviceaccount", "nobody", "-n", APP_NAMESPACE)
        token = kubectl("create", "token", "nobody", "-n", APP_NAMESPACE, "--duration=10m").stdout.strip()
        kubeconfig = token_kubeconfig(cluster["kubeconfig"], token, cluster["tmp"] / "nobody.kubeconfig")

        with_ca = Keel(kubeconfig, cluster["tmp"] / "keel-nobody.log")
        cluster["keels"].append(with_ca)
        wait_for("keel-discovery to exit (the CA cannot read its Secret)", lambda: with_ca.proc.poll() is not None,
                 timeout=30, detail=with_ca.tail)
        assert with_ca.proc.returncode != 0
        assert FORBIDDEN.search(with_ca.output()), with_ca.tail()

        no_ca = Keel(kubeconfig, cluster["tmp"] / "keel-nobody-noca.log", "--disable-ca")
        cluster["keels"].append(no_ca)
        wait_for("a Forbidden list in the log", lambda: FORBIDDEN.search(no_ca.output()), timeout=30, detail=no_ca.tail)
        assert http_get(no_ca.url("/ready"))[0] != 200
        no_ca.stop()

    def test_istiod_token_is_refused_what_keel_does_not_do(self, cluster, sa_kubeconfig):
        k = sa_kubeconfig
        assert_forbidden(cluster, k, "create", "secret", "generic", "x", "-n", "default")
        assert_forbidden(cluster, k, "delete", "secret", "istio-ca-secret", "-n", NAMESPACE)
        assert_forbidden(cluster, k, "get", "secret", "some-app-secret", "-n", "default")
        assert_forbidden(cluster, k, "create", "clusterrolebinding", "x", "--clusterrole=cluster-admin",
                         f"--serviceaccount={NAMESPACE}:istiod")
        assert_forbidden(cluster, k, "get", "configmaps", "-n", "default")  # list without the name selector
        assert_forbidden(cluster, k, "delete", "configmap", "istio-ca-root-cert", "-n", APP_NAMESPACE)
        assert_forbidden(cluster, k, "delete", "service", "reviews", "-n", APP_NAMESPACE)
        assert_forbidden(cluster, k, "create", "deployment", "x", "--image=x", "-n", "default")

        yes = lambda *a: can_i(cluster, k, *a)  # noqa: E731
        # What Keel does (the chart's comments name the code).
        assert yes("watch", "pods", "-A") and yes("list", "endpointslices.discovery.k8s.io", "-A")
        assert yes("watch", "virtualservices.networking.istio.io", "-A")
        assert yes("create", "tokenreviews.authentication.k8s.io")
        assert yes("create", "subjectaccessreviews.authorization.k8s.io")
        assert yes("update", "configmaps/istio-ca-root-cert", "-n", "default")
        assert yes("get", "secrets/cacerts", "-n", NAMESPACE) and yes("update", "secrets/istio-ca-secret", "-n", NAMESPACE)
        assert yes("create", "leases.coordination.k8s.io", "-n", NAMESPACE)
        # The validation webhook's dry-run check, in the release namespace only.
        assert yes("create", "virtualservices.networking.istio.io", "-n", NAMESPACE)
        assert yes("patch", "validatingwebhookconfigurations.admissionregistration.k8s.io")
        assert yes("update", "leases.coordination.k8s.io/istio-namespace-controller-election", "-n", NAMESPACE)
        # RBAC cannot restrict create by name: any ConfigMap can be created (as for istiod).
        assert yes("create", "configmaps", "-n", "default")
        assert yes("patch", "mutatingwebhookconfigurations.admissionregistration.k8s.io/istio-sidecar-injector")
        # And nothing more.
        for args in (("update", "configmaps/x", "-n", "default"), ("patch", "configmaps/istio-ca-root-cert", "-n", "default"),
                     ("update", "secrets/cacerts", "-n", NAMESPACE), ("create", "secrets", "-n", "default"),
                     ("create", "leases.coordination.k8s.io", "-n", "default"),
                     ("update", "leases.coordination.k8s.io/other", "-n", NAMESPACE), ("get", "nodes"),
                     ("create", "pods", "-n", "default"), ("get", "services", "-A"),
                     ("create", "virtualservices.networking.istio.io", "-n", "default"),
                     ("delete", "mutatingwebhookconfigurations.admissionregistration.k8s.io/istio-sidecar-injector"),
                     ("create", "validatingwebhookconfigurations.admissionregistration.k8s.io"), ("*", "*")):
            assert not yes(*args), f"the istiod token may {' '.join(args)}"

    def test_a_production_istiod_values_file_installs(self, cluster):
        env, kubectl = cluster["env"], cluster["kubectl"]
        ns = "keel-helm-production"
        p = run([HELM, "install", "keel-production", CHART, "-n", ns, "--create-namespace", "-f", PRODUCTION_VALUES],
                env=env)
        try:
            assert "STATUS: deployed" in p.stdout, p.stdout + p.stderr
            assert "\n  pdb\n" in p.stdout and "\n  topologySpreadConstraints\n" in p.stdout, p.stdout
            sa = json.loads(kubectl("get", "serviceaccount", "istiod-1-24", "-n", ns, "-o", "json").stdout)
            assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(":role/istiod")
        finally:
            run([HELM, "uninstall", "keel-production", "-n", ns], env=env, check=False)

    def test_bad_values_create_nothing(self, cluster):
        p = run([HELM, "install", "keel-bad", CHART, "-n", APP_NAMESPACE, "--set", "replicaCount=two"],
                env=cluster["env"], check=False)
        assert p.returncode != 0 and "at '/replicaCount': got string, want integer" in p.stderr, p.stderr
        assert run([HELM, "status", "keel-bad", "-n", APP_NAMESPACE], env=cluster["env"], check=False).returncode != 0

    def test_upgrade(self, cluster):
        env, kubectl = cluster["env"], cluster["kubectl"]
        p = run([HELM, "upgrade", RELEASE, CHART, "-n", NAMESPACE, "--set", "replicaCount=2",
                 "--set", "meshConfig.trustDomain=example.org", "--set", "global.logging.level=debug"], env=env)
        assert "STATUS: deployed" in p.stdout and "PodSecurity" not in p.stdout + p.stderr, p.stdout + p.stderr
        d = json.loads(kubectl("get", "deployment", "istiod", "-n", NAMESPACE, "-o", "json").stdout)
        assert d["spec"]["replicas"] == 2
        args = d["spec"]["template"]["spec"]["containers"][0]["args"]
        assert "--trust-domain=example.org" in args and "--log-level=debug" in args
        mesh = kubectl("get", "configmap", "istio", "-n", NAMESPACE, "-o", "jsonpath={.data.mesh}").stdout
        assert yaml.safe_load(mesh)["trustDomain"] == "example.org"
        assert cluster["exists"]("poddisruptionbudget", "istiod", "-n", NAMESPACE), "two pods: a PDB"
        history = json.loads(run([HELM, "history", RELEASE, "-n", NAMESPACE, "-o", "json"], env=env).stdout)
        assert [h["revision"] for h in history] == [1, 2] and history[-1]["status"] == "deployed"

    def test_uninstall(self, cluster):
        p = run([HELM, "uninstall", RELEASE, "-n", NAMESPACE], env=cluster["env"])
        assert "uninstalled" in p.stdout, p.stdout
        exists = cluster["exists"]
        for obj in ("deployment/istiod", "service/istiod", "serviceaccount/istiod", "configmap/istio", "role/istiod",
                    "rolebinding/istiod", "poddisruptionbudget/istiod"):
            assert not exists(obj, "-n", NAMESPACE), f"{obj} is still there"
        assert not exists("clusterrole", CLUSTER_ROLE) and not exists("clusterrolebinding", CLUSTER_ROLE)
        # Helm never deletes the CRDs of crds/ (their objects would go with them).
        for crd in CRD_NAMES:
            assert exists("crd", crd), crd
        assert run([HELM, "status", RELEASE, "-n", NAMESPACE], env=cluster["env"], check=False).returncode != 0
