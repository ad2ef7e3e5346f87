"""The differential test: Keel's xDS against istiod's for every golden case.

For each case under test/pilot/networking/testdata/, Istio's own discovery server
(test/e2e/istio_tools/configgen: istio.io/istio/pilot/test/xds from the pinned module,
in process) is given the case's objects and asked, over ADS, for what each proxy of
the case receives; Keel's answer is the case's <proxy>.golden.json, which golden_test
proves is what Keel serves today. istiod_diff.py pairs the resources by name and
compares them after normalisation. The table (per proxy and type: counts, common
names, identical resources) is printed; the test fails on a difference that
test/e2e/testdata/istiod-diff-allowlist.yaml does not explain, and on an allow-list
entry that no longer matches anything (so the list shrinks as differences close).
Run: KEEL_TOOLS_DIR=build/tools/bin build/venv/bin/python -m pytest -s test/e2e/istiod_diff_test.py
"""

import os
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import istiod_diff  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CASES = os.path.join(REPO, "test", "pilot", "networking", "testdata")
ALLOW = os.path.join(REPO, "test", "e2e", "testdata", "istiod-diff-allowlist.yaml")
CONFIGGEN = os.path.join(os.environ.get("KEEL_TOOLS_DIR", os.path.join(REPO, "build", "tools", "bin")),
                         "istiod-configgen")


def case_dirs():
    return sorted(os.path.join(CASES, d) for d in os.listdir(CASES) if os.path.exists(os.path.join(CASES, d, "case.yaml")))


@pytest.fixture(scope="module")
def compared():
    assert os.access(CONFIGGEN, os.X_OK), f"{CONFIGGEN}: run test/e2e/istio_tools/build.sh (scripts/dev.sh test does)"
    with tempfile.TemporaryDirectory(prefix="keel-istiod-diff-") as out:
        run = subprocess.run([CONFIGGEN, "--repo", REPO, "--out", out, *case_dirs()], capture_output=True, text=True,
                             timeout=300)
        assert run.returncode == 0, f"configgen failed:\n{run.stderr[-4000:]}"
        allow = istiod_diff.load_allow(ALLOW)
        results = istiod_diff.compare_all(CASES, out, allow)
    tot, groups, unused = istiod_diff.report(results, allow)
    return {"results": results, "groups": groups, "unused": unused, "total": tot}


def test_istiod_renders_every_proxy_of_every_case(compared):
    rendered = {(c, p) for c, p, _ in compared["results"]}
    for d in case_dirs():
        for f in os.listdir(d):
            if f.endswith(".golden.json"):
                assert (os.path.basename(d), f[: -len(".golden.json")]) in rendered


def test_every_difference_from_istiod_is_explained(compared):
    lines = [f"{g}\n    {hits[0][0]}: {hits[0][2]}" for g, hits in sorted(compared["groups"].items())]
    assert not lines, ("differences from istiod that istiod-diff-allowlist.yaml does not explain "
                       "(close them, or add an entry saying why):\n" + "\n".join(lines))


def test_every_allow_list_entry_still_matches(compared):
    assert not compared["unused"], f"allow-list entries that match nothing now (remove them): {compared['unused']}"

