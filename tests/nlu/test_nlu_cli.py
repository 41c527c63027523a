"""The `dialwise nlu` command contract (other tools depend on it)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def dialwise(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from agent.cli import main; main()", *args], input=stdin,
                          capture_output=True, text=True, cwd=ROOT, timeout=180)


def test_classify_jsonl_contract():
    lines = [
        {"text": "我下周五还两千", "lang": "zh"},
        {"text": "stop calling me", "lang": "en"},
        "this is { not json",
        {"text": "I can pay 200 dollars on the 25th", "lang": "en"},
        {"text": "", "lang": "en"},
        {"text": "是", "lang": "zh", "context": "offer"},
        ["not", "an", "object"],
        {"text": "😀😀", "lang": "zh"},
    ]
    stdin = "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines) + "\n"
    p = dialwise("nlu", "classify", "--jsonl", "--today", "2025-03-12", stdin=stdin)
    assert p.returncode == 0, p.stderr
    out = [json.loads(x) for x in p.stdout.splitlines()]
    assert len(out) == len(lines)
    for row in out:
        assert {"intent", "confidence", "entities"} <= set(row)
        assert set(row["entities"]) >= {"amount", "date"}
    assert out[0]["intent"] == "promise_to_pay"
    assert out[0]["entities"]["amount"] == 2000 and out[0]["entities"]["date"] == "2025-03-21"
    assert out[1]["intent"] == "stop_calling"
    assert "error" in out[2] and "error" not in out[0]
    assert out[3]["entities"]["amount"] == 200 and out[3]["entities"]["date"] == "2025-03-25"
    assert out[4]["intent"] == "out_of_scope"
    assert out[5]["intent"] == "interested"
    assert "error" in out[6]
    assert out[7]["intent"] == "out_of_scope"
    assert all(set(r) == {"intent", "confidence", "entities"} for i, r in enumerate(out) if i not in (2, 6))


def test_classify_streams_line_by_line():
    """Each answer is flushed as soon as its line is read (a caller may hold stdin open)."""
    proc = subprocess.Popen([sys.executable, "-c", "from agent.cli import main; main()", "nlu", "classify", "--jsonl"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        proc.stdin.write(json.dumps({"text": "wrong number", "lang": "en"}) + "\n")
        proc.stdin.flush()
        first = proc.stdout.readline()  # would block forever without a per-line flush
        assert json.loads(first)["intent"] == "wrong_number"
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)


def test_bad_today_is_a_user_error():
    p = dialwise("nlu", "classify", "--jsonl", "--today", "12/03/2025", stdin="")
    assert p.returncode == 2
    assert "Traceback" not in p.stderr and "--today" in p.stderr


def test_eval_tsv_and_jsonl(tmp_path):
    tsv = tmp_path / "x.tsv"
    tsv.write_text("text\tlang\tintent\n你打错了\tzh\twrong_number\nhow much do i owe\ten\task_amount_due\n"
                   "I already paid\ten\talready_paid\n", encoding="utf-8")
    p = dialwise("nlu", "eval", str(tsv), "--json")
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    assert rep["n"] == 3 and rep["accuracy"] == 1.0
    assert rep["per_intent"]["wrong_number"]["recall"] == 1.0
    jl = tmp_path / "x.jsonl"
    jl.write_text(json.dumps({"text": "yes", "lang": "en", "intent": "deny"}) + "\n", encoding="utf-8")
    p = dialwise("nlu", "eval", str(jl))
    assert p.returncode == 0
    assert "accuracy=0.0000" in p.stdout and "affirm" in p.stdout and "most confused" in p.stdout


def test_eval_rejects_unknown_intent(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("hello\ten\tgreeting\n", encoding="utf-8")
    p = dialwise("nlu", "eval", str(bad))
    assert p.returncode == 2 and "unknown intent" in p.stderr and "Traceback" not in p.stderr
