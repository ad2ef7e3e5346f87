'use strict';
// A forced 410 Gone: while keel-discovery is disconnected (its kube-apiserver
// stopped), objects change through a second apiserver on the same etcd, among them
// DELETEs, and etcd is compacted past everything keel saw. When the apiserver
// returns, keel's watch resume is answered 410; keel logs "too old (410 Gone);
// relisting", relists, and the relist delivers the outage's deletes as deletes.
//
// EXCLUSIVE (ctest RUN_SERIAL): stops the shared apiserver and compacts etcd.
//   ctest -R integration.kube_gone
//   KEEL_DISCOVERY_BIN=build/pilot/keel-discovery node --test test/integration/kube_gone.test.js

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const { resolveBin, randSuffix } = require('../e2e/lib/common');
const { Keel } = require('../e2e/lib/keel');
const kube = require('../e2e/lib/kube');
const W = require('../e2e/lib/watched');
const { Steps } = require('../e2e/lib/steps');

const S = new Steps('kube_gone');
const NS = `kg-${randSuffix()}`;
let keel;
let before0;
let metrics0;
let compactedAt = 0;

const svc = (name) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${NS}}
spec: {selector: {app: ${name}}, ports: [{name: http, port: 80}]}
`;
const vs = (name, subset) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${NS}}
spec: {hosts: [${name}], http: [{route: [{destination: {host: ${name}, subset: ${subset}}}]}]}
`;

before(async () => {
  kube.kubeEnv();
  await kube.ensureCrds();
});

after(async () => {
  await kube.harness('stop-second-apiserver').catch(() => {});
  await kube.harness('start-apiserver').catch((e) => process.stderr.write(`${e.message}\n`));
  if (keel) await keel.stop();
  S.finish();
});

S.step('set-up: keel synced with Services and VirtualServices', 60000, async () => {
  await kube.apply(`apiVersion: v1\nkind: Namespace\nmetadata: {name: ${NS}}\n---\n` +
    [svc('a'), svc('b'), vs('a', 'v1'), vs('b', 'v1')].join('---\n'));
  keel = S.watch(
    await Keel.start({ bin: resolveBin(__filename), args: ['--kubeconfig', process.env.KUBECONFIG, '--disable-ca'] }),
  );
  before0 = await W.waitConverged(keel, 20000);
  metrics0 = await keel.metrics();
});

S.step('disconnected: deletes and an update through a second apiserver, then etcd compaction', 120000, async () => {
  const off = keel.offset();
  await kube.harness('stop-apiserver');
  await keel.waitForLog(/watch \/apis\/networking\.istio\.io\/v1\/virtualservices: .*resuming from/, 20000, off);
  await kube.harness('start-second-apiserver');
  const second = { kubeconfig: path.join(kube.kubeEnv().dir, 'kubeconfig-second') };
  await kube.kubectl(['-n', NS, 'delete', 'virtualservice', 'b', '--wait=true', '--timeout=20s'], second);
  await kube.kubectl(['-n', NS, 'delete', 'service', 'b', '--wait=true', '--timeout=20s'], second);
  await kube.apply(vs('a', 'v2'), second);
  await kube.harness('stop-second-apiserver');
  compactedAt = Number(await kube.harness('compact'));
  assert.ok(compactedAt > 0, 'compact printed no revision');
});

S.step('reconnected: 410 Gone -> relist; the outage deletes arrive as deletes', 120000, async (t) => {
  const off = keel.offset();
  await kube.harness('start-apiserver');
  // Both kinds whose objects changed are relisted after a 410.
  for (const p of ['/apis/networking.istio.io/v1/virtualservices', '/api/v1/services']) {
    const line = await keel.waitForLog(
      new RegExp(`watch ${p.replace(/[/.]/g, '\\$&')}: resourceVersion \\d+ is too old \\(410 Gone\\); relisting`),
      75000,
      off,
    );
    t.diagnostic(line.slice(0, 200));
  }
  const cluster = await W.waitConverged(keel, 30000);
  const idx = W.configzIndex(await keel.configz());
  assert.ok(!idx.has(W.keyOf('VirtualService', NS, 'b')), 'VirtualService b (deleted during the outage) is still served');
  assert.ok(!idx.has(W.keyOf('Service', NS, 'b')), 'Service b (deleted during the outage) is still served');
  assert.equal(idx.get(W.keyOf('VirtualService', NS, 'a')).obj.spec.http[0].route[0].destination.subset, 'v2');

  const m = await keel.metrics();
  const r = W.compareEvents(metrics0, m, W.expectedEvents(before0, cluster));
  t.diagnostic(r.rows.join('; '));
  assert.ok(r.ok, `events delivered != the outage's changes:\n  ${r.rows.join('\n  ')}`);
  const gone = (res) => Keel.metricSum(m, 'keel_kube_gone_total', { resource: res }) -
    Keel.metricSum(metrics0, 'keel_kube_gone_total', { resource: res });
  assert.ok(gone('virtualservices.networking.istio.io') >= 1, 'no 410 counted for virtualservices');
  assert.ok(gone('services') >= 1, 'no 410 counted for services');
  assert.equal((await keel.get('/ready')).status, 200);
});
