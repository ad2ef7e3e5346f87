'use strict';
// The same objects through --config-dir and through the API server give the same
// xDS: two keel-discovery processes (one --config-dir DIR, one --kubeconfig after
// `kubectl apply` of the same files and the Pod status patches a kubelet would
// make), one grpc-js-xds client on each with the same node id, and their
// /debug/config_dump resources compared (versions and nonces ignored).
//
//   ctest -R integration.kube_parity

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const { resolveBin, waitFor, randSuffix } = require('../e2e/lib/common');
const { Keel } = require('../e2e/lib/keel');
const kube = require('../e2e/lib/kube');
const W = require('../e2e/lib/watched');
const { startEchoServers, xdsClient, who } = require('../e2e/lib/xds');
const { Steps } = require('../e2e/lib/steps');

const S = new Steps('kube_parity');
const NS = `kp-${randSuffix()}`;
const EXT_HOST = `ext-${NS}.example.com`; // hosts are global: unique, so other tests' ServiceEntries cannot merge in
// One node id per dialled target: with a per-channel bootstrap each grpc-js-xds
// channel has its own XdsClient (its own ADS stream), and config_dump shows one
// stream per node id. The same ids are used on both keels.
const nodeId = (i) => `sidecar~127.0.0.1~client-${i}.${NS}~${NS}.svc.cluster.local`;
const BACKENDS = [
  { name: 'v1', ip: '127.0.0.2' },
  { name: 'v2', ip: '127.0.0.3' },
];
const side = { file: {}, kube: {} }; // per source: keel, clients
let echo;

// Explicit cluster IPs, or the API server's allocation would differ from the file's
// none (the IP is one of the route's domains).
const IP3 = 180 + Math.floor(Math.random() * 70);
const CLUSTER_IP = { echo: `10.96.${IP3}.${10 + Math.floor(Math.random() * 100)}`, api: `10.96.${IP3}.${120 + Math.floor(Math.random() * 100)}` };

function files(P) {
  const pod = (b) => `apiVersion: v1
kind: Pod
metadata: {name: echo-${b.name}, namespace: ${NS}, labels: {app: echo, version: ${b.name}}}
spec: {containers: [{name: echo, image: keel.test/echo, ports: [{name: grpc-echo, containerPort: ${P}}]}]}
status:
  phase: Running
  podIP: ${b.ip}
  podIPs: [{ip: ${b.ip}}]
  conditions: [{type: Ready, status: "True"}]
`;
  return {
    'namespace.yaml': `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${NS}}\n`,
    'echo.yaml': `apiVersion: v1
kind: Service
metadata: {name: echo, namespace: ${NS}, labels: {app: echo}}
spec:
  selector: {app: echo}
  clusterIP: ${CLUSTER_IP.echo}
  ports: [{name: grpc-echo, port: ${P}, targetPort: grpc-echo}]
---
${BACKENDS.map(pod).join('---\n')}`,
    'api.yaml': `apiVersion: v1
kind: Service
metadata: {name: api, namespace: ${NS}}
spec:
  clusterIP: ${CLUSTER_IP.api}
  ports: [{name: grpc, port: 8080, targetPort: 9090}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: api-x1, namespace: ${NS}, labels: {kubernetes.io/service-name: api}}
addressType: IPv4
ports: [{name: grpc, port: 9090, protocol: TCP}]
endpoints:
- {addresses: [10.60.0.1], conditions: {ready: true}, zone: z1}
- {addresses: [10.60.0.2], conditions: {ready: false}}
`,
    'ext.yaml': `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: ${NS}}
spec:
  hosts: [${EXT_HOST}]
  ports: [{number: 443, name: grpc, protocol: GRPC}]
  resolution: STATIC
  location: MESH_EXTERNAL
  endpoints: [{address: 10.70.0.1}, {address: 10.70.0.2, weight: 3}]
`,
    'rules.yaml': `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: ${NS}}
spec:
  host: echo
  # (No outlierDetection: Keel leaves Cluster.outlier_detection.enforcing_success_rate
  # unset, which turns success-rate ejection on, and grpc-js-xds 1.14.1 then throws
  # "Reduce of empty array" from a timer. Istio sets enforcing_success_rate = 0.)
  trafficPolicy:
    connectionPool: {http: {http2MaxRequests: 100}}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}, trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user}}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: ${NS}}
spec:
  hosts: [echo]
  http:
  - match: [{headers: {x-canary: {exact: "yes"}}}]
    route: [{destination: {host: echo, subset: v2}}]
    retries: {attempts: 3, retryOn: unavailable}
  - route:
    - {destination: {host: echo, subset: v1}, weight: 90}
    - {destination: {host: echo, subset: v2}, weight: 10}
    timeout: 5s
    fault: {delay: {fixedDelay: 1ms, percentage: {value: 0.5}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: ${NS}}
spec:
  hosts: [api]
  http: [{route: [{destination: {host: api, port: {number: 8080}}}], timeout: 2s}]
`,
  };
}

// config_dump -> {TYPE: {subscribed, resources sorted by name}}, without versions/nonces.
function normalized(dump) {
  const out = {};
  for (const [type, w] of Object.entries(dump.xds)) {
    const resources = [...w.resources].sort((a, b) => String(a.name).localeCompare(String(b.name)));
    out[type] = { subscribed: [...w.subscribed].sort(), acked: w.acked, nack: w.lastNack || null, resources };
  }
  return out;
}

function firstDifference(a, b, where = '') {
  if (JSON.stringify(a) === JSON.stringify(b)) return null;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) {
    return `${where}: ${JSON.stringify(a)?.slice(0, 300)} != ${JSON.stringify(b)?.slice(0, 300)}`;
  }
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const d = firstDifference(a[k], b[k], `${where}.${k}`);
    if (d) return d;
  }
  return null;
}

before(async () => {
  kube.kubeEnv();
  await kube.ensureCrds();
  echo = await startEchoServers(BACKENDS);
});

after(async () => {
  for (const s of Object.values(side)) {
    for (const c of s.clients || []) c.close();
    if (s.keel) await s.keel.stop();
  }
  if (echo) echo.shutdown();
  S.finish();
});

S.step('one keel on --config-dir, one on --kubeconfig after kubectl apply of the same files', 60000, async () => {
  const dir = path.join(S.workDir, 'config');
  fs.mkdirSync(dir);
  const f = files(echo.port);
  for (const [name, text] of Object.entries(f)) fs.writeFileSync(path.join(dir, name), text);
  await kube.kubectl(['apply', '-f', path.join(dir, 'namespace.yaml')]);
  await kube.kubectl(['apply', '-f', dir]);
  for (const b of BACKENDS) await kube.patchPodStatus(NS, `echo-${b.name}`, b.ip);

  const bin = resolveBin(__filename);
  [side.file.keel, side.kube.keel] = await Promise.all([
    Keel.start({ bin, args: ['--config-dir', dir], label: 'keel-file' }),
    Keel.start({ bin, args: ['--kubeconfig', process.env.KUBECONFIG, '--disable-ca'], label: 'keel-kube' }),
  ]);
  S.watch(side.file.keel);
  S.watch(side.kube.keel);
  await W.waitConverged(side.kube.keel, 15000, [NS]);
});

S.step('a grpc-js-xds client on each (same node id) is served and routed', 40000, async () => {
  const P = echo.port;
  const targets = [`echo.${NS}.svc.cluster.local:${P}`, `api.${NS}.svc.cluster.local:8080`, `${EXT_HOST}:443`];
  for (const [name, s] of Object.entries(side)) {
    s.clients = targets.map((t, i) => xdsClient(t, s.keel.grpcPort, nodeId(i), NS));
    for (const c of s.clients.slice(1)) c.getChannel().getConnectivityState(true); // resolve: subscribe
    await waitFor(`${name}: a call to echo to succeed`, 20000, 100, async () => (await who(s.clients[0])).ok);
  }
});

S.step('config_dump resources are identical (versions and nonces aside)', 40000, async (t) => {
  const complete = (d) => ['LDS', 'RDS', 'CDS', 'EDS'].every((type) => d[type] && d[type].acked && d[type].resources.length > 0);
  const counts = [];
  for (let i = 0; i < 3; i++) {
    let diff = null;
    let dumps;
    await waitFor(`node ${i}: both config_dumps complete (LDS/RDS/CDS/EDS acked) and equal`, 20000, 250, async () => {
      dumps = {};
      for (const [name, s] of Object.entries(side)) dumps[name] = normalized(await s.keel.configDump(nodeId(i)));
      diff = firstDifference(dumps.file, dumps.kube, 'xds');
      return complete(dumps.file) && complete(dumps.kube) && !diff;
    }).catch((e) => {
      throw new Error(`${e.message}\nfirst difference (file vs kube): ${diff}\nfile: ${JSON.stringify(dumps && dumps.file).slice(0, 800)}`);
    });
    const eds = JSON.stringify(dumps.kube.EDS.resources);
    const want = [['127.0.0.2', '127.0.0.3'], ['10.60.0.1'], ['10.70.0.1', '10.70.0.2']][i];
    for (const ip of want) assert.ok(eds.includes(ip), `node ${i}: EDS lacks ${ip}: ${eds.slice(0, 500)}`);
    counts.push(Object.entries(dumps.kube).map(([type, w]) => `${type} ${w.resources.length}`).join(' '));
  }
  t.diagnostic(`identical per node: ${counts.join(' | ')}`);
});
