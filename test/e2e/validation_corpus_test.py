"""Keel's validation against Istio's own: a corpus of Istio objects
(test/e2e/testdata/validation-corpus/, one per file, each headed "# want: valid" or
"# want: invalid" with the reason) judged by the real `istioctl validate -f` (built from
the pinned istio.io/istio by test/e2e/istio_tools/build.sh) and by keel-discovery, which
validates at ingestion exactly as its /validate webhook does (config::ParseConfigObject):
a file Keel refuses is listed in /debug/push_status keel_invalid_config. Every file must
get its `want` from both; a disagreement fails naming the file and both verdicts.
Run: KEEL_DISCOVERY_BIN=... KEEL_TOOLS_DIR=build/tools/bin \
    build/venv/bin/python -m pytest test/e2e/validation_corpus_test.py
"""

import json
import os
import re
import subprocess
import tempfile

import pytest
from keeltest import keel_discovery

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata", "validation-corpus")
ISTIOCTL = os.path.join(os.environ.get("KEEL_TOOLS_DIR", "build/tools/bin"), "istioctl")


def corpus():
    out = {}
    for name in sorted(os.listdir(CORPUS)):
        with open(os.path.join(CORPUS, name)) as f:
            m = re.match(r"# want: (valid|invalid)\b", f.readline())
        assert m, f"{name}: the first line must be '# want: valid' or '# want: invalid'"
        out[name] = m.group(1)
    return out


@pytest.fixture(scope="module")
def keel_invalid():
    """The corpus files keel-discovery refused, as /debug/push_status names them."""
    with tempfile.TemporaryDirectory(prefix="keel-validation-") as tmp:
        with keel_discovery(["--config-dir", CORPUS], os.path.join(tmp, "keel.log")) as k:
            status, body = k.get("/debug/push_status")
            assert status == 200, body
            errors = json.loads(body).get("keel_invalid_config", {})
    return {key.split("#")[0]: v["message"] for key, v in errors.items()}


def test_the_corpus_has_both_verdicts():
    wants = set(corpus().values())
    assert wants == {"valid", "invalid"}, "a corpus of one verdict cannot tell validators apart"


@pytest.mark.parametrize("name", sorted(corpus()))
def test_keel_and_istioctl_agree_with_the_files_verdict(name, keel_invalid):
    want = corpus()[name]
    assert os.access(ISTIOCTL, os.X_OK), f"{ISTIOCTL}: run test/e2e/istio_tools/build.sh (scripts/dev.sh test does)"
    run = subprocess.run([ISTIOCTL, "validate", "-f", os.path.join(CORPUS, name)], capture_output=True, text=True,
                         timeout=60)
    istioctl = "valid" if run.returncode == 0 else "invalid"
    keel = "invalid" if name in keel_invalid else "valid"
    assert (istioctl, keel) == (want, want), (
        f"{name}: want {want}; istioctl says {istioctl} ({(run.stdout + run.stderr).strip()}), "
        f"Keel says {keel} ({keel_invalid.get(name, 'accepted')})")
