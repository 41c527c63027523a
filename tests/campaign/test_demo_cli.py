"""`dialwise demo --json` end to end, as a user runs it: a real campaign on a fresh SQLite database."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
ROOT = Path(__file__).resolve().parents[2]


def _dialwise(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "VAR_DIR": str(tmp_path / "var"), "DATABASE_URL": ""}
    return subprocess.run([sys.executable, "-m", "agent", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=550)


def test_demo_json_summary_and_campaign_run(tmp_path):
    # the prompts `make demo`'s set-up builds first (tools/setup.sh runs `dialwise prompts build`, as CI does);
    # the demo then finds them cached, as a user's does
    prepared = ROOT / "var" / "cache" / "prompts"
    if prepared.is_dir():
        shutil.copytree(prepared, tmp_path / "var" / "cache" / "prompts")
    # one zh and one en call at once (more calls at once: tests/session's full calls, bench capacity)
    proc = _dialwise(tmp_path, "demo", "--accounts", "2", "--concurrency", "2", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ("calls", "completed", "outcomes", "languages", "latency_ms", "turns"):
        assert key in summary
    assert summary["calls"] == 2 and summary["languages"] == {"zh": 1, "en": 1}
    assert sum(summary["outcomes"].values()) == 2 and summary["turns"] >= 4
    assert summary["latency_ms"]["p50"] is not None and summary["latency_ms"]["p95"] >= summary["latency_ms"]["p50"]
    db = tmp_path / "var" / "dialwise.sqlite3"
    with sqlite3.connect(db) as conn:
        (campaign_id,) = conn.execute("select id from campaigns").fetchone()
        assert conn.execute("select count(*) from calls where status = 'ended'").fetchone()[0] == 2
        assert conn.execute("select count(*) from outcomes").fetchone()[0] == 2
    assert len(list((tmp_path / "var" / "recordings").glob("*.wav"))) == 2
    # a transcript can be shown, and the campaign has nothing left to call without new planning
    call_id = summary["call_ids"][0]
    show = _dialwise(tmp_path, "calls", "show", call_id[:8])
    assert show.returncode == 0 and "agent" in show.stdout
    again = _dialwise(tmp_path, "campaigns", "run", campaign_id, "--no-plan", "--json")
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout.strip().splitlines()[-1])["calls"] == 0
    bad = _dialwise(tmp_path, "calls", "show", "nosuchcall")
    assert bad.returncode == 2 and "no call" in bad.stderr and "Traceback" not in bad.stderr
