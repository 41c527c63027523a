"""`dialwise bench lifecycle`: the campaign simulator with payment behaviour, two arms in one run.

Both arms start from the same population (agent/campaign/sim_population.py) and random seed and dial the
same daily capacity with the same planner (`plan_day`, which sees only account fields, dial history and,
in the lifecycle arm, the lifecycle facts a CRM would send). The lender's portfolio keeps every account:
a paid account stays in it, as in a real CRM export.

  without_follow_up -- today's planner: history only, no payment events, no promise follow-up;
  lifecycle         -- payment events and promise records (LifecycleFacts): paid accounts and pending
                       promises are left alone, a reminder the day before a promise falls due, a
                       broken-promise call after the grace days.

Hidden payment types (never shown to the planner), an assumption of this simulator:
  keeper    (45 %) keeps a promise with p = 0.90;
  forgetful (35 %) keeps with p = 0.30, or 0.80 when a reminder call reached them the day before;
  breaker   (20 %) keeps with p = 0.10; a new promise made in a call about the broken one: p = 0.45
                    (made in an ordinary call: 0.20).
Besides promises, 0.8 % of unpaid collections customers pay on their own each day (self-cure).
"""
from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import numpy as np

from agent.campaign import compliance as C
from agent.campaign.catalog import Catalog
from agent.campaign.planner import PlanOptions, plan_day
from agent.campaign.portfolio import accounts_from_dicts, history_from_dicts
from agent.campaign.sim_population import dial_outcome, make_population
from agent.lifecycle.follow_up import LifecycleFacts, PromiseState, touch_of

TYPES = ("keeper", "forgetful", "breaker")
TYPE_P = (0.45, 0.35, 0.20)
SELF_CURE = 0.008
GRACE_DAYS = 2


@dataclass
class Promise:
    made: date
    due: date
    amount: float
    after_broken_call: bool = False
    recovery: bool = False        # made after an earlier promise broke
    reminded: bool = False
    status: str = "pending"
    closed: date | None = None
    broken_dials: int = 0
    talked_since_close: bool = False


@dataclass
class Person:
    cust: object
    kind: str
    promises: list[Promise] = field(default_factory=list)
    paid_on: date | None = None
    converted: bool = False
    wrong_number: bool = False


def _keep_p(p: Person, pr: Promise) -> float:
    if p.kind == "keeper":
        return 0.90
    if p.kind == "forgetful":
        return 0.80 if pr.reminded else 0.30
    if pr.recovery:
        return 0.45 if pr.after_broken_call else 0.20
    return 0.10


def _nothing_to_gain(p: Person, day: date) -> bool:
    """History (and the CRM) says a dial cannot gain anything: paid, converted, wrong number, or a promise
    pending (made and not yet past its grace days)."""
    if p.paid_on is not None and p.paid_on <= day or p.converted or p.wrong_number:
        return True
    last = p.promises[-1] if p.promises else None
    return last is not None and last.status == "pending" and day <= last.due + timedelta(days=GRACE_DAYS)


def _facts(people: list[Person], day: date) -> LifecycleFacts:
    facts = LifecycleFacts()
    for p in people:
        aid = p.cust.account["id"]
        tz = C.zone(p.cust.account["timezone"])
        if p.paid_on is not None and p.paid_on <= day:  # the CRM's payment event arrives at once
            at = datetime.combine(p.paid_on, time(12), tzinfo=tz)
            facts.paid[aid] = at
            facts.gate_events[aid] = [C.HistoryEvent(at, "payment", p.cust.account["phone"], aid)]
        if p.promises:
            pr = p.promises[-1]
            closed = datetime.combine(pr.closed, time(0), tzinfo=tz) if pr.closed else None
            facts.promises[aid] = PromiseState(pr.status, pr.made, pr.due, closed, pr.reminded, pr.broken_dials,
                                               pr.talked_since_close)
            if pr.status == "pending":
                until = datetime.combine(pr.due + timedelta(days=GRACE_DAYS + 1), time(0), tzinfo=tz)
                facts.gate_events.setdefault(aid, []).append(
                    C.HistoryEvent(datetime.combine(pr.made, time(0), tzinfo=tz), "promise", None, aid, until=until))
    return facts


def _settle(people: list[Person], day: date, rng: np.random.Generator, totals: Counter) -> None:
    """Payments on `day`: kept promises on their due day, self-cures; promises past grace break."""
    for p in people:
        if p.cust.account["purpose"] != "collections" or p.paid_on is not None:
            continue
        pr = p.promises[-1] if p.promises else None
        if pr is not None and pr.status == "pending" and pr.due == day:
            if rng.random() < _keep_p(p, pr):
                pr.status, pr.closed, p.paid_on = "kept", day, day
                totals["kept"] += 1
                totals["kept_amount"] += pr.amount
                totals["recovered"] += pr.recovery
                continue
        if pr is not None and pr.status == "pending" and day > pr.due + timedelta(days=GRACE_DAYS):
            pr.status, pr.closed = "broken", day
            totals["broken"] += 1
        if rng.random() < SELF_CURE:
            p.paid_on = day
            totals["self_cured"] += 1


def _dial(p: Person, at: datetime, script: str, history: list, rng: np.random.Generator, totals: Counter) -> None:
    c = p.cust
    local = at.astimezone(C.zone(c.account["timezone"]))
    day = local.date()
    totals["dials"] += 1
    kind = touch_of(script)
    totals["wasted"] += kind != "ptp_reminder" and _nothing_to_gain(p, day)  # a reminder is the one planned touch
    totals[f"dials_{kind}"] += kind is not None
    row = dial_outcome(c, local, script, rng)
    if p.paid_on is not None and row["outcome"] in ("ptp", "refused", "right_party", "hung_up", "dispute"):
        row = {"script_id": script, "outcome": "paid_already", "amount": None}
    last = p.promises[-1] if p.promises else None
    if kind == "ptp_reminder" and row["outcome"] not in ("no_answer", "busy", "voicemail"):
        if last is not None and row["outcome"] not in ("wrong_number", "third_party"):
            last.reminded = True
        if row["outcome"] == "ptp":  # a reminder confirms the promise; it is not a new one
            row = {"script_id": script, "outcome": "right_party", "amount": None}
    if last is not None and last.closed is not None and last.status in ("broken",):
        last.broken_dials += kind == "ptp_broken"
        last.talked_since_close |= row["outcome"] in C.RIGHT_PARTY_OUTCOMES
    o = row["outcome"]
    if o == "ptp":
        recovery = last is not None and last.status == "broken"
        if last is not None and last.status == "pending":
            last.status = "cancelled"
        p.promises.append(Promise(day, date.fromisoformat(row["promise_date"]), row["amount"],
                                  after_broken_call=kind == "ptp_broken", recovery=recovery))
        totals["promises"] += 1
    elif o == "converted":
        p.converted = True
        totals["converted"] += 1
    elif o == "wrong_number":
        p.wrong_number = True
    history.append({"account_id": c.account["id"], "at": local.isoformat(), **row})


def _run_arm(people: list[Person], cfg: dict, catalog: Catalog, follow_up: bool) -> dict:
    rng = np.random.default_rng(cfg["seed"] + 1000)
    accounts = accounts_from_dicts([p.cust.account for p in people])
    by_id = {p.cust.account["id"]: p for p in people}
    history: list[dict] = []
    totals: Counter = Counter()
    day = cfg["start"]
    for k in range(cfg["days"]):
        _settle(people, day, rng, totals)
        facts = _facts(people, day) if follow_up else None
        hist = history_from_dicts(history, accounts)
        plan = plan_day(accounts, hist, catalog, PlanOptions(day=day, capacity=cfg["capacity"],
                                                             seed=cfg["seed"] * 100 + k, lifecycle=facts))
        for d in sorted(plan.dials, key=lambda d: d["at"]):
            _dial(by_id[d["account_id"]], datetime.fromisoformat(d["at"]), d["script_id"], history, rng, totals)
        day += timedelta(days=1)
    for extra in range(7):  # promises made in the window fall due after it
        _settle(people, day + timedelta(days=extra), rng, totals)
    dials = max(totals["dials"], 1)
    broken_ids = [p for p in people if any(pr.status == "broken" or pr.recovery for pr in p.promises)]
    recovered = sum(1 for p in broken_ids if any(pr.recovery and pr.status == "kept" for pr in p.promises))
    return {"dials": totals["dials"], "promises": totals["promises"], "kept": totals["kept"],
            "kept_per_100_dials": round(100 * totals["kept"] / dials, 2),
            "kept_amount": round(totals["kept_amount"], 2), "broken": totals["broken"],
            "broken_recovered": recovered, "wasted_dials": totals["wasted"],
            "wasted_share": round(totals["wasted"] / dials, 4), "reminder_dials": totals["dials_ptp_reminder"],
            "broken_promise_dials": totals["dials_ptp_broken"], "self_cured": totals["self_cured"]}


def run(accounts: int = 2000, days: int = 10, capacity: int = 300, seed: int = 7, warmup_days: int = 0,
        catalog: Catalog | None = None) -> dict:
    from agent.campaign.catalog import load_scripts

    catalog = catalog or Catalog(load_scripts())
    rng = np.random.default_rng(seed)
    start = date(2025, 3, 3)
    pop = make_population(accounts, rng, datetime.combine(start, time(0)))
    people = [Person(c, TYPES[int(rng.choice(3, p=TYPE_P))]) for c in pop]
    cfg = {"seed": seed, "start": start, "days": days, "capacity": capacity}
    arms = {name: _run_arm(copy.deepcopy(people), cfg, catalog, follow_up)
            for name, follow_up in (("without_follow_up", False), ("lifecycle", True))}
    a, b = arms["without_follow_up"], arms["lifecycle"]
    return {
        **arms,
        "compare": {
            "kept_per_100_dials": [a["kept_per_100_dials"], b["kept_per_100_dials"]],
            "broken_recovered": [a["broken_recovered"], b["broken_recovered"]],
            "calls_saved": a["wasted_dials"] - b["wasted_dials"],
            "wasted_share": [a["wasted_share"], b["wasted_share"]],
        },
        "config": {"accounts": accounts, "days": days, "capacity_per_day": capacity, "seed": seed,
                   "start": start.isoformat(), "grace_days": GRACE_DAYS,
                   "types": dict(zip(TYPES, TYPE_P, strict=True)), "self_cure_per_day": SELF_CURE},
        "how": "one run, same population, seed and capacity per arm; wasted = dials to accounts that had "
               "paid, converted, a wrong number, or a promise pending (made, not past due + grace days) at "
               "dial time; calls_saved = wasted dials without follow-up minus with; broken_recovered = accounts "
               "with a broken promise that later kept a new one",
    }
