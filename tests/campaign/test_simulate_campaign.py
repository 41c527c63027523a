"""The population simulator: the scored planner beats FIFO, and an independent audit finds no violations."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from agent.campaign.audit import LoggedDial, audit
from agent.campaign.catalog import Catalog, ScriptInfo
from agent.campaign.simulate import SimConfig, run

CLI = ("import sys, typer; from agent.errors import UserError; from agent.campaign.cli import register; "
       "app = typer.Typer(); bench = typer.Typer(); app.add_typer(bench, name='bench'); register(app, bench)\n"
       "try:\n    app()\nexcept UserError as e:\n    print('error:', e, file=sys.stderr); sys.exit(2)")
SCRIPTS = ([{"id": f"collections_{b}_{lang}_{v}", "purpose": "collections", "bucket": b, "product": None,
             "language": lang, "variant": v} for b in ("m0", "m1", "m2") for lang in ("zh", "en") for v in "ab"]
           + [{"id": f"telesales_reborrow_{lang}_{v}", "purpose": "telesales", "bucket": None, "product": "reborrow",
               "language": lang, "variant": v} for lang in ("zh", "en") for v in "ab"])
CATALOG = Catalog([ScriptInfo(s["id"], s["purpose"], s["bucket"] or s["product"], s["language"], s["variant"])
                   for s in SCRIPTS])


@pytest.fixture(scope="module")
def small_run():
    return run(SimConfig(accounts=800, warmup_days=7, days=10, capacity=120, seed=3), CATALOG)


def test_scored_planning_beats_fifo_with_zero_violations(small_run):
    b, s = small_run["baseline"], small_run["scored"]
    assert small_run["violations"] == 0
    assert b["dials"] == s["dials"] == 1200
    assert s["rpc_per_100_dials"] > b["rpc_per_100_dials"]
    assert s["ptp_per_100_dials"] >= 1.3 * b["ptp_per_100_dials"]
    assert s["kept_amount"] > b["kept_amount"]


def _d(at, outcome="no_answer", acc="a", phone="+1", tz="America/New_York", jur="US", purpose="collections",
       consent=True, cb=None):
    return LoggedDial(at, acc, phone, tz, jur, purpose, consent, outcome, cb)


def test_audit_is_independent_and_catches_each_kind_of_violation():
    t = datetime(2025, 3, 10, 14, 0, tzinfo=UTC)  # 10:00 in New York
    log = [_d(t + timedelta(hours=k)) for k in range(7)]                    # 7 calls: fine
    log.append(_d(t + timedelta(days=1)))                                   # 8th within 7 days
    log.append(_d(t.replace(hour=2), acc="g", phone="+9"))                  # 22:00 the night before
    log.append(_d(t, "right_party", acc="b", phone="+2"))
    log.append(_d(t + timedelta(days=3), acc="b", phone="+2"))              # within 7 days of a conversation
    log.append(_d(t, "not_interested", acc="c", phone="+3", purpose="telesales"))
    log.append(_d(t + timedelta(days=8), acc="c", phone="+3", purpose="telesales"))  # after a refusal
    log.append(_d(t + timedelta(days=9), acc="d", phone="+4", purpose="telesales", consent=False))
    cn = datetime(2025, 3, 11, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    log += [_d(cn + timedelta(minutes=5 * k), acc="e", phone="+86", tz="Asia/Shanghai", jur="CN") for k in range(7)]
    log.append(_d(cn, "callback", acc="f", phone="+87", tz="Asia/Shanghai", jur="CN", cb=cn + timedelta(hours=6)))
    log.append(_d(cn + timedelta(hours=1), acc="f", phone="+87", tz="Asia/Shanghai", jur="CN"))
    found = sorted(why for _, why in audit(log))
    assert found == sorted(["calls_in_window", "hours", "after_conversation", "refusal", "consent",
                            "attempts_per_day", "callback"])


def test_simulate_cli_prints_the_contract_json(tmp_path):
    (tmp_path / "scripts.json").write_text(json.dumps(SCRIPTS))
    res = subprocess.run([sys.executable, "-c", CLI, "simulate", "--json", "--accounts", "150", "--days", "3",
                          "--warmup-days", "2", "--capacity", "30", "--scripts", str(tmp_path / "scripts.json")],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    keys = {"dials", "rpc_per_100_dials", "ptp_per_100_dials", "kept_amount"}
    assert set(out["baseline"]) == keys and set(out["scored"]) == keys
    assert out["violations"] == 0
