"""Property test: whatever the accounts, zones (across DST changes) and history, the plan adds no violation.

Judged by the independent audit (agent/campaign/audit.py, not the gate), on history + planned dials.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from agent.campaign.audit import LoggedDial, audit
from agent.campaign.catalog import Catalog, ScriptInfo
from agent.campaign.planner import PlanOptions, plan_day
from agent.campaign.portfolio import OUTCOMES, accounts_from_dicts, history_from_dicts

CATALOG = Catalog([ScriptInfo(f"collections_{b}_{lang}_{v}", "collections", b, lang, v)
                   for b in ("m0", "m1", "m2") for lang in ("zh", "en") for v in "ab"]
                  + [ScriptInfo(f"telesales_reborrow_{lang}_{v}", "telesales", "reborrow", lang, v)
                     for lang in ("zh", "en") for v in "ab"])
ZONES = {"CN": ["Asia/Shanghai", "Asia/Urumqi"],
         "US": ["America/New_York", "America/Los_Angeles", "America/Phoenix", "America/Anchorage", "Pacific/Honolulu"]}
DAYS = [date(2025, 3, 9), date(2025, 3, 10), date(2025, 11, 2), date(2025, 11, 3), date(2025, 10, 4),
        date(2025, 7, 3), date(2025, 6, 11)]


@st.composite
def portfolios(draw):
    day = draw(st.sampled_from(DAYS))
    n = draw(st.integers(1, 6))
    accounts = []
    for i in range(n):
        jur = draw(st.sampled_from(["CN", "US"]))
        purpose = draw(st.sampled_from(["collections", "collections", "telesales"]))
        accounts.append({
            "id": f"a{i}", "phone": f"+1{draw(st.integers(0, 3))}", "timezone": draw(st.sampled_from(ZONES[jur])),
            "jurisdiction": jur, "language": draw(st.sampled_from(["zh", "en"])), "purpose": purpose,
            "bucket": draw(st.sampled_from(["M0", "M1", "M2", None])) if purpose == "collections" else None,
            "product": "reborrow" if purpose == "telesales" else None, "balance": 500.0,
            "days_past_due": draw(st.integers(-3, 90)), "consent": draw(st.booleans()), "features": {}})
    history = []
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    for _ in range(draw(st.integers(0, 25))):
        a = draw(st.sampled_from(accounts))
        at = noon + timedelta(minutes=draw(st.integers(-10 * 24 * 60, 12 * 60)))
        outcome = draw(st.sampled_from(list(OUTCOMES) + ["no_answer"] * 10 + ["right_party", "hung_up", "busy"] * 3))
        row = {"account_id": a["id"], "at": at.isoformat(), "script_id": "collections_m1_zh_a", "outcome": outcome,
               "amount": None}
        if outcome == "callback" and draw(st.booleans()):
            row["callback_at"] = (at + timedelta(minutes=draw(st.integers(30, 3 * 24 * 60)))).isoformat()
        history.append(row)
    return day, accounts, history, draw(st.integers(0, 12)), draw(st.integers(0, 5))


def logged(accounts, history, dials):
    by_id = {a["id"]: a for a in accounts}
    out = []
    for h in history:
        a = by_id[h["account_id"]]
        cb = datetime.fromisoformat(h["callback_at"]) if h.get("callback_at") else None
        out.append(LoggedDial(datetime.fromisoformat(h["at"]), a["id"], a["phone"], a["timezone"], a["jurisdiction"],
                              a["purpose"], a["consent"], h["outcome"], cb))
    planned = []
    for d in dials:
        a = by_id[d["account_id"]]
        planned.append(LoggedDial(datetime.fromisoformat(d["at"]), a["id"], a["phone"], a["timezone"],
                                  a["jurisdiction"], a["purpose"], a["consent"], "no_answer"))
    return out, planned


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(portfolios())
def test_planned_dials_add_no_violation(case):
    day, accounts, history, capacity, seed = case
    acc = accounts_from_dicts(accounts)
    plan = plan_day(acc, history_from_dicts(history, acc), CATALOG, PlanOptions(day=day, capacity=capacity, seed=seed))
    assert len(plan.dials) <= capacity
    event(f"planned {min(len(plan.dials), 3)}+ dials")
    assert len({d["account_id"] for d in plan.dials}) == len(plan.dials)
    past, planned = logged(accounts, history, plan.dials)
    before = {id(d) for d, _ in audit(past)}
    after = {id(d): why for d, why in audit(past + planned)}
    new = {k: v for k, v in after.items() if k not in before}
    assert new == {}, (new, plan.dials)
