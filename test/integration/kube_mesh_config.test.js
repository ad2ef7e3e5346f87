'use strict';
// MeshConfig at runtime (issue 10): ConfigMap `istio`, key `mesh`, in keel's system
// namespace, changed with kubectl while Istio's own delta ADS client (pkg/adsc) stays
// connected as a sidecar. REGISTRY_ONLY turns its catch-all into BlackHoleCluster
// within a push; trustDomain and trustDomainAliases name the SANs its mTLS cluster
// expects; a bad mesh keeps the last good one and says why in /debug/push_status; a
// field Keel does not use is listed there; discoverySelectors hide a namespace until
// it is labelled; deleting the ConfigMap restores the defaults.
//
// keel runs in a system namespace of its own, so the mesh of other tests is not touched.
//
//   ctest -R integration.kube_mesh_config

const { before, after } = require('node:test');
const assert = require('node:assert/strict');

const { resolveBin, randSuffix, waitFor } = require('../e2e/lib/common');
const { Keel } = require('../e2e/lib/keel');
const { DeltaClient } = require('../e2e/lib/delta_client');
const kube = require('../e2e/lib/kube');
const W = require('../e2e/lib/watched');
const { Steps } = require('../e2e/lib/steps');

const S = new Steps('kube_mesh_config');
const SFX = randSuffix();
const NS = `mc-${SFX}`;
const SYS = `mc-sys-${SFX}`;
const NODE = `sidecar~127.0.0.1~client-0.${NS}~${NS}.svc.cluster.local`;
const CLUSTER = `outbound|80||mc-svc.${NS}.svc.cluster.local`;
const WORKLOADS = `apiVersion: v1
kind: Service
metadata: {name: mc-svc, namespace: ${NS}}
spec: {selector: {app: mc}, ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: mc-sa, namespace: ${NS}}
---
apiVersion: v1
kind: Pod
metadata: {name: mc-0, namespace: ${NS}, labels: {app: mc, security.istio.io/tlsMode: istio}}
spec: {serviceAccountName: mc-sa, containers: [{name: c, image: keel.test/mc}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: mc-svc-1, namespace: ${NS}, labels: {kubernetes.io/service-name: mc-svc}}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints: [{addresses: [10.70.0.1], conditions: {ready: true}, targetRef: {kind: Pod, name: mc-0, namespace: ${NS}}}]
`;
const meshConfigMap = (mesh) => `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: ${SYS}}
data:
  mesh: |
${mesh.split('\n').map((l) => `    ${l}`).join('\n')}
`;
let keel;
let client;

before(() => kube.kubeEnv());

after(async () => {
  if (client) client.close();
  if (keel) await keel.stop();
  for (const ns of [NS, SYS]) {
    await kube.deleteNamespace(ns).catch((e) => process.stderr.write(`deleting ${ns}: ${e.message}\n`));
  }
  S.finish();
});

// What keel last sent the client, once the client has ACKed it: {LDS, CDS} resources by name.
async function sent() {
  const dump = await keel.configDump(NODE);
  const out = {};
  for (const t of ['LDS', 'CDS']) {
    const w = dump.xds[t] || {};
    if (!w.acked) return null;
    out[t] = new Map((w.resources || []).map((r) => [r.name, r]));
  }
  return out;
}
// The cluster the sidecar's virtualOutbound catch-all chain sends to.
function catchAll(s) {
  const vo = s.LDS.get('virtualOutbound');
  assert.ok(vo, 'virtualOutbound sent');
  const chain = vo.filterChains[vo.filterChains.length - 1];
  return chain.filters[0].typedConfig.cluster;
}
// The SANs the mTLS (tlsMode-istio) socket of CLUSTER accepts.
function sans(s) {
  const c = s.CDS.get(CLUSTER);
  assert.ok(c, `${CLUSTER} sent`);
  const m = (c.transportSocketMatches || []).find((x) => x.name === 'tlsMode-istio');
  assert.ok(m, `${CLUSTER} has auto mTLS: ${JSON.stringify(c.transportSocketMatches)}`);
  const v = m.transportSocket.typedConfig.commonTlsContext.combinedValidationContext.defaultValidationContext;
  return v.matchSubjectAltNames.map((x) => x.exact);
}
// Waits until what the client holds satisfies `check` (returns it), or fails with the last state.
async function until(what, check, timeoutMs = 20000) {
  let last;
  await waitFor(what, timeoutMs, 200, async () => {
    const s = await sent();
    if (!s) return false;
    last = s;
    try {
      check(s);
      return true;
    } catch (e) {
      last = e.message;
      return false;
    }
  }).catch((e) => {
    throw new Error(`${e.message}; last: ${typeof last === 'string' ? last : 'no ACKed state'}`);
  });
}
const pushStatus = () => keel.getJson('/debug/push_status');

S.step('without ConfigMap istio: ALLOW_ANY and cluster.local SANs', 90000, async () => {
  for (const ns of [NS, SYS]) await kube.apply(`apiVersion: v1\nkind: Namespace\nmetadata: {name: ${ns}}\n`);
  await kube.ensureCrds();  // keel's informers (and waitConverged) list every kind
  await kube.apply(WORKLOADS);
  keel = S.watch(
    await Keel.start({
      bin: resolveBin(__filename),
      args: ['--kubeconfig', process.env.KUBECONFIG, '--disable-ca', '--system-namespace', SYS],
    }),
  );
  await W.waitConverged(keel, 30000, [NS]);
  client = new DeltaClient(keel.grpcPort, NODE, { NAMESPACE: NS, ISTIO_VERSION: '1.24.0', CLUSTER_ID: 'Kubernetes' }, [
    'CDS',
    'LDS',
  ]);
  await client.held();
  await until('the defaults', (s) => {
    assert.equal(catchAll(s), 'PassthroughCluster');
    assert.deepEqual(sans(s), [`spiffe://cluster.local/ns/${NS}/sa/mc-sa`]);
  });
});

S.step('kubectl apply of REGISTRY_ONLY and a trust domain reaches the connected sidecar', 30000, async () => {
  await kube.apply(
    meshConfigMap(
      'outboundTrafficPolicy: {mode: REGISTRY_ONLY}\ntrustDomain: corp.example\ntrustDomainAliases: [old.example]\n' +
        'ingressClass: nginx',
    ),
  );
  await until('BlackHoleCluster and the corp.example SANs', (s) => {
    assert.equal(catchAll(s), 'BlackHoleCluster');
    assert.deepEqual(sans(s), [`spiffe://corp.example/ns/${NS}/sa/mc-sa`, `spiffe://old.example/ns/${NS}/sa/mc-sa`]);
  });
  const status = await pushStatus();
  assert.equal(
    ((status.keel_unsupported_config || {})[`ConfigMap ${SYS}/istio`] || {}).message,
    'mesh fields Keel reads but does not use: ingressClass',
  );
  assert.ok(!(status.keel_invalid_config || {})[`ConfigMap ${SYS}/istio`], 'a good mesh is not invalid');
});

S.step('a bad mesh is refused naming the field; the last good one stays', 30000, async () => {
  await kube.apply(meshConfigMap('outboundTrafficPolicy: {mode: ALLOW_ANY}\ntrustDomain: "not a domain"'));
  await waitFor('the bad mesh named in push_status', 15000, 200, async () => {
    const entry = ((await pushStatus()).keel_invalid_config || {})[`ConfigMap ${SYS}/istio`];
    return entry && /trustDomain: "not a domain" is not a valid trust domain/.test(entry.message);
  });
  const s = await sent();
  assert.equal(catchAll(s), 'BlackHoleCluster', 'the last good mesh (REGISTRY_ONLY) stays');
  assert.ok(sans(s).includes(`spiffe://corp.example/ns/${NS}/sa/mc-sa`));
});

S.step('discoverySelectors leave out an unlabelled namespace until kubectl label selects it', 40000, async () => {
  // Keel's own namespace (SYS) is not selected either: its mesh ConfigMap is still read.
  await kube.apply(meshConfigMap(`discoverySelectors:\n- matchLabels: {mc-discovery: on-${SFX}}`));
  await until(`${CLUSTER} gone: ${NS} is not selected`, (s) => assert.ok(!s.CDS.has(CLUSTER), `${CLUSTER} still sent`));
  const unused = ((await pushStatus()).keel_unsupported_config || {})[`ConfigMap ${SYS}/istio`];
  assert.ok(!unused, `discoverySelectors is used: ${JSON.stringify(unused)}`);
  // A change in the namespace left out is no update (pilot_inbound_updates counts
  // every change that enqueues a push); the Namespace's own label change is one.
  const updates = async () => Keel.metricSum(await keel.metrics(), 'pilot_inbound_updates');
  const before = await updates();
  await kube.kubectl(['annotate', 'service', 'mc-svc', '-n', NS, `keel.test/touched=${SFX}`]);
  await kube.kubectl(['annotate', 'endpointslice', 'mc-svc-1', '-n', NS, `keel.test/touched=${SFX}`]);
  await new Promise((r) => setTimeout(r, 1500));  // both watch events long arrived (a bounded wait for an absence)
  assert.equal(await updates(), before, 'changes in an unselected namespace enqueue nothing');
  await kube.kubectl(['label', 'namespace', NS, `mc-discovery=on-${SFX}`]);
  await until(`${CLUSTER} back once ${NS} is labelled`, (s) => assert.ok(sans(s).length > 0));
});

S.step('deleting ConfigMap istio restores the defaults', 30000, async () => {
  await kube.kubectl(['delete', 'configmap', 'istio', '-n', SYS]);
  await until('the defaults again', (s) => {
    assert.equal(catchAll(s), 'PassthroughCluster');
    assert.deepEqual(sans(s), [`spiffe://cluster.local/ns/${NS}/sa/mc-sa`]);
  });
  const status = await pushStatus();
  assert.ok(!(status.keel_invalid_config || {})[`ConfigMap ${SYS}/istio`], 'the error is gone with the object');
});
