'use strict';
// keel-discovery --kubeconfig against the real kube-apiserver of test/harness:
// the Istio CRDs install, and /debug/configz follows create, update and delete of
// every watched kind made with kubectl.
//
//   ctest -R integration.kube_watch     (or, with a harness already running:)
//   eval "$(test/harness/kube-harness.sh env /tmp/kube)"
//   KEEL_DISCOVERY_BIN=build/pilot/keel-discovery node --test test/integration/kube_watch.test.js

const { before, after } = require('node:test');
const assert = require('node:assert/strict');

const { resolveBin, waitFor, randSuffix } = require('../e2e/lib/common');
const { Keel } = require('../e2e/lib/keel');
const kube = require('../e2e/lib/kube');
const { SYSTEM_NS, WATCHED, keyOf, configzIndex, waitConverged } = require('../e2e/lib/watched');
const { Steps } = require('../e2e/lib/steps');

const S = new Steps('kube_watch');
const NS = `kw-${randSuffix()}`;
const WAIT_MS = 15000; // a change must reach configz within this (it normally takes < 1 s)
let keel;

before(async () => {
  kube.kubeEnv();
  await kube.apply(`apiVersion: v1\nkind: Namespace\nmetadata: {name: ${SYSTEM_NS}}\n---\n` +
    `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${NS}}\n`);
});

after(async () => {
  if (keel) await keel.stop();
  S.finish();
});

// Waits until configz holds `key` at the resourceVersion the API server reports
// (and `check(obj)` holds), or, with rv === null, until configz no longer has key.
async function expectConfigz(key, rv, check = () => true) {
  let seen = 'absent';
  await waitFor(`configz ${key} ${rv === null ? 'to be gone' : `at rv ${rv}`}`, WAIT_MS, 150, async () => {
    const idx = configzIndex(await keel.configz());
    const e = idx.get(key);
    seen = e ? `rv ${e.rv}: ${JSON.stringify(e.obj).slice(0, 400)}` : 'absent';
    if (rv === null) return !e;
    return e && e.rv === rv && check(e.obj);
  }).catch((e) => {
    throw new Error(`${e.message}; configz has ${seen}`);
  });
}

async function rvOf(args) {
  return (await kube.getJson(args)).metadata.resourceVersion;
}

// create -> update -> delete of one object, each followed in configz.
async function crud(t, { kind, name, ns = NS, resource, create, update, checkCreate, checkUpdate, del }) {
  const key = keyOf(kind, kind === 'Namespace' ? '' : ns, name);
  const nsArgs = kind === 'Namespace' ? [] : ['-n', ns];
  const t0 = Date.now();
  await kube.apply(create);
  await expectConfigz(key, await rvOf([resource, name, ...nsArgs]), checkCreate);
  const t1 = Date.now();
  await update();
  await expectConfigz(key, await rvOf([resource, name, ...nsArgs]), checkUpdate);
  const t2 = Date.now();
  if (del) await del();
  else await kube.kubectl(['delete', resource, name, ...nsArgs, '--wait=true', '--timeout=30s']);
  await expectConfigz(key, null);
  t.diagnostic(`${kind}: create ${t1 - t0} ms, update ${t2 - t1} ms, delete ${Date.now() - t2} ms (incl. kubectl)`);
}

S.step("CRDs: Istio's CRD file applies and serves every Istio kind of the registry at its versions", 90000, async () => {
  await kube.ensureCrds();
  const kinds = kube.istioKinds();
  assert.equal(kinds.length, 15, 'the registry has 15 Istio kinds (istio.io/api v1.32.0)');
  for (const k of kinds) {
    const name = `${k.plural}.${k.group}`;
    const crd = await kube.getJson(['crd', name]);
    const established = (crd.status.conditions || []).find((c) => c.type === 'Established');
    assert.equal(established && established.status, 'True', `${name} is not Established`);
    assert.equal(crd.spec.names.kind, k.kind, `${name}: kind`);
    assert.equal(crd.spec.scope, k.clusterScoped ? 'Cluster' : 'Namespaced', `${name}: scope`);
    const served = crd.spec.versions.filter((v) => v.served).map((v) => v.name);
    assert.deepEqual([...served].sort(), [...k.versions].sort(), `${name}: served versions`);
  }
});

S.step('keel-discovery --kubeconfig becomes ready and its configz matches kubectl', 60000, async (t) => {
  keel = S.watch(
    await Keel.start({ bin: resolveBin(__filename), args: ['--kubeconfig', process.env.KUBECONFIG, '--disable-ca'], label: 'keel' }),
  );
  t.diagnostic(`ready ${keel.readyAt - keel.startedAt} ms after start`);
  // Other tests may change their own namespaces meanwhile: compare these.
  await waitConverged(keel, WAIT_MS, [NS, 'default', 'kube-system', 'kube-public']);
});

S.step('Namespace: create, label, delete (+ finalize) followed', 60000, async (t) => {
  const name = `${NS}-extra`;
  await crud(t, {
    kind: 'Namespace',
    name,
    resource: 'namespace',
    create: `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${name}, labels: {step: one}}\n`,
    update: () => kube.kubectl(['label', 'namespace', name, 'step=two', '--overwrite']),
    checkUpdate: (o) => o.metadata.labels.step === 'two',
    del: () => kube.deleteNamespace(name),
  });
});

S.step('Service: create, change port, delete followed', 60000, async (t) => {
  const svc = (port) => `apiVersion: v1
kind: Service
metadata: {name: web, namespace: ${NS}, labels: {app: web}}
spec:
  selector: {app: web}
  ports: [{name: http, port: ${port}, targetPort: 8080}]
`;
  await crud(t, {
    kind: 'Service',
    name: 'web',
    resource: 'service',
    create: svc(80),
    checkCreate: (o) => o.spec.ports[0].port === 80 && /^10\.96\./.test(o.spec.clusterIP),
    update: () => kube.apply(svc(8000)),
    checkUpdate: (o) => o.spec.ports[0].port === 8000,
  });
});

S.step('Pod: create, status patch (IP, Ready), relabel, delete followed', 60000, async (t) => {
  await crud(t, {
    kind: 'Pod',
    name: 'web-0',
    resource: 'pod',
    create: `apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: ${NS}, labels: {app: web, version: v1}}
spec:
  containers: [{name: web, image: keel.test/web, ports: [{name: http, containerPort: 8080}]}]
`,
    checkCreate: (o) => o.metadata.labels.version === 'v1',
    update: async () => {
      await kube.patchPodStatus(NS, 'web-0', '10.44.0.7');
      await kube.kubectl(['-n', NS, 'label', 'pod', 'web-0', 'version=v2', '--overwrite']);
    },
    checkUpdate: (o) =>
      o.metadata.labels.version === 'v2' &&
      o.status.podIP === '10.44.0.7' &&
      o.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True'),
  });
});

S.step('EndpointSlice: create, change endpoints, delete followed', 60000, async (t) => {
  const slice = (ips) => `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abcde, namespace: ${NS}, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints:
${ips.map((ip) => `- {addresses: [${ip}], conditions: {ready: true}}`).join('\n')}
`;
  await crud(t, {
    kind: 'EndpointSlice',
    name: 'web-abcde',
    resource: 'endpointslices.discovery.k8s.io',
    create: slice(['10.44.0.7']),
    checkCreate: (o) => o.endpoints.length === 1,
    update: () => kube.apply(slice(['10.44.0.7', '10.44.0.8'])),
    checkUpdate: (o) => o.endpoints.map((e) => e.addresses[0]).join(',') === '10.44.0.7,10.44.0.8',
  });
});

// configz shows a Secret's metadata and type, never its data: a change of data is
// seen as the new resourceVersion (crud waits for the API server's).
S.step('Secret: create, change data, delete followed; Helm release Secrets are not watched', 60000, async (t) => {
  // Filtered out by keel's field selector: must never show up.
  await kube.kubectl(['-n', NS, 'create', 'secret', 'generic', 'sh.helm.release.v1.x.v1', '--type=helm.sh/release.v1',
    '--from-literal=release=abc']);
  const secret = (v) => `apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: ${NS}}
type: Opaque
stringData: {password: ${v}}
`;
  const noData = (o) => o.type === 'Opaque' && !('data' in o) && !('stringData' in o);
  await crud(t, {
    kind: 'Secret',
    name: 'creds',
    resource: 'secret',
    create: secret('one'),
    checkCreate: noData,
    update: () => kube.apply(secret('two')),
    checkUpdate: noData,
  });
  const idx = configzIndex(await keel.configz());
  assert.ok(!idx.has(keyOf('Secret', NS, 'sh.helm.release.v1.x.v1')), 'a helm.sh/release.v1 Secret reached configz');
});

S.step(`ConfigMap in ${SYSTEM_NS}: create, change, delete followed; other namespaces are not watched`, 60000, async (t) => {
  const name = `mesh-${NS}`;
  await kube.kubectl(['-n', NS, 'create', 'configmap', 'not-watched', '--from-literal=a=b']);
  const cm = (v) => `apiVersion: v1
kind: ConfigMap
metadata: {name: ${name}, namespace: ${SYSTEM_NS}}
data: {value: "${v}"}
`;
  await crud(t, {
    kind: 'ConfigMap',
    name,
    ns: SYSTEM_NS,
    resource: 'configmap',
    create: cm('one'),
    checkCreate: (o) => !('data' in o), // metadata only: a change is seen as the new resourceVersion
    update: () => kube.apply(cm('two')),
    checkUpdate: (o) => !('data' in o),
  });
  const idx = configzIndex(await keel.configz());
  assert.ok(!idx.has(keyOf('ConfigMap', NS, 'not-watched')), `a ConfigMap outside ${SYSTEM_NS} reached configz`);
});

const ISTIO = 'networking.istio.io';

S.step('Gateway: create, change, delete followed', 60000, async (t) => {
  const gw = (host) => `apiVersion: ${ISTIO}/v1
kind: Gateway
metadata: {name: gw, namespace: ${NS}}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["${host}"]}]
`;
  await crud(t, {
    kind: 'Gateway',
    name: 'gw',
    resource: `gateways.${ISTIO}`,
    create: gw('a.example.com'),
    checkCreate: (o) => o.spec.servers[0].hosts[0] === 'a.example.com',
    update: () => kube.apply(gw('b.example.com')),
    checkUpdate: (o) => o.spec.servers[0].hosts[0] === 'b.example.com',
  });
});

S.step('VirtualService (v1beta1 apiVersion): create, change, delete followed', 60000, async (t) => {
  const vs = (subset) => `apiVersion: ${ISTIO}/v1beta1
kind: VirtualService
metadata: {name: web, namespace: ${NS}}
spec:
  hosts: [web]
  http: [{route: [{destination: {host: web, subset: ${subset}}}]}]
`;
  await crud(t, {
    kind: 'VirtualService',
    name: 'web',
    resource: `virtualservices.${ISTIO}`,
    create: vs('v1'),
    checkCreate: (o) => o.spec.http[0].route[0].destination.subset === 'v1',
    update: () => kube.apply(vs('v2')),
    checkUpdate: (o) => o.spec.http[0].route[0].destination.subset === 'v2',
  });
});

S.step('DestinationRule: create, change, delete followed', 60000, async (t) => {
  const dr = (lb) => `apiVersion: ${ISTIO}/v1
kind: DestinationRule
metadata: {name: web, namespace: ${NS}}
spec:
  host: web
  trafficPolicy: {loadBalancer: {simple: ${lb}}}
  subsets: [{name: v1, labels: {version: v1}}]
`;
  await crud(t, {
    kind: 'DestinationRule',
    name: 'web',
    resource: `destinationrules.${ISTIO}`,
    create: dr('ROUND_ROBIN'),
    checkCreate: (o) => o.spec.trafficPolicy.loadBalancer.simple === 'ROUND_ROBIN',
    update: () => kube.apply(dr('LEAST_REQUEST')),
    checkUpdate: (o) => o.spec.trafficPolicy.loadBalancer.simple === 'LEAST_REQUEST',
  });
});

S.step('ServiceEntry: create, change, delete followed', 60000, async (t) => {
  const se = (port) => `apiVersion: ${ISTIO}/v1
kind: ServiceEntry
metadata: {name: ext, namespace: ${NS}}
spec:
  hosts: [ext.example.com]
  ports: [{number: ${port}, name: tls, protocol: TLS}]
  resolution: DNS
`;
  await crud(t, {
    kind: 'ServiceEntry',
    name: 'ext',
    resource: `serviceentries.${ISTIO}`,
    create: se(443),
    checkCreate: (o) => o.spec.ports[0].number === 443,
    update: () => kube.apply(se(8443)),
    checkUpdate: (o) => o.spec.ports[0].number === 8443,
  });
});

S.step('no invalid objects, no 410, one list per kind; keel is still ready', 20000, async () => {
  const m = await keel.metrics();
  // (Tests running alongside may add invalid objects on purpose: only ours count.)
  const rejected = keel.linesSince(0).filter((l) => l.includes('invalid config') && l.includes(`${NS}/`));
  assert.deepEqual(rejected, [], 'an object of this test was rejected as invalid');
  assert.equal(Keel.metricSum(m, 'keel_kube_gone_total'), 0, 'a watch got 410 Gone with the apiserver up');
  const lists = Keel.metricSum(m, 'keel_kube_lists_total');
  assert.equal(lists, WATCHED.length, `expected one list per watched kind (${WATCHED.length}), got ${lists}`);
  assert.equal((await keel.get('/ready')).status, 200);
});
