'use strict';
// One object from the API server that does not decode never stops a kind (issue 13).
// Before: a VirtualService whose status was nested 110 levels deep made protobuf's JSON
// depth limit fail the whole list and every watch event after it: a running keel stopped
// seeing VirtualService changes (and stayed ready), a fresh one answered 503 for 45 s+.
// Now each object decodes on its own; `status` and metadata.managedFields (as deep as the
// status) are not read, so that VirtualService is served; one larger than
// --max-object-bytes is skipped: named in the log, counted in
// keel_kube_invalid_objects_total{kind}, listed in /debug/push_status.
//
//   ctest -R integration.kube_skipped

const { before, after } = require('node:test');
const assert = require('node:assert/strict');

const { resolveBin, waitFor, randSuffix } = require('../e2e/lib/common');
const { Keel } = require('../e2e/lib/keel');
const kube = require('../e2e/lib/kube');
const W = require('../e2e/lib/watched');
const { Steps } = require('../e2e/lib/steps');

const S = new Steps('kube_skipped');
const NS = `ks-${randSuffix()}`;
const MAX_OBJECT_BYTES = 16384;
const WAIT_MS = 15000; // a change reaches configz within this (normally < 1 s)
const LEVELS = 110;
let keel;
let fresh;

const keelArgs = () => ['--kubeconfig', process.env.KUBECONFIG, '--disable-ca', '--max-object-bytes', String(MAX_OBJECT_BYTES)];

const vs = (name, host, annotation = '') => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${name}
  namespace: ${NS}
${annotation ? `  annotations: {keel.test/padding: "${annotation}"}\n` : ''}spec:
  hosts: [${host}]
  http:
  - route: [{destination: {host: ${host}}}]
`;

// {"a":{"a":...{"leaf":true}}}, `levels` objects deep.
function nested(levels) {
  let v = { leaf: true };
  for (let i = 1; i < levels; ++i) v = { a: v };
  return v;
}

function depth(v) {
  let d = 0;
  while (v && typeof v === 'object') {
    ++d;
    v = v.a;
  }
  return d;
}

const rvOf = async (name) =>
  (await kube.getJson(['-n', NS, 'virtualservice', name])).metadata.resourceVersion;

async function expectConfigz(k, name, rv) {
  const key = W.keyOf('VirtualService', NS, name);
  let seen = 'absent';
  await waitFor(`${k.label} configz ${key} ${rv === null ? 'gone' : `at rv ${rv}`}`, WAIT_MS, 150, async () => {
    const e = W.configzIndex(await k.configz()).get(key);
    seen = e ? `rv ${e.rv}` : 'absent';
    return rv === null ? !e : e && e.rv === rv;
  }).catch((e) => {
    throw new Error(`${e.message}; configz has it ${seen}`);
  });
}

async function skippedEntries(k) {
  const status = await k.getJson('/debug/push_status');
  return status.keel_kube_skipped_objects || {};
}

before(async () => {
  kube.kubeEnv();
  await kube.ensureCrds();
  await kube.apply(`apiVersion: v1\nkind: Namespace\nmetadata: {name: ${NS}}\n---\n${vs('first', 'first')}`);
  keel = S.watch(await Keel.start({ bin: resolveBin(__filename), args: keelArgs(), label: 'running' }));
});

after(async () => {
  // Other tests compare configz with the whole cluster: leave nothing behind.
  await kube.deleteNamespace(NS).catch(() => {});
  if (fresh) await fresh.stop();
  if (keel) await keel.stop();
  S.finish();
});

S.step(`a running keel: a VirtualService with a status ${LEVELS} levels deep stops no VirtualService change`, 60000, async () => {
  await expectConfigz(keel, 'first', await rvOf('first'));
  await kube.apply(vs('deep-status', 'deep'));
  const patch = JSON.stringify({ status: nested(LEVELS) });
  await kube.kubectl(['-n', NS, 'patch', 'virtualservice', 'deep-status', '--subresource=status', '--type=merge', '-p', patch]);
  const stored = await kube.getJson(['-n', NS, 'virtualservice', 'deep-status']);
  assert.equal(depth(stored.status), LEVELS, 'the API server did not store the nested status');
  // Served at the version with the status (status is not read).
  await expectConfigz(keel, 'deep-status', stored.metadata.resourceVersion);
  // New ones arrive, deleted ones go.
  await kube.apply(vs('after', 'after'));
  await expectConfigz(keel, 'after', await rvOf('after'));
  await kube.kubectl(['-n', NS, 'delete', 'virtualservice', 'first']);
  await expectConfigz(keel, 'first', null);
  assert.equal((await keel.get('/ready')).status, 200);
  assert.deepEqual(await skippedEntries(keel), {});
});

S.step(`an object larger than --max-object-bytes is skipped: logged, counted, listed; the rest flows`, 60000, async () => {
  const off = keel.offset();
  const m0 = await keel.metrics();
  await kube.apply(vs('big', 'big', 'x'.repeat(MAX_OBJECT_BYTES + 1000)));
  const line = await keel.waitForLog(new RegExp(`invalid config from the API server: VirtualService ${NS}/big: `), 10000, off);
  assert.match(line, new RegExp(`bytes of JSON \\(status and managedFields excluded\\), more than the limit of ${MAX_OBJECT_BYTES}`));
  assert.match(line, /skipped/);
  const m1 = await keel.metrics();
  const count = (m) => Keel.metricSum(m, 'keel_kube_invalid_objects_total', { kind: 'VirtualService' });
  assert.equal(count(m1) - count(m0), 1);
  const entry = (await skippedEntries(keel))[`VirtualService ${NS}/big`];
  assert.ok(entry, 'push_status does not list the skipped VirtualService');
  assert.match(entry.message, /more than the limit of 16384 \(resourceVersion \d+\)/);
  assert.ok(!W.configzIndex(await keel.configz()).has(W.keyOf('VirtualService', NS, 'big')));
  await kube.apply(vs('after2', 'after2'));
  await expectConfigz(keel, 'after2', await rvOf('after2'));
  assert.equal((await keel.get('/ready')).status, 200);
});

S.step('a fresh keel is ready within the sync timeout and serves every other VirtualService', 60000, async () => {
  // 20 s: well below both the 45 s+ of 503s before and --sync-timeout-s (60).
  fresh = S.watch(await Keel.start({ bin: resolveBin(__filename), args: keelArgs(), label: 'fresh', readyTimeoutMs: 20000 }));
  for (const name of ['deep-status', 'after', 'after2']) await expectConfigz(fresh, name, await rvOf(name));
  assert.ok(!W.configzIndex(await fresh.configz()).has(W.keyOf('VirtualService', NS, 'big')));
  assert.ok((await skippedEntries(fresh))[`VirtualService ${NS}/big`], 'the fresh keel does not list the skipped object');
  await kube.apply(vs('after3', 'after3'));
  await expectConfigz(fresh, 'after3', await rvOf('after3'));
});

S.step('a version of the skipped object that fits is served and leaves the list', 30000, async () => {
  await kube.apply(vs('big', 'big', 'small'));
  const rv = await rvOf('big');
  for (const k of [keel, fresh]) {
    await expectConfigz(k, 'big', rv);
    assert.deepEqual(await skippedEntries(k), {});
  }
});

S.step('a skipped object that is deleted leaves the list', 30000, async () => {
  await kube.apply(vs('big2', 'big2', 'y'.repeat(MAX_OBJECT_BYTES + 1000)));
  const key = `VirtualService ${NS}/big2`;
  await waitFor('big2 listed as skipped', WAIT_MS, 150, async () => Boolean((await skippedEntries(keel))[key]));
  await kube.kubectl(['-n', NS, 'delete', 'virtualservice', 'big2']);
  await waitFor('big2 to leave the skipped list', WAIT_MS, 150, async () => !(await skippedEntries(keel))[key]);
});
