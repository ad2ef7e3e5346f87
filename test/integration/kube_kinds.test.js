'use strict';
// Every Istio kind through the real API server (issue 10): one object of each kind of
// the registry (testdata/kinds.yaml) is applied with kubectl and stored by keel; one of
// each kind Keel translates reaches xDS, read by Istio's own delta ADS client (pkg/adsc)
// as a sidecar and as an ingress gateway; what Keel does not translate (whole kinds,
// and a VirtualService field) is named in /debug/push_status, not dropped silently.
//
//   ctest -R integration.kube_kinds

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const { resolveBin, randSuffix } = require('../e2e/lib/common');
const { Keel } = require('../e2e/lib/keel');
const { DeltaClient } = require('../e2e/lib/delta_client');
const kube = require('../e2e/lib/kube');
const W = require('../e2e/lib/watched');
const { Steps } = require('../e2e/lib/steps');

const S = new Steps('kube_kinds');
const NS = `kk-${randSuffix()}`;
const YAML = fs.readFileSync(path.join(__dirname, 'testdata', 'kinds.yaml'), 'utf8').replaceAll('NAMESPACE', NS);
// [{kind, name}] of the testdata, from each document's top-level kind and metadata.name.
const OBJECTS = YAML.split(/^---$/m).map((doc) => ({
  kind: (doc.match(/^kind: (\w+)$/m) || [])[1],
  name: (doc.match(/^metadata: \{name: ([\w.-]+)/m) || [])[1],
}));
const SVC = `kinds-svc.${NS}.svc.cluster.local`;
const META = { NAMESPACE: NS, ISTIO_VERSION: '1.24.0', CLUSTER_ID: 'Kubernetes' };
let keel;
const clients = [];

before(() => kube.kubeEnv());

after(async () => {
  for (const c of clients) c.close();
  if (keel) await keel.stop();
  await kube.deleteNamespace(NS).catch((e) => process.stderr.write(`deleting ${NS}: ${e.message}\n`));
  S.finish();
});

S.step('the testdata has one object of every Istio kind of the registry', 5000, () => {
  const have = new Set(OBJECTS.map((o) => o.kind));
  const missing = kube.istioKinds().map((k) => k.kind).filter((k) => !have.has(k));
  assert.deepEqual(missing, [], 'add an object of each to test/integration/testdata/kinds.yaml');
});

S.step('every Istio kind can be applied with kubectl and is stored by keel', 90000, async () => {
  await kube.apply(`apiVersion: v1\nkind: Namespace\nmetadata: {name: ${NS}}\n`);
  await kube.ensureCrds();  // Istio's CRD file, as the chart installs it
  await kube.apply(YAML);
  keel = S.watch(
    await Keel.start({ bin: resolveBin(__filename), args: ['--kubeconfig', process.env.KUBECONFIG, '--disable-ca'] }),
  );
  await W.waitConverged(keel, 30000, [NS]);
  const stored = W.configzIndex(await keel.configz());
  for (const o of OBJECTS) assert.ok(stored.has(W.keyOf(o.kind, NS, o.name)), `${o.kind} ${NS}/${o.name} in configz`);
});

// Route configuration `name` as keel sent it to `client`, from /debug/config_dump.
async function routeConfig(client, name) {
  const dump = await keel.configDump(client.nodeId);
  const rc = ((dump.xds.RDS || {}).resources || []).find((r) => r.name === name);
  assert.ok(rc, `${client.nodeId}: RDS ${name} sent`);
  return rc;
}
const routesTo = (rc, prefix, cluster) =>
  (rc.virtualHosts || []).some((vh) =>
    (vh.routes || []).some(
      (r) => [r.match.prefix, r.match.pathSeparatedPrefix].includes(prefix) && r.route && r.route.cluster === cluster,
    ),
  );

S.step('one of each translated kind reaches xDS: sidecar and ingress gateway', 60000, async () => {
  const sidecar = new DeltaClient(keel.grpcPort, `sidecar~127.0.0.1~client-0.${NS}~${NS}.svc.cluster.local`, META, [
    'CDS',
    'LDS',
    'RDS=80',
  ]);
  const gateway = new DeltaClient(keel.grpcPort, `router~127.0.0.1~gw-0.${NS}~${NS}.svc.cluster.local`,
    { ...META, LABELS: { istio: 'ingressgateway' } }, ['LDS', 'RDS=http.8080']);
  clients.push(sidecar, gateway);
  const side = await sidecar.held();
  const subset = `outbound|80|v1|${SVC}`;
  // DestinationRule: its subset's cluster.
  assert.ok(side.CDS.includes(subset), `DestinationRule subset cluster in CDS: ${side.CDS}`);
  // ServiceEntry: the external host's cluster.
  assert.ok(side.CDS.includes('outbound|443||kinds.example.com'), `ServiceEntry cluster in CDS: ${side.CDS}`);
  // Sidecar: egress ./* and istio-system/*: the default namespace's kubernetes Service is out of scope.
  assert.ok(!side.CDS.some((c) => c.endsWith('|kubernetes.default.svc.cluster.local')), `Sidecar scoping: ${side.CDS}`);
  // VirtualService (gateways: mesh): the sidecar's port-80 routes send /kinds to the subset.
  assert.ok(routesTo(await routeConfig(sidecar, '80'), '/kinds', subset), 'VirtualService route in the sidecar RDS 80');

  // Gateway: a listener on its port and the VirtualService bound to it.
  const gw = await gateway.held();
  assert.ok(gw.LDS.includes('0.0.0.0_8080'), `Gateway listener in LDS: ${gw.LDS}`);
  assert.ok(routesTo(await routeConfig(gateway, 'http.8080'), '/kinds', subset), 'VirtualService route in RDS http.8080');
});

S.step('/debug/push_status names every untranslated kind and the untranslated field', 10000, async () => {
  const status = await keel.getJson('/debug/push_status');
  const unsupported = status.keel_unsupported_config || {};
  for (const k of kube.istioKinds().filter((k) => !k.translated)) {
    const o = OBJECTS.find((x) => x.kind === k.kind);
    const entry = unsupported[`${k.kind} ${NS}/${o.name}`];
    assert.ok(entry, `${k.kind} ${NS}/${o.name} listed: ${JSON.stringify(unsupported)}`);
    assert.match(entry.message, /is not translated by Keel/);
  }
  assert.equal(
    (unsupported[`VirtualService ${NS}/kinds-vs`] || {}).message,
    'spec fields Keel does not translate (ignored): http.retries.retryRemoteLocalities',
  );
  for (const k of ['Gateway', 'DestinationRule', 'ServiceEntry', 'Sidecar']) {
    const o = OBJECTS.find((x) => x.kind === k);
    assert.ok(!unsupported[`${k} ${NS}/${o.name}`], `${k} uses translated fields only`);
  }
});
