"""The planner on the database: Attempt rows for the plan, ComplianceBlock rows for every block."""
from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from agent.campaign.catalog import Catalog, ScriptInfo
from agent.campaign.plan_db import plan_campaign_day
from agent.store.models import Account, Attempt, Base, Call, Campaign, ComplianceBlock, Outcome

CATALOG = Catalog([ScriptInfo(f"collections_{b}_{lang}_{v}", "collections", b, lang, v)
                   for b in ("m0", "m1", "m2") for lang in ("zh", "en") for v in "ab"])


def test_plan_campaign_day_writes_attempts_and_blocks():
    eng = create_engine("sqlite://")
    Base.metadata.create_all(eng)
    with Session(eng) as s:
        camp = Campaign(name="c", purpose="collections", max_attempts=10)
        s.add(camp)
        accs = [Account(id=f"acc{i}", name=f"n{i}", phone=f"+8613800000{i:03d}", timezone="Asia/Shanghai",
                        jurisdiction="CN", language="zh", purpose="collections", bucket="M1", balance=1000,
                        days_past_due=10) for i in range(4)]
        accs.append(Account(id="us0", name="u", phone="+12125550100", timezone="America/New_York", jurisdiction="US",
                            language="en", purpose="collections", bucket="M2", balance=900, days_past_due=45))
        s.add_all(accs)
        s.flush()
        # acc0 promised to pay on 14 March; us0 talked to us yesterday (US: 7 quiet days)
        for aid, outcome, extra in (("acc0", "ptp", {"promise_date": date(2025, 3, 14)}), ("us0", "refused", {})):
            att = Attempt(campaign_id=camp.id, account_id=aid, script_id="collections_m1_zh_a", phone="x",
                          status="done", dialed_at=datetime(2025, 3, 11, 14, tzinfo=UTC))
            s.add(att)
            s.flush()
            call = Call(attempt_id=att.id, account_id=aid, campaign_id=camp.id, script_id=att.script_id,
                        language="zh", outcome=outcome, started_at=att.dialed_at, status="ended")
            s.add(call)
            s.flush()
            s.add(Outcome(call_id=call.id, account_id=aid, kind=outcome, **extra))
        # acc3 already has a planned attempt in this campaign
        s.add(Attempt(campaign_id=camp.id, account_id="acc3", script_id="collections_m1_zh_a", phone="x",
                      status="planned", not_before=datetime(2025, 3, 12, 2, tzinfo=UTC)))
        s.flush()
        res = plan_campaign_day(s, camp.id, date(2025, 3, 12), capacity=10, catalog=CATALOG)
        s.commit()
        planned = s.scalars(select(Attempt).where(Attempt.id.in_(res.attempt_ids))).all()
        blocks = s.scalars(select(ComplianceBlock)).all()
    assert sorted(a.account_id for a in planned) == ["acc1", "acc2"]
    for a in planned:
        assert a.status == "planned" and a.script_id.startswith("collections_m1_zh_")
        local_hour = (a.not_before.hour + 8) % 24
        assert 8 <= local_hour < 22
    assert res.stats["skipped"] == {"promise_pending": 1}
    assert [(b.account_id, b.rule) for b in blocks] == [("us0", "us_7_days_after_conversation")]


def test_plan_cli_on_a_campaign_in_the_database(tmp_path):
    import json
    import os
    import subprocess
    import sys

    from agent.store import init_db, session_scope

    url = f"sqlite:///{tmp_path / 'dw.sqlite3'}"
    init_db(url)
    with session_scope(url) as s:
        camp = Campaign(name="c", purpose="collections")
        s.add(camp)
        s.add_all([Account(id=f"acc{i}", name=f"n{i}", phone=f"+8613800001{i:03d}", timezone="Asia/Shanghai",
                           jurisdiction="CN", language=("zh", "en")[i % 2], purpose="collections", bucket="M1",
                           balance=500, days_past_due=5) for i in range(6)])
        s.flush()
        camp_id = camp.id
    scripts = tmp_path / "scripts.json"
    scripts.write_text(json.dumps([{"id": f"collections_m1_{lang}_{v}", "purpose": "collections", "bucket": "M1",
                                    "product": None, "language": lang, "variant": v}
                                   for lang in ("zh", "en") for v in "ab"]))
    cli = ("import sys, typer; from agent.errors import UserError; from agent.campaign.cli import register; "
           "app = typer.Typer(); bench = typer.Typer(); app.add_typer(bench, name='bench'); register(app, bench)\n"
           "try:\n    app()\nexcept UserError as e:\n    print('error:', e, file=sys.stderr); sys.exit(2)")
    res = subprocess.run([sys.executable, "-c", cli, "plan", "--campaign", camp_id, "--date", "2025-03-12",
                          "--capacity", "4", "--scripts", str(scripts)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "DATABASE_URL": url})
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["attempts"] == 4
    with session_scope(url) as s:
        rows = s.scalars(select(Attempt).where(Attempt.campaign_id == camp_id)).all()
        assert len(rows) == 4 and all(r.status == "planned" for r in rows)
        assert {r.script_id.split("_")[2] for r in rows} <= {"zh", "en"}


def test_gate_history_counts_each_dial_once():
    from agent.campaign.compliance import ProposedDial, check
    from agent.campaign.plan_db import gate_history
    from agent.store.models import OptOut

    eng = create_engine("sqlite://")
    Base.metadata.create_all(eng)
    with Session(eng) as s:
        acc = Account(id="u1", name="u", phone="+12125550100", timezone="America/New_York", jurisdiction="US",
                      language="en", purpose="collections", bucket="M1", balance=100, days_past_due=3)
        s.add(acc)
        s.flush()
        for day, outcome in ((3, "no_answer"), (4, "hung_up")):
            att = Attempt(account_id="u1", script_id="collections_m1_en_a", phone=acc.phone, status="done",
                          dialed_at=datetime(2025, 3, day, 15, tzinfo=UTC), result="answered")
            s.add(att)
            s.flush()
            s.add(Call(attempt_id=att.id, account_id="u1", script_id=att.script_id, language="en", outcome=outcome,
                       started_at=att.dialed_at, status="ended"))
        s.flush()
        events = gate_history(s, acc)
        assert sorted(e.type for e in events) == ["attempt", "conversation"]
        dial = ProposedDial("US", "collections", datetime(2025, 3, 10, 15, tzinfo=UTC), acc.timezone,
                            acc.phone, "u1")
        assert check(dial, events).rule == "us_7_days_after_conversation"
        s.add(OptOut(phone=acc.phone, channel="sms"))
        s.flush()
        assert check(dial, gate_history(s, acc)).rule == "opt_out"
