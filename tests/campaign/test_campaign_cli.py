"""`dialwise campaigns create|start|pause|set|attempts`: the same controls as the API, with clear errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.dial_support import add_account

pytestmark = pytest.mark.db
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _cli(args, db_url, tmp_path):
    env = {**os.environ, "DATABASE_URL": db_url, "VAR_DIR": str(tmp_path / "var"), "PYTHONPATH": ROOT}
    return subprocess.run([sys.executable, "-m", "agent", "campaigns", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)


def test_create_start_pause_set_and_list_attempts(db_url, tmp_path):
    a = add_account(db_url, phone="+14155550301")
    b = add_account(db_url, phone="+14155550302")
    out = _cli(["create", "Dec M1", "--network", "twilio", "--script", "collections_m1_en_a",
                "--accounts", f"{a},{b}", "--max-concurrent", "6"], db_url, tmp_path)
    assert out.returncode == 0, out.stderr
    camp = json.loads(out.stdout)
    assert (camp["status"], camp["network"], camp["max_concurrent"]) == ("draft", "twilio", 6)
    cid = camp["id"]
    assert json.loads(_cli(["start", cid], db_url, tmp_path).stdout)["status"] == "running"
    assert json.loads(_cli(["pause", cid], db_url, tmp_path).stdout)["status"] == "paused"
    changed = json.loads(_cli(["set", cid, "--network", "sip", "--max-concurrent", "2"], db_url, tmp_path).stdout)
    assert (changed["network"], changed["max_concurrent"]) == ("sip", 2)
    rows = [json.loads(x) for x in _cli(["attempts", cid], db_url, tmp_path).stdout.splitlines()]
    assert sorted(r["account_id"] for r in rows) == sorted([a, b])
    assert {(r["status"], r["attempt_no"]) for r in rows} == {("planned", 1)}


@pytest.mark.parametrize("args, message", [
    (["create", "x", "--network", "pstn"], "unknown network 'pstn'"),
    (["create", "x", "--accounts", "nope"], "'script_id' is required"),
    (["create", "x", "--script", "collections_m1_en_a", "--accounts", "nope"], "unknown account id(s): nope"),
    (["start", "nope"], "no campaign with id 'nope'"),
    (["set", "nope"], "nothing to change"),
])
def test_bad_input_gets_one_clear_line(args, message, db_url, tmp_path):
    out = _cli(args, db_url, tmp_path)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr, out.stderr
