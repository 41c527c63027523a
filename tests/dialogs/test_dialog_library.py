"""The scripts library: listing, lookup, fixed lines, and the validator catching broken scripts."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dialogs.library import LIBRARY_DIR, ScriptNotFound, all_fixed_lines, load_script, script_for, validate_library
from dialogs.script import ScriptError, load_flow_file

ROOT = Path(__file__).resolve().parents[2]


def test_library_is_valid_and_complete():
    scripts, problems = validate_library()
    assert not problems, "\n".join(map(str, problems))
    ids = {s.id for s in scripts}
    for group in ("collections_m0", "collections_m1", "collections_m2", "collections_voicemail",
                  "telesales_reborrow", "telesales_limit_increase", "telesales_reactivation"):
        for lang in ("zh", "en"):
            variants = {i for i in ids if i.startswith(f"{group}_{lang}_")}
            assert len(variants) >= 2, (group, lang, variants)


def test_list_json_contract():
    out = subprocess.run([sys.executable, "-m", "agent.cli", "scripts", "list", "--json"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0 or not out.stdout.strip():  # agent.cli has no __main__ guard: call main()
        out = subprocess.run([sys.executable, "-c", "from agent.cli import main; main()", "scripts", "list", "--json"],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    rows = json.loads(out.stdout)
    assert rows and all(set(r) == {"id", "purpose", "bucket", "product", "language", "variant"} for r in rows)
    m1 = next(r for r in rows if r["id"] == "collections_m1_zh_a")
    assert m1 == {"id": "collections_m1_zh_a", "purpose": "collections", "bucket": "M1", "product": None,
                  "language": "zh", "variant": "a"}
    re = next(r for r in rows if r["id"] == "telesales_limit_increase_en_b")
    assert re["product"] == "limit_increase" and re["bucket"] is None


def test_script_for():
    assert script_for("collections", "M1", "zh") == "collections_m1_zh_a"
    assert script_for("collections", "M4", "en", "b") == "collections_m2_en_b"  # M2+ buckets share m2
    assert script_for("telesales", "reborrow", "zh", "b") == "telesales_reborrow_zh_b"
    assert script_for("collections", "voicemail", "en") == "collections_voicemail_en_a"
    with pytest.raises(ScriptNotFound):
        script_for("collections", "M1", "fr")
    with pytest.raises(ScriptNotFound):
        load_script("collections_m9_zh_a")


def test_fixed_lines_for_presynthesis():
    lines = all_fixed_lines()
    ids = [line_id for line_id, _, _ in lines]
    assert len(ids) == len(set(ids))
    assert ("collections_m1_en_a.mini_miranda",
            "This is an attempt to collect a debt and any information obtained will be used for that purpose.",
            "en") in lines
    assert not any(i.startswith("collections_m1_zh_a.mini_miranda") for i in ids)  # en only
    assert all("{" not in text for _, text, _ in lines)
    assert {lang for _, _, lang in lines} == {"zh", "en"}


# ---------------------------------------------------------------- the validator must catch broken scripts
def _broken_library(tmp_path: Path, edit) -> Path:
    root = tmp_path / "lib"
    shutil.copytree(LIBRARY_DIR / "collections", root / "collections")
    path = root / "collections" / "m1.yaml"
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    return root


@pytest.mark.parametrize("edit,message", [
    (lambda s: s.replace("    next: ask_full", "    next: ask_fulll"), "'ask_fulll' is not a node"),
    (lambda s: s.replace("nodes:\n  state_debt:", "nodes:\n  orphan: {say: state_overdue, on: {affirm: ask_full}}\n"
                         "  state_debt:"), "unreachable"),
    (lambda s: s.replace("nodes:\n  state_debt:\n    say: state_overdue\n    next: ask_full",
                         "nodes:\n  state_debt:\n    say: state_overdue\n    next: loop\n"
                         "  loop: {say: state_overdue, on: {affirm: loop}}"), "dead end"),
    (lambda s: s.replace("nodes:\n  state_debt:", "globals:\n  affirmm: end_refused\nnodes:\n  state_debt:"),
     "unknown intent 'affirmm'"),
    (lambda s: s.replace("{days_past_due} days overdue.\"", "{days_overdue} days overdue.\""),
     "undefined placeholder {days_overdue}"),
    (lambda s: s.replace("    zh: \"您有一笔{balance}", "    zz: \"您有一笔{balance}"), "state_overdue.zz"),
    (lambda s: s.replace("    say: state_overdue\n", "    say: [state_overdue, nothing_here]\n"),
     "line 'nothing_here' is not defined"),
])
def test_validator_reports_file_and_line(tmp_path, edit, message):
    root = _broken_library(tmp_path, edit)
    scripts, problems = validate_library(root)
    text = "\n".join(map(str, problems))
    assert message in text, text
    assert all(":" in p.where and p.where.split(":")[-1].isdigit() for p in problems)


def test_missing_translation_and_traditional_chars(tmp_path):
    root = _broken_library(tmp_path, lambda s: s.replace(
        "    zh: \"您有一笔{balance}的还款，还款日是{due_date}，现在已经逾期{days_past_due}天了。\"\n", "")
        .replace("今天还上可以避免影响您的信用记录。请问您今天能全额还款吗？", "請問您今天能全額還款嗎？"))
    _, problems = validate_library(root)
    text = "\n".join(map(str, problems))
    assert "line 'state_overdue' has no zh text (missing translation)" in text
    assert "traditional characters" in text
    assert "m1.yaml:" in text
    root = _broken_library(tmp_path / "dup", lambda s: s.replace(
        "      ask_full:\n        en:", "      ask_full:\n        zh: \"重复\"\n        en:"))
    _, problems = validate_library(root)
    assert "duplicate key 'zh'" in "\n".join(map(str, problems))


def test_compliance_checks(tmp_path):
    common = LIBRARY_DIR / "collections" / "_common.yaml"

    def edit_common(fn):
        root = tmp_path / fn.__name__
        shutil.copytree(LIBRARY_DIR / "collections", root / "collections")
        p = root / "collections" / "_common.yaml"
        p.write_text(fn(common.read_text(encoding="utf-8")), encoding="utf-8")
        return "\n".join(map(str, validate_library(root)[1]))

    def debt_before_verification(s):  # the opening asks for payment straight away
        return s.replace("    say: [greeting, recorded, ask_identity]",
                         "    say: [greeting, recorded, tell_balance, ask_identity]")

    def no_miranda(s):
        return s.replace("    say: [thanks_verified, mini_miranda]", "    say: [thanks_verified]")

    def templated_disclosure(s):
        return s.replace('en: "This call is recorded."', 'en: "This call with {name} is recorded."')

    def no_opt_out(s):
        return s.replace("  end_opt_out: {say: opt_out, end: true, outcome: opted_out, actions: [record_opt_out]}",
                         "  end_opt_out: {say: opt_out, end: true, outcome: opted_out}")

    def missing_handler(s):
        return s.replace("  scam_suspicion: {say: scam_answer, stay: true, max: 2, then: end_scam}\n", "") \
            .replace("  end_scam: {say: scam_goodbye, end: true, outcome: callback, "
                     "actions: [{kind: schedule_callback}]}\n", "")

    assert "mentions the debt before right-party verification" in edit_common(debt_before_verification)
    assert "mini-Miranda" in edit_common(no_miranda)
    assert "must be fixed text" in edit_common(templated_disclosure)
    assert "record_opt_out" in edit_common(no_opt_out)
    assert "no global handler for 'scam_suspicion'" in edit_common(missing_handler)


def test_invalid_yaml_and_schema_errors_have_lines(tmp_path):
    bad = tmp_path / "x.yaml"
    bad.write_text("flow: {purpose: collections, bucket: M1}\nnodes:\n  a: {say: [x], bogus: 1}\nstart: a\n"
                   "fallback: a\n", encoding="utf-8")
    with pytest.raises(ScriptError) as exc:
        load_flow_file(bad)
    assert f"{bad}:3" in str(exc.value) and "bogus" in str(exc.value)
    bad.write_text("flow: {purpose: collections\n", encoding="utf-8")
    with pytest.raises(ScriptError) as exc:
        load_flow_file(bad)
    assert "invalid YAML" in str(exc.value)


def test_validate_cli_exit_codes(tmp_path):
    cmd = [sys.executable, "-c", "from agent.cli import main; main()", "scripts", "validate"]
    ok = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    root = _broken_library(tmp_path, lambda s: s.replace("    next: ask_full", "    next: nowhere"))
    bad = subprocess.run(cmd + [str(root)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "m1.yaml:" in bad.stdout and "Traceback" not in bad.stderr
