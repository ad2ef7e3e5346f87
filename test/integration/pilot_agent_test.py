"""Istio's own data-plane agent against Keel: pilot-agent (the agent of Istio's proxyv2
image, built from the pinned istio.io/istio module by test/e2e/istio_tools/build.sh),
run as the injected `istio-proxy` container runs it, against a keel-discovery on the
real kube-apiserver of the `kube` fixture. Each agent's pod is first sent to Keel's own
injector (/inject, the AdmissionReview the API server would send): the agent runs with
the args and env of the istio-proxy container Keel injected, as the kubelet would start
it (fieldRefs resolved, $(VAR) expanded), with the template each pod asks for: sidecar,
gateway (the ingress gateway of Keel's own chart) and grpc-agent.

The agent, its pod root and what differs from a pod are agentlib's (test/integration/
agentlib.py); the test plays Envoy on the agent's sockets: Istio's delta ADS client on
./etc/istio/proxy/XDS with the node of the bootstrap the agent wrote, and a grpcio SDS
client on the workload SDS socket. Each pod carries status.sidecar.istio.io/port: "0".
"""

import base64
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import jsonpatch
import pytest
import ssl
import yaml

from agentlib import Agent, tool
from ca_testlib import (Envoy, Keel, apply, cert_sans, create_token, ensure_namespace, kubectl, root_from_configmap,
                        split_pem, suffix, tls_channel, verify_chain, wait_until)
from keeltest import echo_server, envoy_messages, free_port, pick_filter_chain

SYSTEM_NS = "istio-system"
CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
LDS = "type.googleapis.com/envoy.config.listener.v3.Listener"
RDS = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
MTLS_HTTP = ("tls", ["istio-http/1.1", "istio"])
PLAINTEXT_HTTP = ("raw_buffer", ["http/1.1"])


class Ctx:
    pass


def app_pod(ns, name, sa, labels, ports, annotations=None):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels,
                         "annotations": {"status.sidecar.istio.io/port": "0", **(annotations or {})}},
            "spec": {"serviceAccountName": sa, "containers": [{
                "name": name.rsplit("-", 1)[0], "image": "example.invalid/app", "resources": {},
                "ports": [{"name": n, "containerPort": p} for n, p in ports]}]}}


def chart_gateway_pod(name):
    """A pod of the ingress gateway Keel's own chart renders (gateways.istio-ingressgateway)."""
    helm = os.path.join(os.environ["KEEL_TOOLS_DIR"], "helm")
    out = subprocess.run([helm, "template", "keel", os.environ["KEEL_CHART_DIR"], "-n", SYSTEM_NS,
                          "-s", "templates/ingressgateway.yaml", "--set", "gateways.istio-ingressgateway.enabled=true"],
                         check=True, capture_output=True, text=True).stdout
    template = next(d for d in yaml.safe_load_all(out) if d and d.get("kind") == "Deployment")["spec"]["template"]
    template["metadata"].update(name=name, namespace=SYSTEM_NS)
    template["metadata"]["annotations"]["status.sidecar.istio.io/port"] = "0"
    return {"apiVersion": "v1", "kind": "Pod", **template}


def inject(keel, pod_obj):
    """The pod as Keel's /inject patches it: the AdmissionReview the API server sends."""
    review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "agent-test", "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "namespace": pod_obj["metadata"]["namespace"], "operation": "CREATE", "object": pod_obj}}
    tls = ssl.create_default_context(cafile=os.path.join(keel.tmp, f"serving-{SYSTEM_NS}", "root-cert.pem"))
    conn = http.client.HTTPSConnection("localhost", keel.webhook_port, context=tls, timeout=10)
    try:
        conn.request("POST", "/inject", body=json.dumps(review), headers={"Content-Type": "application/json"})
        reply = conn.getresponse()
        body = reply.read().decode()
    finally:
        conn.close()
    assert reply.status == 200, body
    response = json.loads(body)["response"]
    assert response["allowed"] and "patch" in response, response
    return jsonpatch.apply_patch(pod_obj, json.loads(base64.b64decode(response["patch"])))


def pod(ns, name, sa, ip, labels, ports):
    apply(app_pod(ns, name, sa, labels, ports))
    status = {"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                         "conditions": [{"type": "Ready", "status": "True"}]}}
    kubectl("-n", ns, "patch", "pod", name, "--subresource=status", "--type=merge", "-p", json.dumps(status))


def service(ns, name, selector, ports, ip=None):
    """A Service; with `ip`, its EndpointSlice too (the API server refuses loopback addresses in
    EndpointSlices, so backends on 127.0.0.x are found through their Pods)."""
    apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
           "spec": {"selector": selector, "ports": [{"name": n, "port": p, "targetPort": t} for n, p, t in ports]}})
    if ip is None:
        return
    # No controller-manager runs: the EndpointSlice is written as its controller would.
    apply({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
           "metadata": {"name": f"{name}-1", "namespace": ns, "labels": {"kubernetes.io/service-name": name}},
           "addressType": "IPv4", "ports": [{"name": n, "port": t, "protocol": "TCP"} for n, _, t in ports],
           "endpoints": [{"addresses": [ip], "conditions": {"ready": True}}]})


def istio_crds():
    crds = os.environ.get("KEEL_ISTIO_CRDS")
    assert crds and os.path.exists(crds), "KEEL_ISTIO_CRDS: the chart's crd-all.gen.yaml (keel_kube_test sets it)"
    kubectl("apply", "--server-side", "--force-conflicts", "-f", crds, timeout=90)
    wait_until(lambda: kubectl("get", "peerauthentications.security.istio.io", "-A", check=False).returncode == 0,
               30, "the Istio CRDs to be served")


@pytest.fixture(scope="module")
def ctx(request):
    c = Ctx()
    c.tmp = tempfile.mkdtemp(prefix="keel-pa-")
    c.ns = f"agent-{suffix()}"
    ensure_namespace(SYSTEM_NS)
    ensure_namespace(c.ns)
    istio_crds()
    for ns, sa in ((c.ns, "bookinfo-productpage"), (SYSTEM_NS, "istio-ingressgateway")):
        kubectl("create", "serviceaccount", sa, "-n", ns, check=False)
    pod(c.ns, "productpage-v1-7d4", "bookinfo-productpage", "10.60.0.2", {"app": "productpage", "version": "v1"},
        [("http", 9080)])
    service(c.ns, "productpage", {"app": "productpage"}, [("http", 9080, 9080)], "10.60.0.2")
    pod(SYSTEM_NS, "istio-ingressgateway-5c9", "istio-ingressgateway", "10.60.0.3",
        {"istio": "ingressgateway", "app": "istio-ingressgateway"}, [("http2", 8080)])
    service(SYSTEM_NS, f"istio-ingressgateway-{c.ns}", {"istio": "ingressgateway"}, [("http2", 80, 8080)], "10.60.0.3")
    c.keel = Keel(c.tmp, extra=["--custom-host", "localhost"])  # the name inject() calls /inject by
    c.agents = []
    ok = False
    try:
        # 90 s: a CA Lease holder that died without releasing it (another test's Keel) is
        # waited out for its 30 s term before this Keel may create the root and be ready.
        c.keel.start(timeout=90)
        wait_until(lambda: kubectl("get", "configmap", "istio-ca-root-cert", "-n", c.ns, check=False).returncode == 0,
                   20, f"ConfigMap {c.ns}/istio-ca-root-cert")
        c.envoy = Envoy(os.environ["KEEL_ENVOY_DESCRIPTORS"])
        yield c
        ok = request.session.testsfailed == 0
    finally:  # also when the set-up above failed: no Keel or agent outlives this module
        for a in c.agents:
            a.stop()
        c.keel.stop()
        # Only what this module made. The harness runs no namespace controller, so deleting the
        # namespace leaves its objects: the Gateway and VirtualService go by name, or a later run
        # on the same apiserver sees two VirtualServices bound to gateways selecting its gateway.
        kubectl("delete", "peerauthentication", "default", "-n", SYSTEM_NS, "--ignore-not-found", check=False)
        kubectl("delete", "gateways.networking.istio.io,virtualservices.networking.istio.io", "bookinfo-gateway",
                "bookinfo", "-n", c.ns, "--ignore-not-found", check=False)
        kubectl("delete", "pod,service,endpointslice", "istio-ingressgateway-5c9", f"istio-ingressgateway-{c.ns}",
                f"istio-ingressgateway-{c.ns}-1", "-n", SYSTEM_NS, "--ignore-not-found", check=False)
        kubectl("delete", "namespace", c.ns, "--wait=false", check=False)
        if ok:
            shutil.rmtree(c.tmp, ignore_errors=True)
        else:
            print(f"kept {c.tmp} (keel and agent logs, pod roots)")


@pytest.fixture(scope="module")
def sidecar(ctx):
    injected = inject(ctx.keel, app_pod(ctx.ns, "productpage-v1-7d4", "bookinfo-productpage",
                                        {"app": "productpage", "version": "v1"}, [("http", 9080)]))
    a = Agent(ctx.tmp, ctx.keel, injected, "10.60.0.2")
    ctx.agents.append(a)
    a.start()
    return a


def test_the_agent_runs_envoy_with_a_bootstrap_pointing_at_its_own_xds_proxy(sidecar):
    args = sidecar.envoy_args()
    assert "-c" in args and args[args.index("-c") + 1].endswith("envoy-rev.json"), args
    with open(sidecar.bootstrap_path()) as f:
        bootstrap = json.load(f)
    assert bootstrap["node"]["id"] == f"sidecar~10.60.0.2~productpage-v1-7d4.{sidecar.ns}~{sidecar.ns}.svc.cluster.local"
    xds = next(c for c in bootstrap["static_resources"]["clusters"] if c["name"] == "xds-grpc")
    socket = xds["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["pipe"]["path"]
    assert socket == "./etc/istio/proxy/XDS"


def test_the_workload_certificate_comes_from_keels_ca_for_the_pods_service_account(ctx, sidecar):
    secrets = sidecar.secrets(ctx.envoy, ["default", "ROOTCA"])
    assert set(secrets) == {"default", "ROOTCA"}, sorted(secrets)
    chain = secrets["default"].tls_certificate.certificate_chain.inline_bytes.decode()
    assert secrets["default"].tls_certificate.private_key.inline_bytes  # the agent's own key, never Keel's
    leaf = split_pem(chain)[0]
    assert cert_sans(leaf) == [f"URI:spiffe://cluster.local/ns/{ctx.ns}/sa/bookinfo-productpage"]
    root = root_from_configmap(ctx.ns)
    assert verify_chain(ctx.tmp, split_pem(chain), root).returncode == 0
    trusted = secrets["ROOTCA"].validation_context.trusted_ca.inline_bytes.decode()
    assert split_pem(trusted) == split_pem(root)
    assert ctx.keel.metrics().get("citadel_server_success_cert_issuance_count", 0) >= 1


def connected(ctx, proxy_id):
    status, body = ctx.keel.http_get("/debug/connections")
    assert status == 200, body
    return [c for c in json.loads(body)["clients"] if c.get("proxyID") == proxy_id]


def test_the_agents_xds_proxy_brings_the_sidecar_its_config_authenticated_by_its_token(ctx, sidecar):
    names, _ = sidecar.xds(CDS, LDS)
    assert {"outbound|9080||productpage.%s.svc.cluster.local" % ctx.ns, "inbound|9080||",
            "PassthroughCluster", "BlackHoleCluster"} <= set(names[CDS]), names[CDS]
    assert {"virtualOutbound", "virtualInbound", "0.0.0.0_9080"} <= set(names[LDS]), names[LDS]
    with open(sidecar.bootstrap_path()) as f:
        node_id = json.load(f)["node"]["id"]
    # The stream Keel sees comes through the agent, over TLS, with the pod's token.
    out = os.path.join(sidecar.root, "hold.json")
    hold = subprocess.Popen([tool("KEEL_DELTA_CLIENT", "istio-delta-client"), "--addr",
                             "unix:" + sidecar.path("etc/istio/proxy/XDS"), "--node-from-bootstrap",
                             sidecar.bootstrap_path(), "--watch", CDS, "--expect-json", out, "--timeout", "30s",
                             "--hold"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: connected(ctx, node_id), 30, f"{node_id} in /debug/connections")
        [client] = connected(ctx, node_id)
        assert client["identity"] == f"ns/{ctx.ns}/sa/bookinfo-productpage", client
        assert client["namespace"] == ctx.ns
    finally:
        hold.stdin.close()
        hold.wait(30)


def inbound_chains(sidecar):
    _, resources = sidecar.xds(f"{LDS}=virtualInbound")
    listener = resources[LDS]["virtualInbound"]
    return [(c, c.get("filterChainMatch", {}).get("destinationPort"), c.get("filterChainMatch", {}).get(
        "transportProtocol", ""), c.get("filterChainMatch", {}).get("applicationProtocols", []))
            for c in listener["filterChains"]]


def test_a_mesh_wide_strict_peer_authentication_reaches_the_agents_envoy(ctx, sidecar):
    chains = inbound_chains(sidecar)
    assert pick_filter_chain(chains, 9080, *PLAINTEXT_HTTP) is not None, "PERMISSIVE before the policy"
    apply({"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
           "metadata": {"name": "default", "namespace": SYSTEM_NS}, "spec": {"mtls": {"mode": "STRICT"}}})
    wait_until(lambda: pick_filter_chain(inbound_chains(sidecar), 9080, *PLAINTEXT_HTTP) is None, 30,
               "the plaintext chain on 9080 to go")
    mtls = pick_filter_chain(inbound_chains(sidecar), 9080, *MTLS_HTTP)
    assert mtls is not None and mtls["name"] == "0.0.0.0_9080"
    tls = mtls["transportSocket"]
    assert tls["name"] == "envoy.transport_sockets.tls"
    assert tls["typedConfig"]["requireClientCertificate"] is True
    kubectl("delete", "peerauthentication", "default", "-n", SYSTEM_NS)


@pytest.fixture(scope="module")
def gateway(ctx):
    injected = inject(ctx.keel, chart_gateway_pod("istio-ingressgateway-5c9"))
    a = Agent(ctx.tmp, ctx.keel, injected, "10.60.0.3")
    assert a.kind == "router"
    ctx.agents.append(a)
    a.start()
    return a


def test_a_gateway_agent_gets_the_bookinfo_gateways_listener_and_route(ctx, gateway):
    apply({"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
           "metadata": {"name": "bookinfo-gateway", "namespace": ctx.ns},
           "spec": {"selector": {"istio": "ingressgateway"},
                    "servers": [{"port": {"number": 8080, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}]}})
    apply({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
           "metadata": {"name": "bookinfo", "namespace": ctx.ns},
           "spec": {"hosts": ["*"], "gateways": ["bookinfo-gateway"],
                    "http": [{"match": [{"uri": {"exact": "/productpage"}}],
                              "route": [{"destination": {"host": "productpage", "port": {"number": 9080}}}]}]}})

    productpage = f"outbound|9080||productpage.{ctx.ns}.svc.cluster.local"

    def route_clusters(route):
        return [r["route"]["cluster"] for vh in route.get("virtualHosts", []) for r in vh.get("routes", [])
                if "route" in r]

    def has_route():
        # The Gateway and the VirtualService may reach the agent in two pushes: until the
        # second, http.8080 exists without the route to productpage.
        names, resources = gateway.xds(LDS, f"{RDS}=http.8080")
        if "0.0.0.0_8080" not in names[LDS] or "http.8080" not in names.get(RDS, []):
            return None
        return resources if productpage in route_clusters(resources[RDS]["http.8080"]) else None

    resources = wait_until(has_route, 30, f"the gateway's 0.0.0.0_8080 and route http.8080 to {productpage}")
    assert productpage in route_clusters(resources[RDS]["http.8080"])
    with open(gateway.bootstrap_path()) as f:
        assert json.load(f)["node"]["id"].startswith("router~10.60.0.3~istio-ingressgateway-5c9.istio-system~")


ECHO_CLIENT = """
import sys, grpc
channel = grpc.insecure_channel(sys.argv[1])
call = channel.unary_unary("/keel.test.Echo/Who",  # keeltest.echo_server's method
    request_serializer=lambda b: b, response_deserializer=lambda b: b)
print(" ".join(call(b"", timeout=10, wait_for_ready=True).decode() for _ in range(5)))
"""


def test_a_proxyless_grpc_client_routes_through_the_grpc_agents_bootstrap(ctx):
    port = free_port("127.0.0.2")
    server = echo_server(f"127.0.0.2:{port}", "echo-v1")
    try:
        kubectl("create", "serviceaccount", "echo", "-n", ctx.ns)
        pod(ctx.ns, "echo-v1-0", "echo", "127.0.0.2", {"app": "echo"}, [("grpc-echo", port)])
        service(ctx.ns, "echo", {"app": "echo"}, [("grpc-echo", port, port)])
        kubectl("create", "serviceaccount", "echo-client", "-n", ctx.ns)
        injected = inject(ctx.keel, app_pod(ctx.ns, "echo-client-0", "echo-client", {"app": "echo-client"}, [],
                                            {"inject.istio.io/templates": "grpc-agent"}))
        agent = Agent(ctx.tmp, ctx.keel, injected, "10.60.0.4")
        assert agent.proxyless
        app = next(c for c in injected["spec"]["containers"] if c["name"] == "echo-client")
        app_env = {e["name"]: e["value"] for e in app["env"]}
        assert app_env["GRPC_XDS_BOOTSTRAP"] == "/etc/istio/proxy/grpc-bootstrap.json"  # what the app is given
        ctx.agents.append(agent)
        agent.start()
        bootstrap_path = agent.path("etc/istio/proxy/grpc-bootstrap.json")
        with open(bootstrap_path) as f:
            bootstrap = json.load(f)
        assert bootstrap["xds_servers"][0]["server_uri"] == "unix:///" + agent.path("etc/istio/proxy/XDS")
        assert bootstrap["node"]["metadata"]["GENERATOR"] == "grpc"
        # The app: a grpcio channel to xds:///, with the agent's bootstrap, in a process of its own.
        env = dict(os.environ, GRPC_XDS_BOOTSTRAP=bootstrap_path)
        run = subprocess.run([sys.executable, "-c", ECHO_CLIENT, f"xds:///echo.{ctx.ns}.svc.cluster.local:{port}"],
                             env=env, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, f"{run.stderr}\nagent log:\n{agent.log()}"
        assert run.stdout.split() == ["echo-v1"] * 5
        # The certificates the grpc-agent template's OUTPUT_CERTS names, for the app's xDS credentials.
        certs = agent.path("var/lib/istio/data")
        wait_until(lambda: os.path.exists(os.path.join(certs, "cert-chain.pem")), 20, "the agent's cert-chain.pem")
        with open(os.path.join(certs, "cert-chain.pem")) as f:
            assert cert_sans(split_pem(f.read())[0]) == [f"URI:spiffe://cluster.local/ns/{ctx.ns}/sa/echo-client"]
        assert {"key.pem", "root-cert.pem"} <= set(os.listdir(certs))
    finally:
        server.stop(0)


def istioctl_path():
    return os.path.join(os.environ["KEEL_TOOLS_DIR"], "istioctl")


def istioctl(*args):
    run = subprocess.run([istioctl_path(), *args], capture_output=True, text=True, timeout=90)
    assert run.returncode == 0, f"istioctl {' '.join(args)}: {run.stdout}\n{run.stderr}"
    return run.stdout


def test_istioctl_proxy_status_and_version_over_xds_see_what_debug_syncz_sees(ctx, sidecar, gateway):
    # istioctl authenticates as istio-system/default (a token it requests) over Keel's TLS port.
    kubectl("create", "serviceaccount", "default", "-n", SYSTEM_NS, check=False)
    xds = ["--xds-address", f"127.0.0.1:{ctx.keel.secure_port}", "--istioNamespace", SYSTEM_NS]
    with sidecar.connected(f"{CDS}=*", f"{LDS}=*"), gateway.connected(f"{CDS}=*", f"{LDS}=*"):
        def syncz_rows():
            status, body = ctx.keel.http_get("/debug/syncz")
            assert status == 200, body
            return {r["proxy"]: r for r in json.loads(body)}
        rows = wait_until(lambda: (lambda r: r if sidecar.proxy_id() in r and gateway.proxy_id() in r and all(
            r[p]["cluster_status"] == "SYNCED" and r[p]["listener_status"] == "SYNCED"
            for p in (sidecar.proxy_id(), gateway.proxy_id())) else None)(syncz_rows()), 30,
            "both proxies SYNCED in /debug/syncz")
        table = istioctl("proxy-status", *xds)
        lines = {l.split()[0]: l.split() for l in table.splitlines()[1:] if l.strip()}
        assert table.split()[:5] == ["NAME", "CLUSTER", "ISTIOD", "VERSION", "SUBSCRIBED"], table
        for proxy in (sidecar.proxy_id(), gateway.proxy_id()):
            assert proxy in lines, f"{proxy} not listed:\n{table}"
        # The per-type states, as /debug/syncz says them (istioctl -o json: the ClientConfigs).
        response = json.loads(istioctl("proxy-status", *xds, "-o", "json"))
        configs = {r["node"]["id"]: r for r in response["resources"]}
        assert set(configs) >= {sidecar.proxy_id(), gateway.proxy_id()}
        assert json.loads(response["controlPlane"]["identifier"])["Component"] == "istiod"
        for proxy in (sidecar.proxy_id(), gateway.proxy_id()):
            states = {c["typeUrl"]: c["configStatus"] for c in configs[proxy]["genericXdsConfigs"]}
            assert states[CDS] == "SYNCED" and states[LDS] == "SYNCED", states
            assert rows[proxy]["cluster_status"] == "SYNCED"
        version = istioctl("x", "version", *xds)
        assert "control plane version:" in version or "client version" in version.lower(), version
        keel_version = subprocess.run([ctx.keel.binary, "--version"], capture_output=True, text=True).stdout.split()[-1]
        assert keel_version in version, version
        # Unauthenticated (the plaintext port): refused, as istiod refuses debug types there.
        run = subprocess.run([istioctl_path(), "proxy-status", "--xds-address",
                              f"127.0.0.1:{ctx.keel.grpc_port}", "--plaintext", "--istioNamespace", SYSTEM_NS,
                              "--timeout", "10s"], capture_output=True, text=True, timeout=60)
        assert run.returncode != 0 and "Unauthenticated" in run.stdout + run.stderr, run.stdout + run.stderr


def debug_config_dump(ctx, proxy_id, sa, ns):
    """istio.io/debug/config_dump of `proxy_id` over Keel's TLS port, as service account ns/sa:
    {Any type URL: message} of the response's resources."""
    listeners_cls, clusters_cls, response_cls = envoy_messages(
        os.environ["KEEL_ENVOY_DESCRIPTORS"], "envoy.admin.v3.ListenersConfigDump", "envoy.admin.v3.ClustersConfigDump",
        "envoy.service.discovery.v3.DiscoveryResponse")
    request = ctx.envoy.request("istio.io/debug/config_dump", node_id=f"sidecar~10.9.9.9~debug.{ns}~{ns}.svc.cluster.local",
                                metadata={"NAMESPACE": ns})
    request.resource_names.append(proxy_id)
    with tls_channel(ctx.keel.secure_port, root_from_configmap(ctx.ns)) as channel:
        call = channel.stream_stream(Envoy.ADS_METHOD, request_serializer=type(request).SerializeToString,
                                     response_deserializer=response_cls.FromString)(
            iter([request]), timeout=15, metadata=[("authorization", f"Bearer {create_token(sa, ns)}")])
        response = next(call)
        call.cancel()
    out = {}
    for any_ in response.resources:
        cls = {"ListenersConfigDump": listeners_cls, "ClustersConfigDump": clusters_cls}.get(any_.type_url.split(".")[-1])
        if cls:
            out[any_.type_url] = cls.FromString(any_.value)
    return out


def test_debug_config_dump_over_xds_is_what_the_proxy_holds_and_stays_in_the_callers_namespace(ctx, sidecar, gateway):
    with sidecar.connected(f"{LDS}=virtualInbound"), gateway.connected(f"{CDS}=*"):
        wait_until(lambda: all(p in ctx.keel.http_get("/debug/syncz")[1] for p in (sidecar.proxy_id(), gateway.proxy_id())),
                   30, "both proxies connected")
        dump = debug_config_dump(ctx, sidecar.proxy_id(), "default", SYSTEM_NS)
        listeners = dump["type.googleapis.com/envoy.admin.v3.ListenersConfigDump"]
        assert [l.name for l in listeners.dynamic_listeners] == ["virtualInbound"]
        assert len(dump["type.googleapis.com/envoy.admin.v3.ClustersConfigDump"].dynamic_active_clusters) == 0
        gw = debug_config_dump(ctx, gateway.proxy_id(), "default", SYSTEM_NS)
        assert len(gw["type.googleapis.com/envoy.admin.v3.ClustersConfigDump"].dynamic_active_clusters) > 0
        # A caller outside the root namespace sees its own namespace's proxies only.
        own = debug_config_dump(ctx, sidecar.proxy_id(), "bookinfo-productpage", ctx.ns)
        assert [l.name for l in own["type.googleapis.com/envoy.admin.v3.ListenersConfigDump"].dynamic_listeners] == [
            "virtualInbound"]
        assert debug_config_dump(ctx, gateway.proxy_id(), "bookinfo-productpage", ctx.ns) == {}


def test_no_agent_logged_an_error_or_a_rejection(ctx, sidecar, gateway):
    # Runs last: everything above went through the agents. An "error" or "warn" line of
    # the agent's xDS proxy, SDS server or CA client means Keel answered something it did
    # not take (a NACK is logged as a warning); Keel's log has no NACK either.
    # One warning is the agent's own teardown, not Keel's answer: when its downstream (our
    # xDS client, which unlike Envoy leaves) goes, the agent closes its upstream connection
    # and a request it was still forwarding fails with "send error for type url T: EOF"
    # (pkg/istio-agent/xds_proxy_delta.go). A stream Keel ended shows as "rpc error: ...".
    assert len(ctx.agents) == 3  # the sidecar, the gateway and the proxyless client's
    teardown = re.compile(r"\twarn\txdsproxy\tupstream terminated with unexpected error send error for type url \S+: EOF\t")
    for agent in ctx.agents:
        bad = [l for l in agent.log().splitlines()
               if ("\terror\t" in l or ("\twarn\t" in l and "concurrency" not in l)) and not teardown.search(l)]
        assert bad == [], "\n".join(bad)
    assert "NACK" not in ctx.keel.log()

