"""Keel's xDS against istiod's, resource by resource: the differential test's engine.

Both sides are what one proxy of a golden case receives, as {"listeners", "routes",
"clusters", "endpoints", "secrets"}: lists of resources in protojson. Keel's is the
case's <proxy>.golden.json (golden_test proves it is what Keel serves now); istiod's
is what test/e2e/istio_tools/configgen wrote from Istio's own discovery server.

Resources pair by name (clusterName for endpoints). Before comparing, lists whose
order Envoy ignores are sorted (SET_LISTS); lists of named elements (filters,
httpFilters, clusters of a weighted route ...) pair by name, and their order is
compared on its own. A difference is reported at a path whose list indices are
generalised: `[name=X]` for named elements, `[]` for the others, e.g.
    clusters[outbound|9080||reviews.default.svc.cluster.local].commonLbConfig.healthyPanicThreshold
An allow-list entry {path, reason, node (optional, "case/proxy")} covers the
differences its patterns match (`*` matches anything, every other character itself).

    python test/e2e/istiod_diff.py KEEL_GOLDEN_ROOT ISTIOD_OUT [--allow FILE] [--paths]
"""

import argparse
import json
import os
import re
import sys

import yaml

TYPES = ("listeners", "routes", "clusters", "endpoints", "secrets")
NAME_KEY = {"endpoints": "clusterName"}

# Lists whose order Envoy does not look at: sorted before comparing.
SET_LISTS = {
    "domains", "serverNames", "applicationProtocols", "matchSubjectAltNames", "subjectAltNames",
    "prefixRanges", "sourcePrefixRanges", "lbEndpoints", "virtualHosts", "filterChains", "endpoints",
    "alpnProtocols", "audiences", "principals",
}


def canonical(v):
    return json.dumps(v, sort_keys=True, separators=(",", ":"))


def named(items):
    """Keys for a list of named elements (every element an object with a "name"):
    the name, or NAME#k for the k-th element of a name several share (the RBAC
    filters of one chain). None for any other list."""
    if not items or not all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items):
        return None
    seen, keys = {}, []
    for i in items:
        k = seen.get(i["name"], 0)
        seen[i["name"]] = k + 1
        keys.append(i["name"] if k == 0 else f"{i['name']}#{k}")
    return keys


# The sort key of those lists' elements where the whole element would pair unlike
# elements: a filter chain is known by its match, an endpoint by its address.
SORT_KEY = {
    "filterChains": lambda c: canonical(c.get("filterChainMatch", {})) + c.get("name", ""),
    "lbEndpoints": lambda e: canonical(e.get("endpoint", {}).get("address", {})),
    "endpoints": lambda e: canonical([e.get("locality", {}), e.get("priority", 0)]),
    "virtualHosts": lambda v: v.get("name", ""),
}


def normalise(v, key=""):
    if isinstance(v, dict):
        return {k: normalise(f, k) for k, f in v.items()}
    if isinstance(v, list):
        items = [normalise(i) for i in v]
        if key in SET_LISTS:
            sort_key = SORT_KEY.get(key, canonical)
            items.sort(key=lambda i: sort_key(i) if isinstance(i, dict) else canonical(i))
        return items
    return v


def diff(a, b, path, out):
    """Appends (path, what) for every difference between Keel's a and istiod's b."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            p = f"{path}.{k}"
            if k not in b:
                out.append((p, "only in keel: " + short(a[k])))
            elif k not in a:
                out.append((p, "only in istiod: " + short(b[k])))
            else:
                diff(a[k], b[k], p, out)
        return
    if isinstance(a, list) and isinstance(b, list):
        na, nb = named(a), named(b)
        if na is not None and nb is not None:
            ia, ib = dict(zip(na, a)), dict(zip(nb, b))
            for n in na:
                if n not in ib:
                    out.append((f"{path}[name={n}]", "only in keel"))
            for n in nb:
                if n not in ia:
                    out.append((f"{path}[name={n}]", "only in istiod"))
            common = [n for n in na if n in ib]
            if common != [n for n in nb if n in ia]:
                out.append((f"{path}[]", f"order: keel {common}, istiod {[n for n in nb if n in ia]}"))
            for n in common:
                diff(ia[n], ib[n], f"{path}[name={n}]", out)
            return
        if len(a) != len(b):
            out.append((f"{path}[]", f"length: keel {len(a)}, istiod {len(b)}"))
        for x, y in zip(a, b):
            diff(x, y, f"{path}[]", out)
        return
    if a != b:
        out.append((path, f"keel {short(a)}, istiod {short(b)}"))


def short(v, limit=160):
    s = canonical(v)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def pattern(p):
    return re.compile("^" + re.escape(p).replace(r"\*", ".*") + "$")


def load_allow(path):
    if not path:
        return []
    with open(path) as f:
        entries = yaml.safe_load(f) or []
    for e in entries:
        assert e.get("path") and e.get("reason"), f"{path}: every entry needs a path and a reason: {e}"
        e["re"] = pattern(e["path"])
        e["node_re"] = pattern(e.get("node", "*"))
        e["used"] = 0
    return entries


def compare_proxy(keel, istiod):
    """Per type: counts, common names, identical names, and the differences."""
    result = {}
    for t in TYPES:
        key = NAME_KEY.get(t, "name")
        # The golden renders each resource from its Any, so it carries the Any's @type.
        ka = {r.get(key, ""): normalise({k: v for k, v in r.items() if k != "@type"}) for r in keel.get(t) or []}
        ib = {r.get(key, ""): normalise(r) for r in istiod.get(t) or []}
        diffs = []
        for n in sorted(set(ka) - set(ib)):
            diffs.append((f"{t}[{n}]", "only in keel"))
        for n in sorted(set(ib) - set(ka)):
            diffs.append((f"{t}[{n}]", "only in istiod"))
        common = sorted(set(ka) & set(ib))
        identical = 0
        for n in common:
            d = []
            diff(ka[n], ib[n], f"{t}[{n}]", d)
            identical += not d
            diffs.extend(d)
        result[t] = {"keel": len(ka), "istiod": len(ib), "common": len(common), "identical": identical,
                     "diffs": diffs}
    return result


def compare_all(golden_root, istiod_root, allow):
    """[(case, proxy, result)] for every proxy istiod's side rendered."""
    out = []
    for case in sorted(os.listdir(istiod_root)):
        for f in sorted(os.listdir(os.path.join(istiod_root, case))):
            proxy = f[: -len(".json")]
            with open(os.path.join(istiod_root, case, f)) as fh:
                istiod = json.load(fh)
            with open(os.path.join(golden_root, case, proxy + ".golden.json")) as fh:
                keel = json.load(fh)
            result = compare_proxy(keel, istiod)
            for r in result.values():
                r["unexplained"] = []
                for p, what in r["diffs"]:
                    node = f"{case}/{proxy}"
                    hit = next((e for e in allow if e["re"].match(p) and e["node_re"].match(node)), None)
                    if hit:
                        hit["used"] += 1
                    else:
                        r["unexplained"].append((p, what))
            out.append((case, proxy, result))
    return out


def generalise(p):
    """A path with resource names replaced by *, to group one difference across resources."""
    return re.sub(r"^(\w+)\[[^\]]*\]", r"\1[*]", p)


def report(results, allow, show_paths=False, stream=sys.stdout):
    w = stream.write
    w(f"{'case/proxy':58} {'type':9} {'keel':>4} {'istiod':>6} {'common':>6} {'identical':>9}\n")
    tot = {"common": 0, "identical": 0, "keel": 0, "istiod": 0}
    for case, proxy, result in results:
        for t, r in result.items():
            if r["keel"] == 0 and r["istiod"] == 0:
                continue
            w(f"{case + '/' + proxy:58} {t:9} {r['keel']:4} {r['istiod']:6} {r['common']:6} {r['identical']:9}\n")
            for k in tot:
                tot[k] += r[k]
    pct = 100.0 * tot["identical"] / max(1, tot["common"])
    w(f"{'total':58} {'':9} {tot['keel']:4} {tot['istiod']:6} {tot['common']:6} {tot['identical']:9}"
      f"  ({pct:.1f}% of common resources identical)\n")
    groups = {}
    for case, proxy, result in results:
        for r in result.values():
            for p, what in r["unexplained"]:
                groups.setdefault(generalise(p), []).append((f"{case}/{proxy}", p, what))
    if groups:
        w(f"\n{len(groups)} differences not in the allow-list (path: first occurrence; count):\n")
        for g, hits in sorted(groups.items()):
            node, p, what = hits[0]
            w(f"  {g}\n      {node}: {what}  [{len(hits)}x]\n")
    unused = [e["path"] for e in allow if not e["used"]]
    if unused:
        w("\nallow-list entries that matched nothing (remove them):\n" + "".join(f"  {p}\n" for p in unused))
    if show_paths:
        w("\nall differences:\n")
        for case, proxy, result in results:
            for r in result.values():
                for p, what in r["diffs"]:
                    w(f"  {case}/{proxy} {p}: {what}\n")
    return tot, groups, unused


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("golden_root")
    ap.add_argument("istiod_root")
    ap.add_argument("--allow")
    ap.add_argument("--paths", action="store_true", help="also list every difference")
    args = ap.parse_args()
    allow = load_allow(args.allow)
    _, groups, unused = report(compare_all(args.golden_root, args.istiod_root, allow), allow, args.paths)
    sys.exit(1 if groups or unused else 0)


if __name__ == "__main__":
    main()
