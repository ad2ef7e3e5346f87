'use strict';
// Resilience: the kube-apiserver keel-discovery watches is stopped mid-watch;
// while it is down, objects of every watched kind are created, changed and
// deleted through a SECOND kube-apiserver on the same etcd; then the first one
// comes back. keel must converge to exactly what `kubectl get` shows, having
// delivered each change exactly once (counted with its keel_kube_events_total
// metrics against the diff of the cluster before and after).
//
// EXCLUSIVE (ctest RUN_SERIAL): stops the shared apiserver, compares the whole cluster.
//   ctest -R integration.kube_resilience
//   KEEL_DISCOVERY_BIN=build/pilot/keel-discovery node --test test/integration/kube_resilience.test.js

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const { resolveBin, waitFor, randSuffix } = require('../e2e/lib/common');
const { Keel } = require('../e2e/lib/keel');
const kube = require('../e2e/lib/kube');
const W = require('../e2e/lib/watched');
const { Steps } = require('../e2e/lib/steps');

const S = new Steps('kube_resilience');
const NS = `kr-${randSuffix()}`;
const SYS = W.SYSTEM_NS;
const I = 'networking.istio.io/v1';
let keel;
let before0; // cluster index before the outage
let metrics0;

const svc = (name, port) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${NS}}
spec: {selector: {app: ${name}}, ports: [{name: http, port: ${port}, targetPort: 8080}]}
`;
const pod = (name, version) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${NS}, labels: {app: a, version: ${version}}}
spec: {containers: [{name: c, image: keel.test/a}]}
`;
const slice = (name, svcName, ip) => `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}, namespace: ${NS}, labels: {kubernetes.io/service-name: ${svcName}}}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints: [{addresses: [${ip}], conditions: {ready: true}}]
`;
const secret = (name, v) => `apiVersion: v1
kind: Secret
metadata: {name: ${name}, namespace: ${NS}}
stringData: {k: ${v}}
`;
const cm = (name, v) => `apiVersion: v1
kind: ConfigMap
metadata: {name: ${name}, namespace: ${SYS}}
data: {k: "${v}"}
`;
const vs = (name, subset) => `apiVersion: ${I}
kind: VirtualService
metadata: {name: ${name}, namespace: ${NS}}
spec: {hosts: [${name}], http: [{route: [{destination: {host: a, subset: ${subset}}}]}]}
`;
const dr = (name, lb) => `apiVersion: ${I}
kind: DestinationRule
metadata: {name: ${name}, namespace: ${NS}}
spec: {host: a, trafficPolicy: {loadBalancer: {simple: ${lb}}}}
`;
const gw = (name, host) => `apiVersion: ${I}
kind: Gateway
metadata: {name: ${name}, namespace: ${NS}}
spec: {selector: {istio: ingressgateway}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["${host}"]}]}
`;
const se = (name, port) => `apiVersion: ${I}
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${NS}}
spec: {hosts: [${name}.example.com], ports: [{number: ${port}, name: tls, protocol: TLS}], resolution: DNS}
`;
const docs = (...d) => d.join('---\n');

const expectConverged = (timeoutMs) => W.waitConverged(keel, timeoutMs);

before(async () => {
  kube.kubeEnv();
  await kube.ensureCrds();
});

after(async () => {
  // Leave the shared apiserver as we found it, whatever happened.
  await kube.harness('stop-second-apiserver').catch(() => {});
  await kube.harness('start-apiserver').catch((e) => process.stderr.write(`${e.message}\n`));
  if (keel) await keel.stop();
  S.finish();
});

S.step('set-up: objects of every watched kind; keel converges on the whole cluster', 60000, async () => {
  await kube.apply(`apiVersion: v1\nkind: Namespace\nmetadata: {name: ${SYS}}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ${NS}}\n`);
  await kube.apply(
    docs(
      svc('a', 80), svc('b', 80), pod('p1', 'v1'), pod('p2', 'v1'),
      slice('a-1', 'a', '10.50.0.1'), slice('b-1', 'b', '10.50.0.2'),
      secret('s1', 'one'), secret('s2', 'one'), cm(`${NS}-1`, 'one'), cm(`${NS}-2`, 'one'),
      vs('vs1', 'v1'), vs('vs2', 'v1'), dr('dr1', 'ROUND_ROBIN'), gw('gw1', 'a.example.com'), se('se1', 443),
    ),
  );
  await kube.patchPodStatus(NS, 'p1', '10.50.1.1');
  await kube.patchPodStatus(NS, 'p2', '10.50.1.2');
  keel = S.watch(
    await Keel.start({ bin: resolveBin(__filename), args: ['--kubeconfig', process.env.KUBECONFIG, '--disable-ca'] }),
  );
  before0 = await expectConverged(20000);
  metrics0 = await keel.metrics();
});

S.step('kube-apiserver stopped mid-watch; changes made through a second apiserver on the same etcd', 120000, async (t) => {
  const off = keel.offset();
  const t0 = Date.now();
  await kube.harness('stop-apiserver');
  t.diagnostic(`stop-apiserver took ${Date.now() - t0} ms`);
  // keel noticed: its pod watch broke and it is retrying.
  await keel.waitForLog(/watch \/api\/v1\/pods: .*resuming from/, 20000, off);

  await kube.harness('start-second-apiserver');
  const second = { kubeconfig: path.join(kube.kubeEnv().dir, 'kubeconfig-second') };
  // Create, update, delete; and delete + re-create under the same name (dr1).
  await kube.apply(
    docs(
      `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${NS}-b}\n`,
      svc('c', 80), pod('p3', 'v1'), slice('c-1', 'c', '10.50.0.3'), secret('s3', 'one'), cm(`${NS}-3`, 'one'),
      vs('vs3', 'v1'), gw('gw2', 'b.example.com'), se('se2', 443),
      svc('a', 8080), pod('p1', 'v2'), slice('a-1', 'a', '10.50.0.9'), secret('s1', 'two'), cm(`${NS}-1`, 'two'),
      vs('vs1', 'v2'), se('se1', 8443),
    ),
    second,
  );
  await kube.patchPodStatus(NS, 'p3', '10.50.1.3', true, second);
  for (const [res, name, ns] of [
    ['service', 'b', NS], ['pod', 'p2', NS], ['endpointslice', 'b-1', NS], ['secret', 's2', NS],
    ['configmap', `${NS}-2`, SYS], ['virtualservice', 'vs2', NS], ['gateway', 'gw1', NS], ['destinationrule', 'dr1', NS],
  ]) {
    await kube.kubectl(['-n', ns, 'delete', res, name, '--wait=true', '--timeout=20s'], second);
  }
  await kube.apply(dr('dr1', 'LEAST_REQUEST'), second);
  await kube.harness('stop-second-apiserver');
  // keel saw none of it yet.
  const idx = W.configzIndex(await keel.configz());
  assert.ok(idx.has(W.keyOf('Service', NS, 'b')) && !idx.has(W.keyOf('Service', NS, 'c')), 'keel changed while disconnected?');
});

S.step('kube-apiserver back: keel converges, every change delivered exactly once', 120000, async (t) => {
  const off = keel.offset();
  const t0 = Date.now();
  await kube.harness('start-apiserver');
  const after1 = await expectConverged(75000);
  t.diagnostic(`converged ${Date.now() - t0} ms after start-apiserver began`);
  const relisted = keel.linesSince(off).filter((l) => l.includes('relisting')).length;
  t.diagnostic(`keel logged ${relisted} relist lines (410 after the restart)`);

  // Exactly the difference, once: per kind and event type, delivered == expected.
  let report = '';
  await waitFor('event counts to settle at the expected values', 10000, 250, async () => {
    const want = W.expectedEvents(before0, await W.clusterIndex());
    const r = W.compareEvents(metrics0, await keel.metrics(), want);
    report = r.rows.join('\n  ');
    return r.ok;
  }).catch((e) => {
    throw new Error(`${e.message}:\n  ${report}`);
  });
  t.diagnostic(report.replace(/\n\s+/g, '; '));
  assert.ok(after1.size > 0);
  assert.equal((await keel.get('/ready')).status, 200);
});
