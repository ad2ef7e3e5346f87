'use strict';
// The xDS served from the API server follows kubectl: a real proxyless client
// (@grpc/grpc-js-xds) is routed by a VirtualService edited with kubectl, to real
// gRPC backends on 127.0.0.2 / 127.0.0.3 (Pods whose status we patch: no kubelet).
//
//   ctest -R integration.kube_xds
//   KEEL_DISCOVERY_BIN=build/pilot/keel-discovery node --test test/integration/kube_xds.test.js

const { before, after } = require('node:test');
const assert = require('node:assert/strict');

const { resolveBin, waitFor, randSuffix } = require('../e2e/lib/common');
const { Keel } = require('../e2e/lib/keel');
const kube = require('../e2e/lib/kube');
const { startEchoServers, xdsClient, who, answers } = require('../e2e/lib/xds');
const { Steps } = require('../e2e/lib/steps');

const S = new Steps('kube_xds');
const NS = `kx-${randSuffix()}`;
const NODE_ID = `sidecar~127.0.0.1~client.${NS}~${NS}.svc.cluster.local`;
const BACKENDS = [
  { name: 'v1', ip: '127.0.0.2' },
  { name: 'v2', ip: '127.0.0.3' },
];
let keel;
let echo;
let client;

function workload(P) {
  const pod = (b) => `apiVersion: v1
kind: Pod
metadata: {name: echo-${b.name}, namespace: ${NS}, labels: {app: echo, version: ${b.name}}}
spec:
  containers: [{name: echo, image: keel.test/echo, ports: [{name: grpc-echo, containerPort: ${P}}]}]
`;
  return `apiVersion: v1
kind: Namespace
metadata: {name: ${NS}}
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: ${NS}, labels: {app: echo}}
spec:
  selector: {app: echo}
  ports: [{name: grpc-echo, port: ${P}, targetPort: ${P}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: ${NS}}
spec:
  host: echo
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
${BACKENDS.map(pod).join('---\n')}`;
}

const virtualService = (subset) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: ${NS}}
spec:
  hosts: [echo]
  http: [{route: [{destination: {host: echo, subset: ${subset}}}]}]
`;

// Polls calls (bounded) until one answers `want`, then checks the next 10 all do.
async function expectRoutedTo(want, timeoutMs = 15000) {
  await waitFor(`a call to answer "${want}"`, timeoutMs, 100, async () => {
    const r = await who(client);
    if (r.ok && r.value === want) return true;
    throw new Error(r.ok ? `answered ${r.value}` : r.error);
  });
  assert.deepEqual(await answers(client, 10), new Array(10).fill(want));
}

before(async () => {
  kube.kubeEnv();
  await kube.ensureCrds();
  echo = await startEchoServers(BACKENDS);
  await kube.apply(workload(echo.port));
  for (const b of BACKENDS) await kube.patchPodStatus(NS, `echo-${b.name}`, b.ip);
  await kube.apply(virtualService('v1'));
  keel = S.watch(
    await Keel.start({ bin: resolveBin(__filename), args: ['--kubeconfig', process.env.KUBECONFIG, '--disable-ca'] }),
  );
  client = xdsClient(`echo.${NS}.svc.cluster.local:${echo.port}`, keel.grpcPort, NODE_ID, NS);
});

after(async () => {
  if (client) client.close();
  if (keel) await keel.stop();
  if (echo) echo.shutdown();
  S.finish();
});

S.step('the client is routed to v1 per the VirtualService from the API server', 30000, async () => {
  await expectRoutedTo('v1', 20000);
  const dump = await keel.configDump(NODE_ID);
  const clusters = dump.xds.CDS.resources.map((r) => r.name);
  assert.ok(clusters.includes(`outbound|${echo.port}|v1|echo.${NS}.svc.cluster.local`), `clusters: ${clusters}`);
});

S.step('kubectl apply of an edited VirtualService moves traffic to v2', 20000, async () => {
  await kube.apply(virtualService('v2'));
  await expectRoutedTo('v2');
});

S.step('kubectl delete of the VirtualService: default route over both Pods', 20000, async () => {
  await kube.kubectl(['-n', NS, 'delete', 'virtualservice', 'echo']);
  await waitFor('calls to reach both v1 and v2', 15000, 50, async () => {
    const seen = new Set(await answers(client, 6));
    return seen.has('v1') && seen.has('v2');
  });
});

S.step('a Pod status patched to not Ready leaves the endpoints', 20000, async () => {
  await kube.patchPodStatus(NS, 'echo-v1', '127.0.0.2', false);
  await waitFor('20 calls in a row to answer v2', 15000, 100, async () =>
    (await answers(client, 20)).every((a) => a === 'v2'),
  );
  await kube.patchPodStatus(NS, 'echo-v1', '127.0.0.2', true);
  await waitFor('v1 to be back', 15000, 50, async () => (await answers(client, 6)).includes('v1'));
});

S.step('kubectl delete of a Pod removes it; no NACK anywhere', 20000, async () => {
  await kube.kubectl(['-n', NS, 'delete', 'pod', 'echo-v2', '--wait=true', '--timeout=20s']);
  await waitFor('20 calls in a row to answer v1', 15000, 100, async () =>
    (await answers(client, 20)).every((a) => a === 'v1'),
  );
  const nacks = keel.linesSince(0).filter((l) => l.includes('NACK'));
  assert.deepEqual(nacks, [], 'keel logged a NACK');
});
