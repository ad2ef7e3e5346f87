"""--config-dir files built to crash a YAML reader, at startup and while serving.

Before (issue 13): `a: &x [*x]` crashed keel-discovery (SIGSEGV, recursion in
AppendNode), at startup too, so a crash loop; a 40,000-digit plain scalar
overflowed the stack inside std::regex; `"a",b` sent yaml-cpp into an endless
loop of empty documents (keel never became ready, its memory grew). Now each such file is refused with a
message naming the file and line (log and /debug/push_status keel_invalid_config),
and keel keeps serving the other files and the last good version of that file.
Run: KEEL_DISCOVERY_BIN=... build/venv/bin/python -m pytest test/e2e/hostile_yaml_test.py
"""

import json
import os

import pytest
from keeltest import keel_on_bookinfo, process_rss, wait_until, write_atomically


HOSTILE = {
    "cycle.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: cycle}\nspec: &x\n  ports: [*x]\n",
    "number.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: number}\nspec:\n  ports:\n  - port: "
                   + "9" * 40000 + "\n",
    "laughs.yaml": "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
                   + "".join(f"l{i}: &l{i} [{', '.join([f'*{p}'] * 10)}]\n"
                             for i, p in enumerate(["a"] + [f"l{j}" for j in range(1, 9)], start=1)),
    "deep.yaml": "a: " + "[" * 100000 + "]" * 100000 + "\n",
    "loop.yaml": '"a",b\n',  # yaml-cpp 0.7 starts empty documents there forever
}


@pytest.fixture(scope="module")
def keel():
    with keel_on_bookinfo("keel-hostile-yaml-", HOSTILE, ["--disable-ca"]) as k:
        yield k


def invalid_config(keel):
    status, body = keel.get("/debug/push_status")
    assert status == 200, body
    return json.loads(body).get("keel_invalid_config", {})


def services(keel):
    status, body = keel.get("/debug/configz")
    assert status == 200, body
    return {o["metadata"]["name"] for o in json.loads(body) if o["kind"] == "Service"}


def test_hostile_files_at_startup_are_refused_naming_file_and_line(keel):
    assert keel.process.poll() is None
    errors = invalid_config(keel)
    assert errors["cycle.yaml"]["message"].startswith(
        "line 5, column 11: alias *x refers to a node that contains it (a cycle)"), errors
    assert errors["number.yaml"]["message"].startswith(
        "line 6, column 11: number 99999999999999999999... (40000 characters) is too large for a double"), errors
    assert "aliases expand to more than 100000 nodes" in errors["laughs.yaml"]["message"], errors
    assert "nested more than 100 levels deep" in errors["deep.yaml"]["message"], errors
    rss = process_rss(keel.process.pid)
    print(f"RSS with the hostile files refused: {rss >> 20} MiB")
    assert rss < 100 << 20, f"{rss >> 20} MiB"  # the billion laughs alone would be gigabytes
    assert errors["loop.yaml"]["message"].startswith(
        "line 1, column 4: the YAML parser stopped making progress here"), errors
    log = keel.log()
    assert "invalid config: cycle.yaml: line 5, column 11: alias *x" in log
    # The rest is served.
    assert {"productpage", "reviews", "ratings", "details"} <= services(keel)
    assert not {"cycle", "number"} & services(keel)


def test_a_served_file_turned_hostile_keeps_its_last_good_version(keel):
    path = os.path.join(keel.config_dir, "services.yaml")
    with open(path) as f:
        good = f.read()
    before = services(keel)
    write_atomically(path, good + "---\nkind: Service\nspec: &s {ports: [*s]}\n")
    wait_until(lambda: "services.yaml" in invalid_config(keel), 10, "services.yaml in keel_invalid_config")
    assert "cycle" in invalid_config(keel)["services.yaml"]["message"]
    assert keel.process.poll() is None
    assert services(keel) == before
    assert keel.get("/ready")[0] == 200
    write_atomically(path, good)
    wait_until(lambda: "services.yaml" not in invalid_config(keel), 10, "services.yaml error to clear")
    assert services(keel) == before
