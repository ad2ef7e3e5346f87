#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora (test/fuzz/corpus/<target>/) and
dictionaries (test/fuzz/dict/<target>.dict). The outputs are committed; rerun
after changing a seed here:

    build/venv/bin/python test/fuzz/make_corpus.py build/envoy_closure.pb

needs PyYAML and protobuf (test/requirements.txt) and the Envoy descriptor set
the main build writes (build/envoy_closure.pb). Seeds are named by what they
hold; existing files of a corpus are replaced, others (e.g. regression inputs
added by hand) are kept.
"""
import json
import os
import re
import sys

import yaml
from google.protobuf import text_format

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))
from keeltest import envoy_messages  # noqa: E402  (the tests' shared helpers)
BOOKINFO = os.path.join(ROOT, "examples", "bookinfo")


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# --- yaml_json: Bookinfo files as they are, and YAML features one by one.
YAML_SEEDS = {
    "anchors": "base: &b {app: reviews, version: v1}\ncopy: *b\nmerged:\n  <<: *b\n  version: v2\n",
    "scalars": "i: 42\nneg: -7\nf: 1.5e3\ndot: 1.\nb: [true, False, TRUE]\nn: [~, null]\n"
               "s: '0123'\nq: \"tab\\tquote\\\"\"\nplain: hello world\nhex: 0x1F\n",
    "block_scalars": "lit: |\n  line one\n  line two\nfold: >-\n  folded\n  text\nkeep: |+\n  kept\n\n",
    "flow": "{a: [1, 2, {b: c}], d: {e: [f, g]}, 'k y': \"v\"}\n",
    "multi_doc": "---\na: 1\n---\n---\n- x\n- y\n...\n---\nz\n",
    "complex_keys": "? [a, b]\n: v\n? {k: v}\n: w\n",
    "tags": "s: !!str 12\ni: !!int '7'\ncustom: !thing {x: 1}\nbin: !!binary aGVsbG8=\n",
    "unicode": "name: \"caf\\u00e9 \\U0001F600\"\nraw: \u00fcml\u00e4ut\nctl: \"\\x01\\x7f\"\n",
    "deep": "a:\n" + "".join("  " * i + "- b:\n" for i in range(1, 20)) + "  " * 20 + "- leaf\n",
}


def yaml_json():
    for f in sorted(os.listdir(BOOKINFO)):
        if f.endswith(".yaml"):
            with open(os.path.join(BOOKINFO, f), "rb") as src:
                write("yaml_json", "bookinfo_" + f[:-5], src.read())
    for name, text in YAML_SEEDS.items():
        write("yaml_json", name, text)


# --- config: every Bookinfo object as JSON, and objects using most spec fields.
CONFIG_SEEDS = {
    "virtual_service_full": {
        "apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
        "metadata": {"name": "reviews", "namespace": "default", "labels": {"app": "reviews"},
                     "annotations": {"a": "b"}, "creationTimestamp": "2024-01-01T00:00:00Z",
                     "resourceVersion": "7"},
        "spec": {
            "hosts": ["reviews", "reviews.default.svc.cluster.local"], "gateways": ["mesh", "istio-system/gw"],
            "exportTo": ["."],
            "http": [{
                "name": "canary",
                "match": [{"uri": {"prefix": "/api"}, "headers": {"end-user": {"exact": "jason"}},
                           "queryParams": {"q": {"regex": "^a.*b$"}}, "method": {"exact": "GET"},
                           "ignoreUriCase": True, "port": 9080, "sourceLabels": {"app": "productpage"},
                           "withoutHeaders": {"x": {"prefix": "y"}}}],
                "route": [{"destination": {"host": "reviews", "subset": "v2", "port": {"number": 9080}},
                           "weight": 75, "headers": {"request": {"set": {"x-a": "1"}, "remove": ["x-b"]}}},
                          {"destination": {"host": "reviews", "subset": "v1"}, "weight": 25}],
                "timeout": "1.5s",
                "retries": {"attempts": 3, "perTryTimeout": "2s", "retryOn": "5xx,reset"},
                "fault": {"delay": {"fixedDelay": "100ms", "percentage": {"value": 10.5}},
                          "abort": {"httpStatus": 503, "percentage": {"value": 1}}},
                "mirror": {"host": "ratings"}, "mirrorPercentage": {"value": 50},
                "corsPolicy": {"allowOrigins": [{"exact": "https://a.example"}], "allowMethods": ["GET"],
                               "allowHeaders": ["x"], "exposeHeaders": ["y"], "maxAge": "24h",
                               "allowCredentials": True},
                "rewrite": {"uri": "/v2", "authority": "b"},
                "headers": {"response": {"add": {"x-c": "3"}}},
            }, {
                "match": [{"uri": {"exact": "/old"}}],
                "redirect": {"uri": "/new", "authority": "x", "redirectCode": 301},
            }, {
                "match": [{"uri": {"regex": "/d/[0-9]+"}}],
                "directResponse": {"status": 404, "body": {"string": "nope"}},
            }, {
                "route": [{"destination": {"host": "reviews", "subset": "v3"}}],
            }],
            "tcp": [{"match": [{"port": 3306, "destinationSubnets": ["10.0.0.0/8"]}],
                     "route": [{"destination": {"host": "mysql", "port": {"number": 3306}}}]}],
            "tls": [{"match": [{"sniHosts": ["a.example"], "port": 443}],
                     "route": [{"destination": {"host": "a.example", "port": {"number": 443}}}]}],
        },
    },
    "destination_rule_full": {
        "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
        "metadata": {"name": "reviews", "namespace": "default"},
        "spec": {
            "host": "reviews",
            "trafficPolicy": {
                "loadBalancer": {"simple": "LEAST_REQUEST"},
                "connectionPool": {"tcp": {"maxConnections": 100, "connectTimeout": "30ms"},
                                   "http": {"http1MaxPendingRequests": 10, "maxRequestsPerConnection": 1,
                                            "idleTimeout": "1h30m"}},
                "outlierDetection": {"consecutive5xxErrors": 7, "interval": "5m", "baseEjectionTime": "15m",
                                     "maxEjectionPercent": 50},
                "tls": {"mode": "ISTIO_MUTUAL", "sni": "reviews"},
                "portLevelSettings": [{"port": {"number": 9080}, "loadBalancer": {"simple": "ROUND_ROBIN"}}],
            },
            "subsets": [{"name": "v1", "labels": {"version": "v1"}},
                        {"name": "v2", "labels": {"version": "v2"},
                         "trafficPolicy": {"loadBalancer": {"consistentHash": {"httpHeaderName": "x-user"}}}}],
            "exportTo": ["*"],
        },
    },
    "gateway_tls": {
        "apiVersion": "networking.istio.io/v1alpha3", "kind": "Gateway",
        "metadata": {"name": "gw", "namespace": "istio-system"},
        "spec": {"selector": {"istio": "ingressgateway"},
                 "servers": [{"port": {"number": 443, "name": "https", "protocol": "HTTPS"},
                              "hosts": ["ns1/*.example.com"],
                              "tls": {"mode": "SIMPLE", "credentialName": "example-cert",
                                      "minProtocolVersion": "TLSV1_2"}},
                             {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"],
                              "tls": {"httpsRedirect": True}}]},
    },
    "service_entry": {
        "apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
        "metadata": {"name": "ext"},
        "spec": {"hosts": ["api.example.com"], "addresses": ["192.0.2.1/32"], "location": "MESH_EXTERNAL",
                 "resolution": "STATIC",
                 "ports": [{"number": 443, "name": "https", "protocol": "TLS", "targetPort": 8443}],
                 "endpoints": [{"address": "192.0.2.10", "ports": {"https": 8443}, "labels": {"a": "b"},
                                "weight": 2}]},
    },
    "sidecar_scope": {
        "apiVersion": "networking.istio.io/v1", "kind": "Sidecar",
        "metadata": {"name": "default"},
        "spec": {"workloadSelector": {"labels": {"app": "reviews"}},
                 "egress": [{"port": {"number": 9080, "protocol": "HTTP", "name": "web"}, "hosts": ["./*"]},
                            {"hosts": ["istio-system/*", "*/*.example.com"]}],
                 "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"}},
    },
    "secret_tls": {
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": "example-cert", "namespace": "istio-system"},
        "data": {"tls.crt": "LS0tLS1CRUdJTg==", "tls.key": "LS0tLS1CRUdJTg=="},
    },
    "endpoint_slice": {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
        "metadata": {"name": "reviews-abc", "labels": {"kubernetes.io/service-name": "reviews"}},
        "endpoints": [{"addresses": ["10.1.0.5"], "conditions": {"ready": True}, "targetRef": {"kind": "Pod",
                                                                                            "name": "r"}}],
        "ports": [{"name": "http", "port": 9080, "protocol": "TCP"}],
    },
    "config_map": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "istio", "namespace": "istio-system"},
                   "data": {"mesh": "defaultConfig: {}\n"}},
    "unused_kind": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {}},
}


def config():
    for f in sorted(os.listdir(BOOKINFO)):
        if not f.endswith(".yaml"):
            continue
        with open(os.path.join(BOOKINFO, f)) as src:
            for i, doc in enumerate(d for d in yaml.safe_load_all(src) if d):
                write("config", "bookinfo_%s_%d.json" % (f[:-5], i), json.dumps(doc, indent=1))
    for name, obj in CONFIG_SEEDS.items():
        write("config", name + ".json", json.dumps(obj, indent=1))


# --- xds_request: streams of (Delta)DiscoveryRequests, in xds_request_fuzzer.cc's format.
LDS = "type.googleapis.com/envoy.config.listener.v3.Listener"
RDS = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
SDS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
NODES = {
    "sidecar": 'id: "sidecar~10.1.0.9~productpage-v1-0.default~default.svc.cluster.local" cluster: "productpage" '
               'metadata { fields { key: "NAMESPACE" value { string_value: "default" } } '
               'fields { key: "ISTIO_VERSION" value { string_value: "1.24.0" } } '
               'fields { key: "LABELS" value { struct_value { fields { key: "app" value { string_value: '
               '"productpage" } } } } } } locality { region: "r" zone: "z" }',
    "proxyless": 'id: "sidecar~10.1.0.7~client-0.default~default.svc.cluster.local" '
                 'metadata { fields { key: "GENERATOR" value { string_value: "grpc" } } '
                 'fields { key: "NAMESPACE" value { string_value: "default" } } }',
    "router": 'id: "router~10.1.0.50~istio-ingressgateway-0.istio-system~istio-system.svc.cluster.local" '
              'metadata { fields { key: "LABELS" value { struct_value { fields { key: "istio" value { '
              'string_value: "ingressgateway" } } } } } }',
}
REVIEWS = "outbound|9080||reviews.default.svc.cluster.local"
OP_SEND, OP_ANSWER, OP_PUSH, OP_PUSH_FORCED = 0, 2, 1, 3


def record(op, payload=b""):
    return bytes([op]) + len(payload).to_bytes(2, "big") + payload


class Xds:
    def __init__(self, descriptor_set):
        names = ("DiscoveryRequest", "DeltaDiscoveryRequest")
        self.classes = dict(zip(names, envoy_messages(descriptor_set, *("envoy.service.discovery.v3." + n for n in names))))

    def msg(self, delta, text):
        m = self.classes["DeltaDiscoveryRequest" if delta else "DiscoveryRequest"]()
        text_format.Parse(text, m)
        return m.SerializeToString(deterministic=True)  # map entries sorted: reruns write the same bytes

    def stream(self, delta, node, steps):
        """steps: (op, text) for messages or (op,) / (op, mesh) for pushes; the first message gets the node."""
        out = bytes([1 if delta else 0])
        first = True
        for step in steps:
            op = step[0]
            if op & 1:
                out += record(op, bytes([step[1]]) if len(step) > 1 else b"")
                continue
            text = step[1]
            if first and node:
                text = "node { %s } %s" % (NODES[node], text)
                first = False
            out += record(op, self.msg(delta, text))
        return out


def xds_request(descriptor_set):
    x = Xds(descriptor_set)
    t = lambda url: 'type_url: "%s"' % url
    sotw = {
        "sidecar_all_types": ("sidecar", [
            (OP_SEND, t(CDS)), (OP_ANSWER, t(CDS)),
            (OP_SEND, t(EDS) + ' resource_names: "%s"' % REVIEWS), (OP_ANSWER, t(EDS) + ' resource_names: "%s"' % REVIEWS),
            (OP_SEND, t(LDS)), (OP_ANSWER, t(LDS)),
            (OP_SEND, t(RDS) + ' resource_names: "9080" resource_names: "reviews.default.svc.cluster.local:9080"'),
            (OP_PUSH, 1), (OP_ANSWER, t(CDS) + ' version_info: "2"'), (OP_PUSH_FORCED, 0)]),
        "sidecar_nack": ("sidecar", [
            (OP_SEND, t(CDS)),
            (OP_ANSWER, t(CDS) + ' error_detail { code: 3 message: "cluster rejected" }'),
            (OP_SEND, t(CDS) + ' response_nonce: "stale-nonce"'), (OP_PUSH, 0)]),
        "proxyless_grpc": ("proxyless", [
            (OP_SEND, t(LDS) + ' resource_names: "reviews.default.svc.cluster.local:9080"'),
            (OP_ANSWER, t(LDS) + ' resource_names: "reviews.default.svc.cluster.local:9080"'),
            (OP_SEND, t(RDS) + ' resource_names: "reviews.default.svc.cluster.local:9080"'),
            (OP_SEND, t(CDS) + ' resource_names: "%s"' % REVIEWS),
            (OP_SEND, t(EDS) + ' resource_names: "%s"' % REVIEWS), (OP_PUSH, 1)]),
        "router": ("router", [
            (OP_SEND, t(CDS)), (OP_SEND, t(LDS)), (OP_SEND, t(RDS) + ' resource_names: "http.8080"'),
            (OP_SEND, t(SDS) + ' resource_names: "kubernetes://example-cert"'), (OP_PUSH_FORCED, 0)]),
        "unsubscribe_all": ("sidecar", [
            (OP_SEND, t(EDS) + ' resource_names: "%s"' % REVIEWS), (OP_ANSWER, t(EDS))]),
        "no_node": (None, [(OP_SEND, t(CDS))]),
        "bad_node_id": (None, [(OP_SEND, 'node { id: "nope" } ' + t(CDS))]),
        "unknown_type": ("sidecar", [(OP_SEND, 'type_url: "type.googleapis.com/foo.Bar"'), (OP_SEND, t(CDS))]),
    }
    delta = {
        "delta_sidecar": ("sidecar", [
            (OP_SEND, t(CDS)), (OP_ANSWER, t(CDS)),
            (OP_SEND, t(EDS) + ' resource_names_subscribe: "%s"' % REVIEWS), (OP_ANSWER, t(EDS)),
            (OP_SEND, t(LDS)), (OP_SEND, t(RDS) + ' resource_names_subscribe: "9080"'),
            (OP_PUSH, 1), (OP_ANSWER, t(EDS)), (OP_PUSH, 0),
            (OP_SEND, t(EDS) + ' resource_names_unsubscribe: "%s"' % REVIEWS)]),
        "delta_wildcard_toggle": ("sidecar", [
            (OP_SEND, t(CDS) + ' resource_names_subscribe: "%s"' % REVIEWS),
            (OP_SEND, t(CDS) + ' resource_names_subscribe: "*"'),
            (OP_SEND, t(CDS) + ' resource_names_unsubscribe: "*"'),
            (OP_ANSWER, t(CDS) + ' error_detail { code: 13 message: "bad" }')]),
        "delta_reconnect": ("sidecar", [
            (OP_SEND, t(CDS) + ' initial_resource_versions { key: "%s" value: "abc" }' % REVIEWS),
            (OP_SEND, t(EDS) + ' resource_names_subscribe: "%s" resource_names_subscribe: "nosuch"' % REVIEWS
             + ' initial_resource_versions { key: "gone" value: "1" }'), (OP_PUSH, 1)]),
        "delta_proxyless": ("proxyless", [
            (OP_SEND, t(LDS) + ' resource_names_subscribe: "reviews.default.svc.cluster.local:9080"'),
            (OP_SEND, t(RDS) + ' resource_names_subscribe: "reviews.default.svc.cluster.local:9080"'),
            (OP_ANSWER, t(LDS)), (OP_PUSH_FORCED, 0)]),
        "delta_router": ("router", [
            (OP_SEND, t(LDS)), (OP_SEND, t(CDS)),
            (OP_SEND, t(SDS) + ' resource_names_subscribe: "kubernetes://example-cert"')]),
    }
    for name, (node, steps) in sotw.items():
        write("xds_request", name, x.stream(False, node, steps))
    for name, (node, steps) in delta.items():
        write("xds_request", name, x.stream(True, node, steps))
    write("xds_request", "garbage_message", bytes([0]) + record(OP_SEND, b"\xff\xff\xff\xff\x0f"))


# --- dictionaries
def proto_json_names():
    names = set()
    for dirpath, _, files in os.walk(os.path.join(ROOT, "proto")):
        for f in files:
            if f.endswith(".proto"):
                with open(os.path.join(dirpath, f)) as src:
                    for m in re.finditer(r"^\s*(?:repeated\s+|optional\s+)?[\w.<>, ]+\s+(\w+)\s*=\s*\d+", src.read(), re.M):
                        parts = m.group(1).split("_")
                        names.add(parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:]))
    return sorted(names)


def dicts():
    os.makedirs(os.path.join(HERE, "dict"), exist_ok=True)
    def dump(name, entries):
        with open(os.path.join(HERE, "dict", name + ".dict"), "w") as f:
            f.write("# Generated by test/fuzz/make_corpus.py\n")
            for e in entries:
                f.write('"%s"\n' % e.replace("\\", "\\\\").replace('"', '\\"'))
    dump("yaml_json", ["---", "...", ": ", "- ", "&a", "*a", "<<", "? ", "!!str", "!!int", "!!binary", "|", ">-",
                       "|+", "{", "}", "[", "]", "'", '"', "\\u00e9", "~", "null", "true", "False", ".inf", ".nan",
                       "1e5", "0x1F", "#", "%YAML 1.2", "%TAG"])
    dump("config", ['"apiVersion"', '"kind"', '"metadata"', '"spec"', '"name"', '"namespace"',
                    "networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3",
                    "discovery.k8s.io/v1", "VirtualService", "DestinationRule", "Gateway", "ServiceEntry",
                    "Sidecar", "REGISTRY_ONLY", "ALLOW_ANY", "./*", "istio-system/*", "Service", "Pod", "Secret", "ConfigMap", "EndpointSlice", "Namespace", "1.5s", "100ms", "1h30m",
                    "ISTIO_MUTUAL", "MESH_EXTERNAL", "STATIC", "DNS", "HTTPS", "TLS", "HTTP", "TCP", "GRPC"]
         + ['"%s":' % n for n in proto_json_names()])
    dump("xds_request", [LDS, RDS, CDS, EDS, SDS, "type.googleapis.com/", "sidecar~", "router~", "~default.svc.cluster.local",
                         ".default", "GENERATOR", "grpc", "NAMESPACE", "ISTIO_VERSION", "LABELS", "*", REVIEWS,
                         "outbound|", "inbound|", "9080", "http.8080"])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    yaml_json()
    config()
    xds_request(sys.argv[1])
    dicts()
