"""`dialwise converse --jsonl`: the JSON-lines protocol, flushing through live pipes, account files, errors."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from dialogs.converse import run_jsonl
from dialogs.library import load_script, sample_account
from nlu.types import Understanding

ROOT = Path(__file__).resolve().parents[2]
TODAY = date(2026, 11, 16)
CLI = [sys.executable, "-c", "from agent.cli import main; main()"]


def keyword_classify(text: str, lang: str, context=None, today=None) -> Understanding:
    """A tiny deterministic stand-in for nlu.classify, enough to exercise the protocol."""
    t = text.lower()
    ents: dict = {}
    digits = "".join(ch for ch in t if ch.isdigit())
    if len(digits) == 4 and context == "id_last4":
        ents["last4"] = digits
    if "saturday" in t or "周六" in t:
        ents["date"] = "2026-11-21"
    for word, intent in (("stop", "stop_calling"), ("别再", "stop_calling"), ("no", "deny"), ("不", "deny"),
                         ("yes", "affirm"), ("是", "affirm"), ("对", "affirm"), ("can't", "cannot_pay"),
                         ("没钱", "cannot_pay")):
        if word in t:
            return Understanding(intent, 0.9, text=text, lang=lang, entities=ents)
    return Understanding("out_of_scope", 0.9, text=text, lang=lang, entities=ents)


def _run(script_id: str, lines: list[dict]) -> list[dict]:
    script = load_script(script_id)
    out = io.StringIO()
    stdin = io.StringIO("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines))
    run_jsonl(script, sample_account(script.language, TODAY), TODAY, stdin, out, keyword_classify)
    return [json.loads(x) for x in out.getvalue().splitlines()]


def test_protocol_to_a_promise_en():
    rows = _run("collections_m1_en_a", [{"text": "yes"}, {"text": "1234"}, {"text": "I can't"}, {"dtmf": "1"},
                                        {"text": "no, Saturday"}, {"text": "yes"}])
    assert rows[0] == {"node": "opening", "say": rows[0]["say"], "actions": []}
    assert rows[0]["say"].startswith("Hello, this is the automated assistant")
    assert [r.get("node") for r in rows[:-1]] == ["opening", "ask_last4", "ask_full", "offer_part", "readback_part",
                                                   "readback_part", "ptp_close"]
    assert "Saturday the 21st" in rows[5]["say"]
    link = {"kind": "send_sms_link", "params": {"amount": 600.0, "date": "2026-11-21", "plan": "part"}}
    assert link in rows[6]["actions"]
    assert rows[-1] == {"outcome": "ptp", "slots": rows[-1]["slots"]}
    assert rows[-1]["slots"]["pay_date"] == "2026-11-21" and "given_last4" not in rows[-1]["slots"]


def test_protocol_silence_eof_and_bad_lines_zh():
    rows = _run("collections_m1_zh_a", [{"silence": True}, {"oops": 1}, {"text": "是我"}])
    assert "您还在听吗" in rows[1]["say"] and " " not in rows[1]["say"]  # zh lines are joined without spaces
    assert "error" in rows[2]
    assert rows[3]["node"] == "ask_last4"
    assert rows[-1] == {"outcome": "hung_up", "slots": rows[-1]["slots"]}  # stdin ended mid-call


def test_protocol_stops_reading_after_the_end():
    rows = _run("collections_m1_zh_a", [{"text": "以后别再给我打电话了"}, {"text": "是我"}])
    assert rows[1]["actions"][0]["kind"] == "record_opt_out"
    assert rows[-1]["outcome"] == "opted_out" and len(rows) == 3


def test_cli_errors_are_one_line(tmp_path):
    bad = subprocess.run(CLI + ["converse", "--script", "collections_m9_zh_a", "--jsonl"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60, input="")
    assert bad.returncode == 2 and "no script" in bad.stderr and "Traceback" not in bad.stderr
    acc = tmp_path / "acc.json"
    acc.write_text('{"name": "李强"}', encoding="utf-8")
    bad = subprocess.run(CLI + ["converse", "--script", "collections_m1_zh_a", "--account", str(acc), "--jsonl"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60, input="")
    assert bad.returncode == 2 and "missing" in bad.stderr and "Traceback" not in bad.stderr
    bad = subprocess.run(CLI + ["converse", "--script", "collections_m1_zh_a", "--today", "11/16", "--jsonl"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60, input="")
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr


@pytest.fixture(scope="module")
def nlu_ready():
    # the intent model ships with the code: a model that fails to load fails these tests, never skips them
    from dialogs.converse import real_classifier

    classify = real_classifier()
    classify("好的", "zh")


def test_live_pipes_with_the_real_nlu_and_an_account_file(tmp_path, nlu_ready):
    acc = tmp_path / "acc.json"
    acc.write_text(json.dumps({"name": "李强", "language": "zh", "balance": 3000, "currency": "CNY",
                               "due_date": "2026-11-01", "days_past_due": 15, "product": "cash_loan",
                               "id_last4": "4321"}, ensure_ascii=False), encoding="utf-8")
    proc = subprocess.Popen(CLI + ["converse", "--script", "collections_m1_zh_a", "--account", str(acc),
                                   "--today", "2026-11-16", "--jsonl"], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
    try:
        first = json.loads(proc.stdout.readline())  # the opening arrives before we send anything
        assert first["node"] == "opening" and "李强" in first["say"]
        proc.stdin.write(json.dumps({"text": "对，我就是李强"}, ensure_ascii=False) + "\n")
        proc.stdin.flush()
        reply = json.loads(proc.stdout.readline())  # flushed at once: a live conversation works
        assert reply["node"] == "ask_last4"
        proc.stdin.write(json.dumps({"dtmf": "4321"}) + "\n")
        proc.stdin.flush()
        reply = json.loads(proc.stdout.readline())
        assert "三千元" in reply["say"] and "逾期十五天" in reply["say"]
        proc.stdin.write(json.dumps({"text": "以后别再给我打电话了"}, ensure_ascii=False) + "\n")
        proc.stdin.flush()
        reply = json.loads(proc.stdout.readline())
        assert reply["actions"][0]["kind"] == "record_opt_out"
        assert json.loads(proc.stdout.readline())["outcome"] == "opted_out"
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
