"""`dialwise plan` contract and behaviour: capacity, local dates, fitting scripts, the gate, learning."""
from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import date, datetime, timedelta

import pytest

from agent.campaign import compliance as C
from agent.campaign.catalog import Catalog, ScriptInfo
from agent.campaign.planner import PlanOptions, plan_day
from agent.campaign.portfolio import accounts_from_dicts, history_from_dicts

CLI = ("import sys, typer; from agent.errors import UserError; from agent.campaign.cli import register; "
       "app = typer.Typer(); bench = typer.Typer(); app.add_typer(bench, name='bench'); register(app, bench)\n"
       "try:\n    app()\nexcept UserError as e:\n    print('error:', e, file=sys.stderr); sys.exit(2)")
SCRIPTS = ([{"id": f"collections_{b}_{lang}_{v}", "purpose": "collections", "bucket": b.upper(), "product": None,
             "language": lang, "variant": v} for b in ("m0", "m1", "m2") for lang in ("zh", "en") for v in "ab"]
           + [{"id": f"telesales_reborrow_{lang}_{v}", "purpose": "telesales", "bucket": None, "product": "reborrow",
               "language": lang, "variant": v} for lang in ("zh", "en") for v in "ab"]
           + [{"id": "collections_voicemail_zh_a", "purpose": "collections", "bucket": "voicemail", "product": None,
               "language": "zh", "variant": "a"}])
CATALOG = Catalog([ScriptInfo(s["id"], s["purpose"], (s["bucket"] or s["product"]).lower(), s["language"], s["variant"])
                   for s in SCRIPTS])
DAY = date(2025, 3, 12)  # a Wednesday; the US is already on daylight time


def account(i: int, jur="CN", purpose="collections", job="office", **kw) -> dict:
    a = {"id": f"a{i}", "phone": f"+86138{i:08d}" if jur == "CN" else f"+1555{i:07d}",
         "timezone": "Asia/Shanghai" if jur == "CN" else ("America/New_York", "America/Los_Angeles")[i % 2],
         "jurisdiction": jur, "language": "zh" if jur == "CN" else "en", "purpose": purpose,
         "bucket": "M1" if purpose == "collections" else None,
         "product": "reborrow" if purpose == "telesales" else None,
         "balance": 1000 + i, "days_past_due": 10, "consent": True, "features": {"job": job}}
    a.update(kw)
    return a


def row(aid, at, outcome, script="collections_m1_zh_a", **kw) -> dict:
    return {"account_id": aid, "at": at, "script_id": script, "outcome": outcome, "amount": None, **kw}


def run_plan(accounts, history, capacity=50, day=DAY, seed=0):
    acc = accounts_from_dicts(accounts)
    return plan_day(acc, history_from_dicts(history, acc), CATALOG, PlanOptions(day=day, capacity=capacity, seed=seed))


def to_events(history, accounts):
    phone = {a["id"]: a["phone"] for a in accounts}
    rp = {"right_party", "ptp", "paid_already", "refused", "dispute", "callback", "transferred", "opted_out",
          "converted", "not_interested", "hung_up"}
    ev = []
    for h in history:
        at = datetime.fromisoformat(h["at"])
        kind = "conversation" if h["outcome"] in rp else "attempt"
        ev.append(C.HistoryEvent(at, kind, phone[h["account_id"]], h["account_id"]))
        if h["outcome"] in ("refused", "not_interested", "opted_out"):
            ev.append(C.HistoryEvent(at, "opt_out" if h["outcome"] == "opted_out" else "refusal",
                                     phone[h["account_id"]], h["account_id"]))
    return ev


def assert_contract(dials, accounts, history, capacity, day=DAY):
    assert len(dials) <= capacity
    by_id = {a["id"]: a for a in accounts}
    events = to_events(history, accounts)
    seen = {s["id"]: s for s in SCRIPTS}
    for d in dials:
        assert set(d) == {"account_id", "at", "script_id"}
        a = by_id[d["account_id"]]
        at = datetime.fromisoformat(d["at"])
        assert at.utcoffset() is not None
        assert at.astimezone(C.zone(a["timezone"])).date() == day
        s = seen[d["script_id"]]
        assert s["purpose"] == a["purpose"] and s["language"] == a["language"]
        kind = (s["bucket"] or s["product"]).lower()
        assert kind == (a["bucket"] or a["product"]).lower()
        dial = C.ProposedDial(a["jurisdiction"], a["purpose"], at, a["timezone"], a["phone"], a["id"],
                              consent=a["consent"])
        v = C.check(dial, events)
        assert v.allowed, (d, v)
        events.append(C.HistoryEvent(at, "attempt", a["phone"], a["id"]))


def test_plan_cli_contract(tmp_path):
    accounts = [account(i) for i in range(20)] + [account(100 + i, jur="US") for i in range(20)]
    accounts += [account(200 + i, purpose="telesales", consent=i % 2 == 0) for i in range(10)]
    accounts += [account(300 + i, jur="US", purpose="telesales", consent=i % 2 == 0) for i in range(10)]
    history = [row("a0", "2025-03-11T03:00:00+00:00", "no_answer"),
               row("a100", "2025-03-10T15:00:00+00:00", "hung_up", "collections_m1_en_b")]
    (tmp_path / "acc.jsonl").write_text("\n".join(json.dumps(a) for a in accounts) + "\n")
    (tmp_path / "hist.jsonl").write_text("\n".join(json.dumps(h) for h in history) + "\n")
    (tmp_path / "scripts.json").write_text(json.dumps(SCRIPTS))
    res = subprocess.run([sys.executable, "-c", CLI, "plan", "--accounts", str(tmp_path / "acc.jsonl"),
                          "--history", str(tmp_path / "hist.jsonl"), "--date", DAY.isoformat(), "--capacity", "45",
                          "--seed", "3", "--jsonl", "--scripts", str(tmp_path / "scripts.json")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    dials = [json.loads(x) for x in res.stdout.splitlines()]
    assert 35 <= len(dials) <= 45
    assert_contract(dials, accounts, history, 45)
    ids = {d["account_id"] for d in dials}
    assert "a100" not in ids  # US: no call within 7 days after a conversation
    assert not any(a["id"] in ids for a in accounts if a["jurisdiction"] == "US" and a["purpose"] == "telesales"
                   and not a["consent"])
    # a bad date is one clear line and exit code 2
    bad = subprocess.run([sys.executable, "-c", CLI, "plan", "--accounts", str(tmp_path / "acc.jsonl"),
                          "--date", "12/03/2025", "--capacity", "5", "--jsonl",
                          "--scripts", str(tmp_path / "scripts.json")], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr and "Traceback" not in bad.stderr


def test_capacity_and_determinism():
    accounts = [account(i, jur=("CN", "US")[i % 2]) for i in range(60)]
    a = run_plan(accounts, [], capacity=25, seed=5).dials
    b = run_plan(accounts, [], capacity=25, seed=5).dials
    assert a == b and len(a) == 25
    assert run_plan(accounts, [], capacity=0).dials == []
    assert_contract(a, accounts, [], 25)


def test_skips_paid_opted_out_and_fresh_promises_but_chases_broken_ones():
    accounts = [account(i) for i in range(7)]
    history = [
        row("a6", "2025-03-10T02:00:00+00:00", "dispute"),                           # a human verifies first
        row("a0", "2025-03-10T02:00:00+00:00", "paid_already"),
        row("a1", "2025-03-10T02:00:00+00:00", "opted_out"),
        row("a2", "2025-03-11T02:00:00+00:00", "ptp", promise_date="2025-03-14"),   # due later: wait
        row("a3", "2025-03-01T02:00:00+00:00", "ptp", promise_date="2025-03-05"),   # broken: call
        row("a4", "2025-03-11T02:00:00+00:00", "ptp"),                                # no date: grace days
        row("a5", "2025-03-10T02:00:00+00:00", "wrong_number"),
    ]
    plan = run_plan(accounts, history)
    assert {d["account_id"] for d in plan.dials} == {"a3"}
    assert plan.stats["skipped"] == {"paid": 1, "opted_out": 1, "promise_pending": 2, "wrong_number": 1,
                                     "dispute_open": 1}


def test_cn_daily_limits_and_refusals_hold_with_todays_history():
    accounts = [account(0), account(1, purpose="telesales")]
    history = [row("a0", f"2025-03-12T0{h}:00:00+08:00", "right_party") for h in (8, 9)] + \
              [row("a0", "2025-03-12T09:30:00+08:00", "hung_up")] + \
              [row("a1", "2025-03-01T03:00:00+00:00", "not_interested", "telesales_reborrow_zh_a")]
    plan = run_plan(accounts, history)
    assert plan.dials == []
    assert plan.stats["blocked"] == {"cn_daily_conversations": 1, "marketing_refusal": 1}


def test_honours_a_requested_callback_time():
    accounts = [account(0), account(1)]
    history = [row("a0", "2025-03-11T03:00:00+00:00", "callback", callback_at="2025-03-12T15:20:00+08:00"),
               row("a1", "2025-03-11T03:00:00+00:00", "callback", callback_at="2025-03-13T10:00:00+08:00")]
    plan = run_plan(accounts, history)
    assert plan.dials == [{"account_id": "a0", "at": "2025-03-12T15:20:00+08:00",
                           "script_id": plan.dials[0]["script_id"]}]
    assert plan.stats["skipped"] == {"callback_later": 1}


def test_learns_answer_hours_per_kind_of_account_and_winning_variants():
    """Office workers answered in the evening and liked variant b; retirees answered mornings."""
    accounts = [account(i, job="office") for i in range(150)] + [account(1000 + i, job="retired") for i in range(150)]
    history = []
    start = datetime.fromisoformat("2025-02-24T00:00:00+08:00")
    for d in range(14):
        for i in range(0, 300, 3):
            a = accounts[(i + d) % 300]
            for hour in (10, 19):
                good = (hour == 19) == (a["features"]["job"] == "office")
                variant = "ab"[(i + hour + d) % 2]
                answered = good and (i + d) % 5 != 0
                outcome = "no_answer"
                if answered:
                    outcome = "ptp" if (variant == "b" and (i + d) % 2 == 0) else "right_party"
                at = (start + timedelta(days=d, hours=hour)).isoformat()
                history.append(row(a["id"], at, outcome, f"collections_m1_zh_{variant}", promise_date="2025-02-01"))
    plan = run_plan(accounts, history, capacity=300, seed=1)
    assert_contract(plan.dials, accounts, history, 300)
    by_job = {"office": Counter(), "retired": Counter()}
    variants = Counter()
    for d in plan.dials:
        job = "office" if int(d["account_id"][1:]) < 1000 else "retired"
        by_job[job][datetime.fromisoformat(d["at"]).hour] += 1
        variants[d["script_id"][-1]] += 1
    evening = sum(v for h, v in by_job["office"].items() if 18 <= h <= 20)
    morning = sum(v for h, v in by_job["retired"].items() if 9 <= h <= 11)
    assert evening >= 0.6 * sum(by_job["office"].values())
    assert morning >= 0.6 * sum(by_job["retired"].values())
    assert variants["b"] >= 0.75 * len(plan.dials)
    assert variants["a"] >= 0.02 * len(plan.dials)  # exploration keeps the A/B alive


def test_both_languages_get_their_scripts():
    accounts = [account(0), account(1, jur="US"), account(2, purpose="telesales"),
                account(3, jur="US", purpose="telesales")]
    plan = run_plan(accounts, [], capacity=10)
    got = {d["account_id"]: d["script_id"] for d in plan.dials}
    assert got["a0"].startswith("collections_m1_zh_") and got["a1"].startswith("collections_m1_en_")
    assert got["a2"].startswith("telesales_reborrow_zh_") and got["a3"].startswith("telesales_reborrow_en_")


def test_holiday_plans_nothing_for_that_region():
    accounts = [account(0), account(1, jur="US")]
    plan = run_plan(accounts, [], day=date(2025, 10, 1))
    assert [d["account_id"] for d in plan.dials] == ["a1"]
    assert plan.stats["blocked"] == {"holiday": 1}


@pytest.mark.parametrize("bad,needle", [({"id": "x"}, "phone"), ({**account(0), "timezone": "Nowhere/X"}, "time zone")])
def test_bad_accounts_are_reported_with_line_numbers(bad, needle):
    from agent.errors import UserError

    with pytest.raises(UserError, match=needle):
        accounts_from_dicts([account(5), bad])


def test_per_hour_line_limit_spreads_dials_over_hours():
    accounts = [account(i, job="office") for i in range(40)]
    acc = accounts_from_dicts(accounts)
    plan = plan_day(acc, history_from_dicts([], acc), CATALOG, PlanOptions(day=DAY, capacity=40, per_hour=5))
    hours = Counter(datetime.fromisoformat(d["at"]).hour for d in plan.dials)
    assert len(plan.dials) == 40 and max(hours.values()) <= 5 and len(hours) >= 8


def test_accounts_sharing_a_number_share_its_daily_attempt_limit():
    accounts = [account(i, phone="+8613800000000") for i in range(8)]
    plan = run_plan(accounts, [], capacity=8)
    assert len(plan.dials) == 6  # CN: at most 6 dial attempts per number per day
    assert plan.stats["blocked"] == {"cn_daily_attempts_per_number": 2}
    assert_contract(plan.dials, accounts, [], 8)
