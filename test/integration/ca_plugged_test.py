"""A plugged-in CA: Secret `cacerts` (root -> intermediate, made with the openssl CLI)
in Keel's system namespace before it starts. Issued chains are leaf, intermediate,
root and verify against that root; Keel never writes istio-ca-secret then; a
`cacerts` that does not hold together stops Keel with a message naming the problem.

Keel runs with its own --system-namespace, so the Secret cannot leak into other
tests' Keels (the ConfigMaps it publishes everywhere are restored at the end).
"""

import os
import shutil
import subprocess
import tempfile
import time

import pytest

from ca_testlib import (
    Keel, cert_sans, create_certificate, create_token, ensure_namespace, exists, kubectl, make_csr, new_key, openssl,
    root_from_configmap, suffix, tls_channel, verify_chain, wait_until, write,
)


def make_pki(tmp):
    """root (self-signed CA) -> intermediate (CA, pathlen 0), Istio's cacerts file layout."""
    def ext(name, text):
        return write(os.path.join(tmp, name), text)

    root_key, root = new_key(os.path.join(tmp, "root-key.pem")), os.path.join(tmp, "root-cert.pem")
    openssl("req", "-x509", "-new", "-key", root_key, "-out", root, "-days", "30", "-subj", "/O=Plugged Test/CN=Root CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    inter_key = new_key(os.path.join(tmp, "ca-key.pem"), "rsa")
    inter_csr = openssl("req", "-new", "-key", inter_key, "-subj", "/O=Plugged Test/CN=Intermediate CA").stdout
    inter = os.path.join(tmp, "ca-cert.pem")
    openssl("x509", "-req", "-CA", root, "-CAkey", root_key, "-CAcreateserial", "-days", "10", "-out", inter,
            "-extfile", ext("inter.ext", "basicConstraints=critical,CA:TRUE,pathlen:0\n"
                                         "keyUsage=critical,keyCertSign,cRLSign,digitalSignature\n"
                                         "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"),
            input=inter_csr)
    with open(inter) as f, open(root) as g:
        inter_pem, root_pem = f.read(), g.read()
    chain = write(os.path.join(tmp, "cert-chain.pem"), inter_pem + root_pem)
    files = {"ca-cert.pem": inter, "ca-key.pem": inter_key, "cert-chain.pem": chain, "root-cert.pem": root}
    return files, root_pem, inter_pem


def create_cacerts(ns, files):
    kubectl("delete", "secret", "cacerts", "-n", ns, "--ignore-not-found")
    kubectl("create", "secret", "generic", "cacerts", "-n", ns, *[f"--from-file={k}={v}" for k, v in files.items()])


@pytest.fixture(scope="module")
def plugged(request):
    tmp = tempfile.mkdtemp(prefix="keel-ca-plugged-")
    ns = f"keel-plugged-{suffix()}"
    app = f"plugged-app-{suffix()}"
    ensure_namespace(ns)
    ensure_namespace(app)
    kubectl("create", "serviceaccount", "reviews", "-n", app)
    files, root_pem, inter_pem = make_pki(tmp)
    create_cacerts(ns, files)
    keel = Keel(tmp, system_namespace=ns)
    yield {"tmp": tmp, "ns": ns, "app": app, "keel": keel, "files": files, "root": root_pem, "inter": inter_pem}
    keel.stop()
    # Keel published the plugged-in root into every namespace; remove those ConfigMaps so
    # the next Keel of another test recreates its own (it would repair them anyway).
    for ns_name in kubectl("get", "ns", "-o", "jsonpath={.items[*].metadata.name}").stdout.split():
        p = kubectl("get", "configmap", "istio-ca-root-cert", "-n", ns_name, "-o", "jsonpath={.data.root-cert\\.pem}",
                    check=False)
        if p.returncode == 0 and p.stdout == root_pem:
            kubectl("delete", "configmap", "istio-ca-root-cert", "-n", ns_name, check=False)
    for n in (ns, app):
        kubectl("delete", "namespace", n, "--wait=false", check=False)
    if request.session.testsfailed == 0:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"kept {tmp}")


def test_plugged_in_chain_is_leaf_intermediate_root(plugged):
    keel, tmp, ns, app = plugged["keel"], plugged["tmp"], plugged["ns"], plugged["app"]
    keel.start()
    assert "using plugged-in root" in keel.log()
    # The published root is the plugged-in root, in Keel's namespace and the workload's.
    wait_until(lambda: root_from_configmap(ns) == plugged["root"], 15, f"{ns}/istio-ca-root-cert")
    wait_until(lambda: root_from_configmap(app) == plugged["root"], 15, f"{app}/istio-ca-root-cert")
    assert not exists("secret", "istio-ca-secret", ns), "a plugged-in CA is never replaced by a self-signed one"

    # The TLS port's certificate chains to the plugged-in root (name: istiod.<ns>.svc).
    channel = tls_channel(keel.secure_port, plugged["root"], target_name=f"istiod.{ns}.svc")
    try:
        key = new_key(os.path.join(tmp, "reviews.key"))
        chain = create_certificate(tmp, channel, create_token("reviews", app), make_csr(key))
    finally:
        channel.close()
    assert len(chain) == 3, "leaf, intermediate, root"
    assert chain[1] == plugged["inter"]
    assert chain[2] == plugged["root"]
    assert cert_sans(chain[0]) == [f"URI:spiffe://cluster.local/ns/{app}/sa/reviews"]
    # `openssl verify -CAfile root -untrusted intermediate leaf`
    v = verify_chain(tmp, chain, plugged["root"])
    assert v.returncode == 0, v.stdout + v.stderr
    # Without the intermediate the leaf does not verify: it really was issued by the intermediate.
    leaf = write(os.path.join(tmp, "leaf.pem"), chain[0])
    assert openssl("verify", "-CAfile", plugged["files"]["root-cert.pem"], leaf, check=False).returncode != 0
    keel.stop()


def test_discovery_selectors_choose_the_namespaces_that_get_the_root(plugged):
    """meshConfig discoverySelectors: istio-ca-root-cert goes to the selected namespaces
    only (istiod's namespace controller filters them too), and to a namespace once a
    label selects it."""
    keel, ns, sfx = plugged["keel"], plugged["ns"], suffix()
    selected, other = f"plugged-sel-{sfx}", f"plugged-other-{sfx}"
    for n in (selected, other):
        ensure_namespace(n)
    kubectl("label", "namespace", selected, f"keel-plugged={sfx}")
    kubectl("apply", "-f", "-", input=f"""apiVersion: v1
kind: ConfigMap
metadata: {{name: istio, namespace: {ns}}}
data:
  mesh: |
    discoverySelectors:
    - matchLabels: {{keel-plugged: "{sfx}"}}
""")
    published = lambda n: exists("configmap", "istio-ca-root-cert", n) and root_from_configmap(n) == plugged["root"]
    try:
        keel.start()
        wait_until(lambda: published(selected), 15, f"{selected}/istio-ca-root-cert")
        # Every namespace was queued at once at start: the other one's turn is long past.
        time.sleep(2)
        assert not exists("configmap", "istio-ca-root-cert", other), f"{other} is not selected"
        kubectl("label", "namespace", other, f"keel-plugged={sfx}")
        wait_until(lambda: published(other), 15, f"{other}/istio-ca-root-cert once labelled")
    finally:
        keel.stop()
        kubectl("delete", "configmap", "istio", "-n", ns, check=False)
        for n in (selected, other):
            kubectl("delete", "namespace", n, "--wait=false", check=False)


def run_keel_expect_failure(keel, timeout=30):
    p = subprocess.run(keel.args(), capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


@pytest.mark.parametrize("case", ["key does not match", "not a CA"])
def test_broken_cacerts_stops_keel_with_a_clear_error(plugged, case):
    tmp, ns = plugged["tmp"], plugged["ns"]
    files = dict(plugged["files"])
    if case == "key does not match":
        files["ca-key.pem"] = new_key(os.path.join(tmp, "wrong-key.pem"))
        expected = "ca-key.pem does not match ca-cert.pem"
    else:
        # A leaf (CA:FALSE) issued by the root, offered as the signing certificate.
        leaf_key = new_key(os.path.join(tmp, "leaf-ca-key.pem"))
        leaf = os.path.join(tmp, "leaf-ca-cert.pem")
        openssl("x509", "-req", "-CA", files["root-cert.pem"], "-CAkey", os.path.join(tmp, "root-key.pem"),
                "-CAcreateserial", "-days", "1", "-out", leaf,
                "-extfile", write(os.path.join(tmp, "leaf.ext"), "basicConstraints=critical,CA:FALSE\n"),
                input=openssl("req", "-new", "-key", leaf_key, "-subj", "/CN=not a CA").stdout)
        files["ca-cert.pem"], files["ca-key.pem"] = leaf, leaf_key
        files["cert-chain.pem"] = files["ca-cert.pem"]
        expected = "ca-cert.pem is not a CA certificate"
    create_cacerts(ns, files)
    try:
        code, out = run_keel_expect_failure(plugged["keel"])
    finally:
        create_cacerts(ns, plugged["files"])
    assert code == 2, out
    assert expected in out, out
    assert f"secrets {ns}/cacerts" in out, out
