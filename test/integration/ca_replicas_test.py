"""Two keel-discovery replicas on one cluster: leader election for the singleton work.

Both watch the fixture's API server with the same system namespace (a fresh one,
so no other test's CA is involved) and --leader-lease-duration 3s. The holder of
Lease istio-namespace-controller-election alone creates the self-signed root and
writes the istio-ca-root-cert ConfigMaps; the other waits for the root and serves
it; when the leader stops (releasing the Lease) the other takes over the writes.

Run: ctest -R integration.ca_replicas (with the `kube` fixture); see ca_test.py for by hand.
"""

import os
import re
import shutil
import tempfile
import time

import pytest

from ca_testlib import (
    Keel, ensure_namespace, exists, kubectl, kubectl_json, root_from_configmap, secret_field, suffix, wait_until,
)

LEASE = "istio-namespace-controller-election"
ACQUIRED = re.compile(r"leader election: (\S+) acquired lease")


def holder(ns):
    return kubectl_json("get", "lease", LEASE, "-n", ns)["spec"].get("holderIdentity", "")


def identity(keel):
    m = ACQUIRED.search(keel.log())
    return m.group(1) if m else None


@pytest.fixture(scope="module")
def pair():
    tmp = tempfile.mkdtemp(prefix="keel-ca-replicas-")
    system_ns = f"keel-ha-{suffix()}"
    app_ns = f"ha-app-{suffix()}"
    ensure_namespace(system_ns)
    ensure_namespace(app_ns)
    replicas = []
    for name in ("a", "b"):
        d = os.path.join(tmp, name)
        os.mkdir(d)
        replicas.append(Keel(d, system_namespace=system_ns, extra=["--leader-lease-duration", "3s"]))
    for k in replicas:
        k.launch()  # together: both find no root and no Lease
    for k in replicas:
        k.wait_ready(60)
    yield {"replicas": replicas, "system_ns": system_ns, "app_ns": app_ns, "tmp": tmp}
    for k in replicas:
        k.stop()
    kubectl("delete", "namespace", system_ns, app_ns, "--wait=false", check=False)
    shutil.rmtree(tmp, ignore_errors=True)


def leader_and_follower(pair):
    a, b = pair["replicas"]
    wait_until(lambda: holder(pair["system_ns"]) in (identity(a), identity(b)), 10, "a Lease holder")
    return (a, b) if holder(pair["system_ns"]) == identity(a) else (b, a)


def test_the_leader_alone_creates_the_root_and_both_serve_it(pair):
    leader, follower = leader_and_follower(pair)
    ns = pair["system_ns"]
    assert "created a self-signed root" in leader.log()
    assert "created a self-signed root" not in follower.log(), follower.log()
    assert identity(follower) is None, "never leader"
    root = secret_field(ns, "istio-ca-secret", "root-cert.pem")
    assert root
    wait_until(lambda: root_from_configmap(pair["app_ns"]) == root, 20, "the root ConfigMap in the app namespace")
    # The follower serves the root the leader created: its serving certificate chains to it.
    assert "using self-signed root" in follower.log()


def test_only_the_leader_repairs_root_configmaps(pair):
    leader, follower = leader_and_follower(pair)
    root = secret_field(pair["system_ns"], "istio-ca-secret", "root-cert.pem")
    app = pair["app_ns"]
    kubectl("delete", "configmap", "istio-ca-root-cert", "-n", app)
    wait_until(lambda: exists("configmap", "istio-ca-root-cert", app) and root_from_configmap(app) == root, 20,
               "the leader to recreate the ConfigMap")
    assert f"created {app}/istio-ca-root-cert" in leader.log()
    assert f"{app}/istio-ca-root-cert" not in follower.log()


def test_the_follower_takes_over_when_the_leader_stops(pair):
    leader, follower = leader_and_follower(pair)
    ns, app = pair["system_ns"], pair["app_ns"]
    stopped = time.monotonic()
    leader.stop()  # SIGTERM: releases the Lease
    wait_until(lambda: identity(follower) is not None and holder(ns) == identity(follower), 10,
               "the follower to hold the Lease")
    took = time.monotonic() - stopped
    assert took < 3 + 1.5, f"a released Lease is taken at the next retry, not after its term ({took:.1f}s)"
    root = secret_field(ns, "istio-ca-secret", "root-cert.pem")
    kubectl("delete", "configmap", "istio-ca-root-cert", "-n", app)
    wait_until(lambda: exists("configmap", "istio-ca-root-cert", app) and root_from_configmap(app) == root, 20,
               "the new leader to recreate the ConfigMap")
    assert f"created {app}/istio-ca-root-cert" in follower.log()
