"""Finding 1: `extends` in POST /api/scripts/validate must not open, quote or probe files outside the
library's own base fragments."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from dialogs.script import ScriptError, load_flow_file
from tests.security.conftest import auth

pytestmark = pytest.mark.db

SECRET = "TOP-SECRET-7f3a9c"


def flow_text(base: str) -> str:
    return ("flow: {purpose: collections, bucket: M1, languages: [en]}\n"
            f"extends: {json.dumps(base)}\nstart: opening\n")


def _spellings(target: Path) -> list[str]:
    rel = os.path.relpath(target, tempfile.gettempdir())
    up = "../" * 12
    return [
        str(target),                                     # absolute
        "../" + rel,                                     # relative from the scratch folder
        up + str(target).lstrip("/"),                    # climbing far
        ("..\\" * 12) + str(target).lstrip("/").replace("/", "\\"),
        "_common.yaml/../../" + rel,                     # a base name, then out
        "./../" + rel,
        "%2e%2e/" + rel,                                 # URL-encoded dots (taken literally)
        "....//" + rel,
        "~/" + target.name,
        "file://" + str(target),
        "*",                                             # a glob
        "..",
        "/etc/passwd",
        up + "etc/passwd",
        "/proc/self/environ",
    ]


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "_secret.yaml"
    path.write_text(f"lines:\n  oops: [{SECRET}\n  broken: {SECRET}: yes\n", encoding="utf-8")
    return path


def test_no_spelling_of_extends_reads_a_file_outside_the_library(env, secret_file):
    c, key = env["client"], env["keys"]["crm"]  # the lowest scope
    answers = set()
    for base in _spellings(secret_file) + _spellings(secret_file.with_name("_missing.yaml")):
        r = c.post("/api/scripts/validate", json={"yaml": flow_text(base)}, headers=auth(key))
        assert r.status_code == 200, (base, r.text[:300])
        body = r.json()
        assert body["valid"] is False
        assert SECRET not in r.text and "root:" not in r.text and str(secret_file.parent) not in r.text
        answers.add(tuple(body["errors"]))
    # an existing file and a missing one get the same answer: no probing for files
    assert len(answers) == 1, answers
    assert "only the library's base fragments" in next(iter(answers))[0]


def test_the_library_base_fragment_still_works_and_names_only_bare_files(env):
    c, key = env["client"], env["keys"]["crm"]
    text = (Path(__file__).resolve().parents[2] / "scripts_library" / "collections" / "m1.yaml").read_text()
    r = c.post("/api/scripts/validate", json={"yaml": text}, headers=auth(key))
    assert r.status_code == 200 and r.json()["valid"] is True, r.text[:500]
    broken = text.replace("start:", "start: nowhere\nxstart:", 1) if "start:" in text else text + "\nnodes: 5\n"
    r = c.post("/api/scripts/validate", json={"yaml": broken}, headers=auth(key))
    body = r.json()
    assert body["valid"] is False
    assert all("/tmp" not in e and "dw-script" not in e and "scripts_library" not in e for e in body["errors"])


@pytest.mark.parametrize("name", ["../x.yaml", "/etc/passwd", "sub/_a.yaml", "_a.yaml/..", "common.yaml", "_a.txt"])
def test_the_loader_refuses_extends_that_is_not_a_sibling_fragment(tmp_path, name, secret_file):
    flow = tmp_path / "flows" / "f.yaml"
    flow.parent.mkdir()
    flow.write_text(flow_text(name), encoding="utf-8")
    with pytest.raises(ScriptError) as err:
        load_flow_file(flow)
    assert SECRET not in str(err.value.problems)


def test_the_loader_refuses_a_link_out_of_the_folder(tmp_path, secret_file):
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "_common.yaml").symlink_to(secret_file)
    flow = folder / "f.yaml"
    flow.write_text(flow_text("_common.yaml"), encoding="utf-8")
    with pytest.raises(ScriptError) as err:
        load_flow_file(flow)
    assert "no such base fragment" in str(err.value.problems[0]) and SECRET not in str(err.value.problems)
