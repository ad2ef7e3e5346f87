'use strict';
// kubectl and kube-harness.sh for tests against the real kube-apiserver of
// test/harness (ctest's `kube` fixture sets KUBECONFIG, KEEL_KUBE_DIR and
// KEEL_KUBE_HARNESS). Every call is asynchronous (a blocked event loop would stop
// draining keel-discovery's output pipes) and bounded.

const { execFile } = require('node:child_process');
const path = require('node:path');

const { REPO_ROOT, waitFor } = require('./common');

// The kind registry (pilot/model/kinds.yaml as the build emits it: KEEL_KINDS_JSON) and
// the CRDs the chart installs (Istio's own, staged in <build>/charts/keel: KEEL_ISTIO_CRDS).
function buildFile(variable) {
  const file = process.env[variable];
  if (!file) throw new Error(`${variable} is not set: run through ctest (keel_kube_test sets it)`);
  return file;
}
const kinds = () => JSON.parse(require('node:fs').readFileSync(buildFile('KEEL_KINDS_JSON'), 'utf8')).kinds;
const istioKinds = () => kinds().filter((k) => k.group.endsWith('istio.io'));
// "virtualservices.networking.istio.io", ... for every Istio kind of the registry.
const crdNames = () => istioKinds().map((k) => `${k.plural}.${k.group}`);
// Read-only RBAC rules (YAML, for a ClusterRole) on every kind of the registry: what
// keel-discovery needs to watch with --disable-ca.
function watchRulesYaml() {
  const byGroup = new Map();
  for (const k of kinds()) byGroup.set(k.group, [...(byGroup.get(k.group) || []), k.plural]);
  return [...byGroup]
    .map(([g, plurals]) => `- apiGroups: ["${g}"]\n  resources: [${plurals.join(', ')}]\n  verbs: [get, list, watch]\n`)
    .join('');
}

function kubeEnv() {
  const env = {
    kubeconfig: process.env.KUBECONFIG,
    dir: process.env.KEEL_KUBE_DIR,
    harness: process.env.KEEL_KUBE_HARNESS || path.join(REPO_ROOT, 'test', 'harness', 'kube-harness.sh'),
  };
  if (!env.kubeconfig || !env.dir) {
    throw new Error(
      'KUBECONFIG and KEEL_KUBE_DIR are not set: run through ctest (fixture "kube"), or start a harness:\n' +
        '  test/harness/kube-harness.sh start /tmp/kube && eval "$(test/harness/kube-harness.sh env /tmp/kube)"',
    );
  }
  return env;
}

function run(file, args, { input, timeoutMs = 30000, env } = {}) {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      { timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024, env: { ...process.env, ...(env || {}) } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr, killed: !!(err && err.killed) });
      },
    );
    if (input !== undefined) child.stdin.end(input);
  });
}

// kubectl ARGS; throws with its stderr unless it succeeds (or allowFail).
async function kubectl(args, { input, kubeconfig, timeoutMs = 30000, allowFail = false } = {}) {
  const kc = kubeconfig || kubeEnv().kubeconfig;
  const r = await run('kubectl', ['--kubeconfig', kc, '--request-timeout=20s', ...args], { input, timeoutMs });
  if (r.code !== 0 && !allowFail) {
    throw new Error(`kubectl ${args.join(' ')} failed (${r.killed ? 'timed out' : `exit ${r.code}`}): ${r.stderr.trim()}`);
  }
  return r;
}

const apply = (yaml, opts = {}) => kubectl(['apply', '-f', '-'], { ...opts, input: yaml });

async function getJson(args, opts = {}) {
  const r = await kubectl(['get', ...args, '-o', 'json'], opts);
  return JSON.parse(r.stdout);
}

// kube-harness.sh CMD $KEEL_KUBE_DIR (stop-apiserver, start-apiserver, compact, ...).
async function harness(cmd, timeoutMs = 120000) {
  const { harness: h, dir } = kubeEnv();
  const r = await run(h, [cmd, dir], { timeoutMs });
  if (r.code !== 0) throw new Error(`kube-harness.sh ${cmd} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return r.stdout.trim();
}

// Applies Istio's CRDs and waits until every Istio kind of the registry is Established.
// (Not `kubectl wait`: on a CRD created a moment ago it fails with ".status.conditions
// accessor error: <nil>" instead of waiting.)
async function ensureCrds() {
  await kubectl(['apply', '--server-side', '--force-conflicts', '-f', buildFile('KEEL_ISTIO_CRDS')], { timeoutMs: 60000 });
  const names = crdNames();
  let pending = names;
  await waitFor('the Istio CRDs to be Established', 60000, 200, async () => {
    const list = JSON.parse((await kubectl(['get', 'crd', '-o', 'json'])).stdout);
    const established = new Set(
      list.items
        .filter((c) => ((c.status && c.status.conditions) || []).some((x) => x.type === 'Established' && x.status === 'True'))
        .map((c) => c.metadata.name),
    );
    pending = names.filter((n) => !established.has(n));
    if (pending.length) throw new Error(`not yet: ${pending.join(', ')}`);
    return true;
  });
}

// Deletes Istio's CRDs (and so every Istio object) and waits until they are gone.
async function deleteCrds() {
  const names = crdNames();
  await kubectl(['delete', '--ignore-not-found', '--wait=true', '--timeout=90s', '-f', buildFile('KEEL_ISTIO_CRDS')],
    { timeoutMs: 100000 });
  await waitFor('the Istio CRDs to be gone', 30000, 250, async () => {
    const r = await kubectl(['get', 'crd', '-o', 'name'], { allowFail: true });
    return r.code === 0 && !names.some((n) => r.stdout.includes(n));
  });
}

// No kubelet runs: a Pod's IP and readiness are whatever its status says.
function patchPodStatus(ns, name, ip, ready = true, opts = {}) {
  const status = {
    status: {
      phase: 'Running',
      podIP: ip,
      podIPs: [{ ip }],
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    },
  };
  return kubectl(['-n', ns, 'patch', 'pod', name, '--subresource=status', '--type=merge', '-p', JSON.stringify(status)], opts);
}

// Namespaces stay Terminating without kube-controller-manager; deleting one for
// real means emptying spec.finalizers through the finalize subresource afterwards.
async function deleteNamespace(ns, opts = {}) {
  await kubectl(['delete', 'namespace', ns, '--wait=false'], opts);
  const body = JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns }, spec: { finalizers: [] } });
  await kubectl(['replace', '--raw', `/api/v1/namespaces/${ns}/finalize`, '-f', '-'], { ...opts, input: body });
}

module.exports = {
  kinds,
  istioKinds,
  crdNames,
  watchRulesYaml,
  kubeEnv,
  kubectl,
  apply,
  getJson,
  harness,
  ensureCrds,
  deleteCrds,
  patchPodStatus,
  deleteNamespace,
  run,
};
