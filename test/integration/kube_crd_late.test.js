'use strict';
// CRDs installed after keel-discovery started: with the Istio CRDs absent, keel
// warns "not served ... (CRD not installed?)" once per kind, still becomes ready,
// and picks the CRDs (and a VirtualService) up once they are applied (it polls
// every 5 s: InformerOptions::not_installed_poll).
//
// EXCLUSIVE (ctest RUN_SERIAL): deletes the Istio CRDs of the shared apiserver
// (and so every Istio object in it); re-applies them at the end.
//   ctest -R integration.kube_crd_late

const { before, after } = require('node:test');
const assert = require('node:assert/strict');

const { resolveBin, waitFor, randSuffix } = require('../e2e/lib/common');
const { Keel } = require('../e2e/lib/keel');
const kube = require('../e2e/lib/kube');
const W = require('../e2e/lib/watched');
const { Steps } = require('../e2e/lib/steps');

const S = new Steps('kube_crd_late');
const NS = `kc-${randSuffix()}`;
// One API path per Istio kind of the registry, at the version keel watches (its first).
const PATHS = kube.istioKinds().map((k) => `/apis/${k.group}/${k.versions[0]}/${k.plural}`);
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
let keel;

before(async () => {
  kube.kubeEnv();
  await kube.apply(`apiVersion: v1\nkind: Namespace\nmetadata: {name: ${NS}}\n`);
});

after(async () => {
  if (keel) await keel.stop();
  await kube.ensureCrds().catch((e) => process.stderr.write(`re-applying the CRDs: ${e.message}\n`));
  S.finish();
});

S.step('without the Istio CRDs keel warns once per kind and becomes ready', 150000, async () => {
  await kube.deleteCrds();
  keel = S.watch(
    await Keel.start({ bin: resolveBin(__filename), args: ['--kubeconfig', process.env.KUBECONFIG, '--disable-ca'] }),
  );
  for (const p of PATHS) {
    await keel.waitForLog(new RegExp(`${escape(p)}: not served by the API server \\(CRD not installed\\?\\)`), 5000);
  }
  const warnings = keel.linesSince(0).filter((l) => l.includes('CRD not installed?'));
  assert.equal(warnings.length, PATHS.length, `one warning per kind, not per poll:\n${warnings.join('\n')}`);
});

S.step('CRDs and a VirtualService applied later are picked up', 60000, async (t) => {
  const t0 = Date.now();
  await kube.ensureCrds();
  await kube.apply(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: late, namespace: ${NS}}
spec: {hosts: [late], http: [{route: [{destination: {host: late}}]}]}
`);
  await waitFor('VirtualService late in configz', 20000, 200, async () =>
    W.configzIndex(await keel.configz()).has(W.keyOf('VirtualService', NS, 'late')),
  );
  t.diagnostic(`VirtualService in configz ${Date.now() - t0} ms after the CRDs were applied`);
  for (const p of PATHS) await keel.waitForLog(new RegExp(`${escape(p)}: now served`), 15000);
  await W.waitConverged(keel, 15000, [NS]);
  assert.equal((await keel.get('/ready')).status, 200);
});
