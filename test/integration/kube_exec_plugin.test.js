'use strict';
// keel-discovery authenticating with an exec credential plugin
// (client.authentication.k8s.io/v1 ExecCredential, as EKS users do with
// `aws eks get-token`). The plugin is a bash stub that prints a ServiceAccount
// token with an expirationTimestamp and appends to a counter file on each run.
//
// RBAC: the ServiceAccount is bound to a ClusterRole with exactly what keel needs
// with --disable-ca: get/list/watch on every kind of the registry
// (kube.watchRulesYaml, from pilot/model/kinds.yaml). (The CA
// would also need to create/update ConfigMaps and Secrets and create TokenReviews.)
//
// Checked: the 401 path (the first run prints a bad token: one 401 wave must cost
// one more run, not one per failed request), caching (dozens of requests, 2 runs),
// and refresh once the credential expired (the apiserver is restarted so every
// informer reconnects with a stale credential).
//
// EXCLUSIVE (ctest RUN_SERIAL): restarts the shared apiserver.
//   ctest -R integration.kube_exec_plugin

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const { resolveBin, waitFor, sleep, randSuffix } = require('../e2e/lib/common');
const { Keel } = require('../e2e/lib/keel');
const kube = require('../e2e/lib/kube');
const W = require('../e2e/lib/watched');
const { Steps } = require('../e2e/lib/steps');

const S = new Steps('kube_exec_plugin');
const NS = `ke-${randSuffix()}`;
const SA = 'keel-exec';
const TTL_S = 20; // keel refreshes 10 s before expiry: a run stays good for ~10 s
let keel;
let pluginDir;
let server; // the apiserver URL

const runs = () =>
  fs.existsSync(path.join(pluginDir, 'runs'))
    ? fs.readFileSync(path.join(pluginDir, 'runs'), 'utf8').trim().split('\n').filter(Boolean).map(Number)
    : [];

const PLUGIN = `#!/usr/bin/env bash
# Stub credential plugin: run 1 prints a bad token (to exercise 401 -> refresh);
# later runs print the ServiceAccount token valid for KEEL_TEST_TTL seconds.
set -euo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
date +%s.%N >>"$dir/runs"
printf '%s\\n' "\${KUBERNETES_EXEC_INFO:-}" >"$dir/exec-info.json"
if [[ $(wc -l <"$dir/runs") -eq 1 ]]; then
  token=not-a-valid-token
  exp=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
else
  token=$(<"$dir/token")
  exp=$(date -u -d "+\${KEEL_TEST_TTL} seconds" +%Y-%m-%dT%H:%M:%SZ)
fi
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}\\n' "$token" "$exp"
`;

const vs = (name) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${NS}}
spec: {hosts: [${name}], http: [{route: [{destination: {host: ${name}}}]}]}
`;

before(async () => {
  kube.kubeEnv();
  await kube.ensureCrds();
});

after(async () => {
  await kube.harness('start-apiserver').catch((e) => process.stderr.write(`${e.message}\n`));
  if (keel) await keel.stop();
  S.finish();
});

S.step('set-up: ServiceAccount with read-only RBAC, its token, the plugin and an exec kubeconfig', 60000, async () => {
  await kube.apply(`apiVersion: v1
kind: Namespace
metadata: {name: ${NS}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: ${SA}, namespace: ${NS}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: keel-watch-${NS}}
rules:
${kube.watchRulesYaml()}---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: keel-watch-${NS}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: keel-watch-${NS}}
subjects: [{kind: ServiceAccount, name: ${SA}, namespace: ${NS}}]
`);
  const token = (await kube.kubectl(['-n', NS, 'create', 'token', SA, '--duration=1h'])).stdout.trim();
  // The token really is limited: it may list pods but not create them.
  const can = async (verb, res) =>
    (await kube.kubectl(['auth', 'can-i', verb, res, `--as=system:serviceaccount:${NS}:${SA}`], { allowFail: true })).stdout.trim();
  assert.equal(await can('list', 'pods'), 'yes');
  assert.equal(await can('create', 'pods'), 'no');

  pluginDir = path.join(S.workDir, 'plugin');
  fs.mkdirSync(pluginDir);
  fs.writeFileSync(path.join(pluginDir, 'token'), token, { mode: 0o600 });
  fs.writeFileSync(path.join(pluginDir, 'keel-credential-plugin'), PLUGIN, { mode: 0o755 });

  const admin = JSON.parse((await kube.kubectl(['config', 'view', '--raw', '-o', 'json'])).stdout);
  const cluster = admin.clusters[0].cluster;
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: cluster.server, 'certificate-authority-data': cluster['certificate-authority-data'] } }],
    users: [{
      name: 'exec',
      user: {
        exec: {
          apiVersion: 'client.authentication.k8s.io/v1',
          command: './plugin/keel-credential-plugin', // relative: resolved against the kubeconfig's dir
          env: [{ name: 'KEEL_TEST_TTL', value: String(TTL_S) }],
          provideClusterInfo: true,
          interactiveMode: 'Never',
        },
      },
    }],
    contexts: [{ name: 'exec', context: { cluster: 'c', user: 'exec' } }],
    'current-context': 'exec',
  };
  fs.writeFileSync(path.join(S.workDir, 'kubeconfig'), JSON.stringify(kubeconfig, null, 1)); // JSON is YAML
  server = cluster.server;
});

S.step('keel syncs through the plugin: 2 runs (bad token, 401, one refresh), then cached', 60000, async (t) => {
  keel = S.watch(
    await Keel.start({ bin: resolveBin(__filename), args: ['--kubeconfig', path.join(S.workDir, 'kubeconfig'), '--disable-ca'] }),
  );
  await kube.apply(vs('first'));
  await waitFor('VirtualService first in configz', 15000, 200, async () =>
    W.configzIndex(await keel.configz()).has(W.keyOf('VirtualService', NS, 'first')),
  );
  const watches = Keel.metricSum(await keel.metrics(), 'keel_kube_watches_total');
  t.diagnostic(`plugin runs: ${runs().length}; API requests so far: 10 lists + ${watches} watches`);
  assert.equal(runs().length, 2, 'the plugin should have run exactly twice (bad token, then one refresh after the 401s)');

  const info = JSON.parse(fs.readFileSync(path.join(pluginDir, 'exec-info.json'), 'utf8'));
  assert.equal(info.apiVersion, 'client.authentication.k8s.io/v1');
  assert.equal(info.kind, 'ExecCredential');
  assert.equal(info.spec.interactive, false);
  assert.equal(info.spec.cluster.server, server, 'provideClusterInfo: spec.cluster.server');
});

S.step('after expiry, reconnecting informers refresh the credential once per expiry', 120000, async (t) => {
  const last = runs()[runs().length - 1];
  // Let the credential go stale (keel refreshes within 10 s of expiry).
  await sleep(Math.max(0, (last + TTL_S - 10) * 1000 - Date.now()) + 1000);
  const before1 = runs().length;
  const t0 = Date.now() / 1000;
  await kube.harness('stop-apiserver');
  await kube.harness('start-apiserver');
  await kube.apply(vs('second'));
  await waitFor('VirtualService second in configz', 75000, 250, async () =>
    W.configzIndex(await keel.configz()).has(W.keyOf('VirtualService', NS, 'second')),
  );
  const elapsed = Date.now() / 1000 - t0;
  const extra = runs().length - before1;
  // Informers retry (and ask for a credential) all through the outage: at most one
  // run per (TTL - 10 s) window, plus one.
  const bound = Math.ceil(elapsed / (TTL_S - 10)) + 1;
  t.diagnostic(`${extra} plugin runs over ${elapsed.toFixed(1)} s of outage + reconnect (bound ${bound}); ` +
    `run times: ${runs().map((r) => (r - runs()[0]).toFixed(1)).join(', ')} s`);
  assert.ok(extra >= 1, 'the stale credential was not refreshed');
  assert.ok(extra <= bound, `the plugin ran ${extra} times in ${elapsed.toFixed(1)} s: not cached`);
  assert.equal((await keel.get('/ready')).status, 200);
});
