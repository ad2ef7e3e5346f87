'use strict';
// An invalid object from the API server: a VirtualService whose regex RE2 rejects
// (the CRD's OpenAPI schema cannot catch that) is skipped with an error naming
// namespace/name and the field; an update that makes a good VirtualService invalid
// keeps its last good version; everything else keeps serving, and the proxyless
// client (which would throw on a bad regex) never receives one.
//
//   ctest -R integration.kube_invalid

const { before, after } = require('node:test');
const assert = require('node:assert/strict');

const { resolveBin, waitFor, randSuffix } = require('../e2e/lib/common');
const { Keel } = require('../e2e/lib/keel');
const kube = require('../e2e/lib/kube');
const W = require('../e2e/lib/watched');
const { startEchoServers, xdsClient, who, answers } = require('../e2e/lib/xds');
const { Steps } = require('../e2e/lib/steps');

const S = new Steps('kube_invalid');
const NS = `ki-${randSuffix()}`;
const NODE_ID = `sidecar~127.0.0.1~client.${NS}~${NS}.svc.cluster.local`;
const BACKENDS = [
  { name: 'v1', ip: '127.0.0.2' },
  { name: 'v2', ip: '127.0.0.3' },
];
const BAD_REGEX = '/api/(v1|v2';
let keel;
let echo;
let client;

const vs = (name, host, subset, regex) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${NS}}
spec:
  hosts: [${host}]
  http:
  - match: [{uri: {regex: "${regex}"}}]
    route: [{destination: {host: echo, subset: ${subset}}}]
  - route: [{destination: {host: echo, subset: ${subset}}}]
`;

before(async () => {
  kube.kubeEnv();
  await kube.ensureCrds();
  echo = await startEchoServers(BACKENDS);
  const P = echo.port;
  const pod = (b) => `apiVersion: v1
kind: Pod
metadata: {name: echo-${b.name}, namespace: ${NS}, labels: {app: echo, version: ${b.name}}}
spec: {containers: [{name: echo, image: keel.test/echo, ports: [{name: grpc-echo, containerPort: ${P}}]}]}
`;
  await kube.apply(`apiVersion: v1
kind: Namespace
metadata: {name: ${NS}}
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: ${NS}}
spec: {selector: {app: echo}, ports: [{name: grpc-echo, port: ${P}, targetPort: ${P}}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: ${NS}}
spec: {host: echo, subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]}
---
${BACKENDS.map(pod).join('---\n')}---
${vs('echo', 'echo', 'v2', '/keel\\\\.test/.*')}`);
  for (const b of BACKENDS) await kube.patchPodStatus(NS, `echo-${b.name}`, b.ip);
  keel = S.watch(
    await Keel.start({ bin: resolveBin(__filename), args: ['--kubeconfig', process.env.KUBECONFIG, '--disable-ca'] }),
  );
  client = xdsClient(`echo.${NS}.svc.cluster.local:${P}`, keel.grpcPort, NODE_ID, NS);
});

after(async () => {
  // Other tests compare configz with the whole cluster: leave nothing keel rejects.
  await kube.kubectl(['-n', NS, 'delete', 'virtualservice', 'bad', '--ignore-not-found']).catch(() => {});
  await kube.apply(vs('echo', 'echo', 'v1', '/keel\\\\.test/.*')).catch(() => {});
  if (client) client.close();
  if (keel) await keel.stop();
  if (echo) echo.shutdown();
  S.finish();
});

S.step('a good VirtualService routes the client to v2', 30000, async () => {
  await waitFor('a call to answer v2', 20000, 100, async () => {
    const r = await who(client);
    return r.ok && r.value === 'v2';
  });
  assert.deepEqual(await answers(client, 5), new Array(5).fill('v2'));
});

S.step('a VirtualService with a bad RE2 regex is skipped with a precise error', 30000, async () => {
  const off = keel.offset();
  const m0 = await keel.metrics();
  await kube.apply(vs('bad', 'other', 'v1', BAD_REGEX)); // the apiserver accepts it
  const line = await keel.waitForLog(/invalid config from the API server/, 10000, off);
  assert.match(line, new RegExp(`VirtualService ${NS}/bad`), `the error does not name ${NS}/bad: ${line}`);
  // (validation.cc names the match but not which StringMatch in it: ".regex" for
  // uri/scheme/method/authority alike; ".uri.regex" would be exact.)
  assert.match(line, /spec\.http\[0\]\.match\[0\]\.(uri\.)?regex/, `the error does not name the field: ${line}`);
  assert.ok(line.includes(BAD_REGEX), `the error does not quote the regex: ${line}`);
  const idx = W.configzIndex(await keel.configz());
  assert.ok(!idx.has(W.keyOf('VirtualService', NS, 'bad')), 'the invalid VirtualService reached configz');
  const m1 = await keel.metrics();
  assert.equal(
    Keel.metricSum(m1, 'keel_kube_invalid_objects_total', { kind: 'VirtualService' }) -
      Keel.metricSum(m0, 'keel_kube_invalid_objects_total', { kind: 'VirtualService' }),
    1,
  );
  // /debug/push_status lists it by kind, namespace and name, with the field.
  const skipped = (await keel.getJson('/debug/push_status')).keel_kube_skipped_objects || {};
  const entry = skipped[`VirtualService ${NS}/bad`];
  assert.ok(entry, `push_status does not list ${NS}/bad: ${JSON.stringify(skipped)}`);
  assert.match(entry.message, /spec\.http\[0\]\.match\[0\]\.(uri\.)?regex/);
});

S.step('making the serving VirtualService invalid keeps its last good version', 30000, async () => {
  const off = keel.offset();
  const good = W.configzIndex(await keel.configz()).get(W.keyOf('VirtualService', NS, 'echo'));
  await kube.apply(vs('echo', 'echo', 'v1', BAD_REGEX)); // would move traffic to v1 if accepted
  const line = await keel.waitForLog(/invalid config from the API server/, 10000, off);
  assert.match(line, new RegExp(`VirtualService ${NS}/echo`));
  const now = W.configzIndex(await keel.configz()).get(W.keyOf('VirtualService', NS, 'echo'));
  assert.equal(now.rv, good.rv, 'configz no longer holds the last good version');
  assert.deepEqual(await answers(client, 10), new Array(10).fill('v2'));
});

S.step('the rest keeps serving: a valid edit is applied; no NACK; still ready', 30000, async () => {
  await kube.apply(vs('echo', 'echo', 'v1', '/keel\\\\.test/.*'));
  await waitFor('a call to answer v1', 15000, 100, async () => {
    const r = await who(client);
    return r.ok && r.value === 'v1';
  });
  assert.deepEqual(await answers(client, 5), new Array(5).fill('v1'));
  assert.deepEqual(keel.linesSince(0).filter((l) => l.includes('NACK')), [], 'keel logged a NACK');
  assert.equal((await keel.get('/ready')).status, 200);
});
