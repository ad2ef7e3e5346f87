'use strict';
// What keel-discovery watches on the API server (pilot/config/kube_source.cc), and
// indexes of "kind/namespace/name" -> resourceVersion from both sides, so a test can
// compare /debug/configz with `kubectl get`.

const { getJson, kinds } = require('./kube');

const SYSTEM_NS = 'istio-system';

// kind (as in configz) -> how kubectl lists what keel watches of it: one entry per row
// of the kind registry (pilot/model/kinds.yaml, as KEEL_KINDS_JSON).
const WATCHED = kinds().map((k) => {
  const resource = k.group ? `${k.plural}.${k.group}` : k.plural;
  return {
    kind: k.kind,
    resource,
    clusterScoped: !!k.clusterScoped,
    fieldSelector: k.fieldSelector,
    onlyNamespace: k.systemNamespaceOnly ? SYSTEM_NS : undefined,
    metric: resource,  // keel_kube_events_total{resource}
  };
});

const keyOf = (kind, ns, name) => `${kind}/${ns || ''}/${name}`;

// configz array -> Map key -> {rv, obj}.
function configzIndex(configz) {
  const out = new Map();
  for (const o of configz) {
    const m = o.metadata || {};
    out.set(keyOf(o.kind, o.kind === 'Namespace' ? '' : m.namespace, m.name), { rv: m.resourceVersion, obj: o });
  }
  return out;
}

// What the API server has of every watched kind: Map key -> {rv, obj}.
async function clusterIndex(opts = {}) {
  const out = new Map();
  for (const w of WATCHED) {
    const args = [w.resource];
    args.push(...(w.onlyNamespace ? ['-n', w.onlyNamespace] : w.clusterScoped ? [] : ['-A']));
    if (w.fieldSelector) args.push(`--field-selector=${w.fieldSelector}`);
    const list = await getJson(args, opts);
    for (const o of list.items) {
      const m = o.metadata;
      out.set(keyOf(w.kind, w.clusterScoped ? '' : m.namespace, m.name), { rv: m.resourceVersion, obj: o });
    }
  }
  return out;
}

// Restricts an index to the given namespaces (and those Namespace objects).
function inNamespaces(index, namespaces) {
  const set = new Set(namespaces);
  const out = new Map();
  for (const [k, v] of index) {
    const [kind, ns, name] = k.split('/');
    if (kind === 'Namespace' ? set.has(name) : set.has(ns)) out.set(k, v);
  }
  return out;
}

// Differences between two indexes as readable lines ([] when equal by resourceVersion).
function diffIndexes(want, got, wantName = 'kubectl', gotName = 'configz') {
  const lines = [];
  for (const [k, v] of want) {
    if (!got.has(k)) lines.push(`missing in ${gotName}: ${k} (rv ${v.rv})`);
    else if (got.get(k).rv !== v.rv) lines.push(`stale in ${gotName}: ${k} rv ${got.get(k).rv}, ${wantName} has ${v.rv}`);
  }
  for (const [k, v] of got) if (!want.has(k)) lines.push(`extra in ${gotName}: ${k} (rv ${v.rv}), not in ${wantName}`);
  return lines.sort();
}

// Per watched kind, the events a relist from `before` to `after` must deliver:
// {kind: {ADDED, MODIFIED, DELETED}}.
function expectedEvents(before, after) {
  const out = {};
  for (const w of WATCHED) out[w.kind] = { ADDED: 0, MODIFIED: 0, DELETED: 0 };
  for (const [k, v] of after) {
    const kind = k.split('/')[0];
    if (!before.has(k)) out[kind].ADDED++;
    else if (before.get(k).rv !== v.rv) out[kind].MODIFIED++;
  }
  for (const k of before.keys()) if (!after.has(k)) out[k.split('/')[0]].DELETED++;
  return out;
}

// Compares keel_kube_events_total deltas (metrics Maps from Keel.metrics()) with
// `want` from expectedEvents(); also keel_kube_applied_events_total with their sum.
// Returns {ok, rows} (rows: readable lines, for failures and diagnostics).
function compareEvents(m0, m1, want) {
  const { Keel } = require('./keel');
  const delta = (name, labels) => Keel.metricSum(m1, name, labels) - Keel.metricSum(m0, name, labels);
  const rows = [];
  let ok = true;
  let total = 0;
  for (const w of WATCHED) {
    for (const type of ['ADDED', 'MODIFIED', 'DELETED']) {
      const got = delta('keel_kube_events_total', { resource: w.metric, type });
      const exp = want[w.kind][type];
      total += exp;
      if (got !== exp) ok = false;
      if (got || exp) rows.push(`${w.kind} ${type}: delivered ${got}, expected ${exp}${got !== exp ? '  <==' : ''}`);
    }
  }
  const applied = delta('keel_kube_applied_events_total', {});
  if (applied !== total) ok = false;
  rows.push(`applied to the store: ${applied}, expected ${total}`);
  return { ok, rows };
}

// Waits (bounded) until keel's configz equals `kubectl get` of every watched kind
// by resourceVersion (only `namespaces`, if given); returns the cluster index.
async function waitConverged(keel, timeoutMs, namespaces = null) {
  const { waitFor } = require('./common');
  let diff = [];
  let cluster;
  const scope = (idx) => (namespaces ? inNamespaces(idx, namespaces) : idx);
  await waitFor(`configz to equal kubectl get (${namespaces ? namespaces.join(', ') : 'whole cluster'})`, timeoutMs, 250,
    async () => {
      cluster = await clusterIndex();
      diff = diffIndexes(scope(cluster), scope(configzIndex(await keel.configz())));
      return diff.length === 0;
    }).catch((e) => {
    throw new Error(`${e.message}:\n  ${diff.join('\n  ')}`);
  });
  return cluster;
}

module.exports = {
  waitConverged,
  compareEvents, SYSTEM_NS, WATCHED, keyOf, configzIndex, clusterIndex, inNamespaces, diffIndexes, expectedEvents };
