"""Campaign report: per-variant rates with Wilson intervals, from Attempt/Call/Outcome rows."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from agent.campaign.report import campaign_report, summarise, wilson_interval
from agent.store import init_db
from agent.store.db import session_scope
from agent.store.models import Account, Attempt, Call, Campaign, Outcome


def test_wilson_interval_known_values():
    lo, hi = wilson_interval(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-3) and hi == pytest.approx(0.5962, abs=1e-3)
    lo, hi = wilson_interval(0, 20)
    assert lo == 0.0 and hi == pytest.approx(0.1611, abs=1e-3)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_summarise_counts_rpc_and_ptp():
    recs = [("v1", "ptp", 100.0), ("v1", "refused", None), ("v1", "no_answer", None), ("v1", "third_party", None),
            ("v2", "converted", None), ("v2", "busy", None)]
    v1, v2 = summarise(recs)
    assert (v1.dials, v1.connect.count, v1.rpc.count, v1.ptp.count) == (4, 3, 2, 1)
    assert v1.ptp.rate == 0.25 and v1.ptp_per_rpc.rate == 0.5 and v1.promised_amount == 100.0
    assert v1.ptp.ci_low < 0.25 < v1.ptp.ci_high
    assert (v2.dials, v2.converted.count, v2.convert_per_rpc.rate) == (2, 1, 1.0)


@pytest.fixture()
def url(tmp_path):
    url = init_db(f"sqlite:///{tmp_path}/report.sqlite3")
    t0 = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)
    with session_scope(url) as s:
        s.add(Campaign(id="camp1", name="March M1"))
        s.add(Account(id="acc1", external_id="E1", name="张三", phone="+8613812345678"))
        s.flush()
        plan = ([("collections_m1_zh_a", "ptp")] * 6 + [("collections_m1_zh_a", "refused")] * 4
                + [("collections_m1_zh_a", "no_answer")] * 10
                + [("collections_m1_zh_b", "ptp")] * 2 + [("collections_m1_zh_b", "right_party")] * 8
                + [("collections_m1_zh_b", "busy")] * 10)
        for i, (script, kind) in enumerate(plan):
            at = t0 + timedelta(minutes=i)
            att = Attempt(id=f"att{i}", campaign_id="camp1", account_id="acc1", script_id=script,
                          phone="+8613812345678", status="done", dialed_at=at,
                          result="answered" if kind not in ("no_answer", "busy") else kind)
            s.add(att)
            if kind not in ("no_answer", "busy"):
                s.flush()
                call = Call(id=f"call{i}", attempt_id=att.id, account_id="acc1", campaign_id="camp1",
                            script_id=script, language="zh", status="ended", started_at=at, outcome=kind)
                s.add(call)
                s.flush()
                s.add(Outcome(call_id=call.id, account_id="acc1", kind=kind,
                              promise_amount=500.0 if kind == "ptp" else None))
        # a blocked attempt is not a dial
        s.add(Attempt(id="blocked", campaign_id="camp1", account_id="acc1", script_id="collections_m1_zh_a",
                      phone="+8613812345678", status="blocked", result="blocked", dialed_at=None))
    return url


def test_report_from_database(url):
    with session_scope(url) as s:
        rep = campaign_report(s, "camp1")
    assert rep.dials == 40
    a, b = rep.variants
    assert ((a.variant, a.dials, a.rpc.count, a.ptp.count, a.promised_amount)
            == ("collections_m1_zh_a", 20, 10, 6, 3000.0))
    assert (b.variant, b.dials, b.rpc.count, b.ptp.count) == ("collections_m1_zh_b", 20, 10, 2)
    assert a.ptp.rate == 0.3 and b.ptp.rate == 0.1
    assert a.ptp.ci_low == pytest.approx(wilson_interval(6, 20)[0], abs=1e-4)
    with session_scope(url) as s:
        assert campaign_report(s, "other").dials == 0
        assert campaign_report(s, "camp1", since=datetime(2030, 1, 1)).dials == 0


def test_cli_report_json(url, tmp_path):
    env = {"DATABASE_URL": url, "VAR_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", "from agent.cli import main; main()", "campaigns", "report",
                          "--campaign", "camp1", "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr

    data = json.loads(out.stdout)
    assert data["dials"] == 40 and [v["ptp"]["count"] for v in data["variants"]] == [6, 2]
