"""`dialwise simulate`: weeks of campaign days at outcome level, (a) FIFO vs (b) the planner.

Both arms start from the same population and the same warm-up history (FIFO dialling), then run
the same number of days with the same daily capacity. (a) takes accounts first-in-first-out at a
random allowed time with a random script variant; (b) asks `plan_day` (scores, contact model,
bandit, gate), which sees only account fields and past outcomes. Every dial of both arms goes
through the gate, and afterwards the independent audit (agent/campaign/audit.py) re-checks them.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np

from agent.campaign import compliance as C
from agent.campaign.audit import LoggedDial, audit
from agent.campaign.catalog import Catalog, bucket_for, norm_kind
from agent.campaign.compliance.outcomes import events_for_outcome
from agent.campaign.planner import PlanOptions, plan_day
from agent.campaign.portfolio import accounts_from_dicts, history_from_dicts
from agent.campaign.sim_population import Customer, dial_outcome, make_population
from dialogs.outcomes import RIGHT_PARTY


@dataclass
class SimConfig:
    accounts: int = 3000
    warmup_days: int = 14
    days: int = 21
    capacity: int = 450          # dials per day
    start: date = date(2025, 3, 3)
    seed: int = 7


@dataclass
class Arm:
    customers: list[Customer]
    history: list[dict]
    log: list[LoggedDial]
    fifo_pos: int = 0


def _settle(arm: Arm, day: date, rng: np.random.Generator, totals: dict | None) -> None:
    """Promises due on `day` are kept (the account pays and leaves the portfolio) or broken."""
    for c in arm.customers:
        if c.open_promise and c.open_promise[0] <= day:
            due, amount = c.open_promise
            c.open_promise = None
            if rng.random() < c.keep_rate:
                c.closed = "paid"
                if totals is not None:
                    totals["kept_amount"] += amount


def _record(arm: Arm, c: Customer, at: datetime, row: dict, totals: dict | None) -> None:
    acc = c.account
    full = {"account_id": acc["id"], "at": at.isoformat(), **row}
    arm.history.append(full)
    cb = datetime.fromisoformat(row["callback_at"]) if row.get("callback_at") else None
    arm.log.append(LoggedDial(at, acc["id"], acc["phone"], acc["timezone"], acc["jurisdiction"], acc["purpose"],
                              bool(acc["consent"]), row["outcome"], cb))
    o = row["outcome"]
    if o == "ptp":
        c.open_promise = (date.fromisoformat(row["promise_date"]), row["amount"])
    elif o == "converted":
        c.closed = "converted"
        if totals is not None:
            totals["kept_amount"] += row["amount"] or 0.0
    elif o in ("opted_out", "wrong_number"):
        c.closed = o
    if totals is not None:
        totals["dials"] += 1
        totals["rpc"] += o in RIGHT_PARTY
        totals["ptp"] += o in ("ptp", "converted")


def _active(arm: Arm) -> list[Customer]:
    return [c for c in arm.customers if c.closed is None]


def _gate_history(c: Customer, since: datetime) -> list[C.HistoryEvent]:
    out = []
    for d in c.extra.get("log", ()):
        if d.at >= since or d.outcome in ("opted_out", "refused", "not_interested", "callback"):
            out.extend(events_for_outcome(d.at, d.outcome, d.phone, d.account_id, callback_at=d.callback_at))
    return out


def _fifo_day(arm: Arm, day: date, cfg: SimConfig, catalog: Catalog, rng: np.random.Generator,
              totals: dict | None) -> None:
    """Baseline: first-in-first-out over the portfolio, a random allowed time, a random variant."""
    rules = C.default_rules()
    n = len(arm.customers)
    placed = 0
    scanned = 0
    since = datetime.combine(day, time(0), tzinfo=C.zone("UTC")) - timedelta(days=9)
    while placed < cfg.capacity and scanned < n:
        c = arm.customers[arm.fifo_pos % n]
        arm.fifo_pos += 1
        scanned += 1
        if c.closed is not None or (c.open_promise and c.open_promise[0] >= day):
            continue
        acc = c.account
        kind = (bucket_for(acc["bucket"], acc["days_past_due"]) if acc["purpose"] == "collections"
                else norm_kind(acc["product"]))
        fi = catalog.family_index(acc["purpose"], kind, acc["language"])
        if fi < 0:
            continue
        pack = rules.packs[acc["jurisdiction"]]
        z = C.zone(acc["timezone"])
        hist = _gate_history(c, since)
        for _ in range(3):
            minute = int(rng.integers(pack.start_minute, pack.end_minute))
            at = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=z)
            dial = C.ProposedDial(acc["jurisdiction"], acc["purpose"], at, acc["timezone"], acc["phone"], acc["id"],
                                  consent=bool(acc["consent"]))
            if C.check(dial, hist).allowed:
                variants = catalog.variants(fi)
                script = variants[int(rng.integers(0, len(variants)))].id
                _dial(arm, c, at, script, rng, totals)
                placed += 1
                break


def _dial(arm: Arm, c: Customer, at: datetime, script: str, rng: np.random.Generator, totals) -> None:
    local = at.astimezone(C.zone(c.account["timezone"]))
    row = dial_outcome(c, local, script, rng)
    _record(arm, c, local, row, totals)
    c.extra.setdefault("log", []).append(arm.log[-1])


def _planned_day(arm: Arm, day: date, cfg: SimConfig, catalog: Catalog, rng: np.random.Generator,
                 totals: dict | None, seed: int) -> None:
    """Scored: the planner decides from account fields and history only."""
    active = _active(arm)
    accounts = accounts_from_dicts([c.account for c in active])
    by_id = {c.account["id"]: c for c in active}
    hist = history_from_dicts(arm.history, accounts)
    plan = plan_day(accounts, hist, catalog, PlanOptions(day=day, capacity=cfg.capacity, seed=seed))
    for d in sorted(plan.dials, key=lambda d: d["at"]):
        _dial(arm, by_id[d["account_id"]], datetime.fromisoformat(d["at"]), d["script_id"], rng, totals)


def _summary(t: dict) -> dict:
    dials = max(t["dials"], 1)
    return {"dials": t["dials"], "rpc_per_100_dials": round(100 * t["rpc"] / dials, 2),
            "ptp_per_100_dials": round(100 * t["ptp"] / dials, 2), "kept_amount": round(t["kept_amount"], 2)}


def run(cfg: SimConfig, catalog: Catalog) -> dict:
    rng = np.random.default_rng(cfg.seed)
    start = datetime.combine(cfg.start, time(0))
    base = Arm(make_population(cfg.accounts, rng, start), [], [])
    day = cfg.start
    for _ in range(cfg.warmup_days):  # shared history: what the lender did before
        _settle(base, day, rng, None)
        _fifo_day(base, day, cfg, catalog, rng, None)
        day += timedelta(days=1)
    results = {}
    logs = list(base.log)
    for name in ("baseline", "scored"):
        arm = copy.deepcopy(base)
        arm_rng = np.random.default_rng(cfg.seed + 1000)
        totals = {"dials": 0, "rpc": 0, "ptp": 0, "kept_amount": 0.0}
        d = day
        for k in range(cfg.days):
            _settle(arm, d, arm_rng, totals)
            if name == "baseline":
                _fifo_day(arm, d, cfg, catalog, arm_rng, totals)
            else:
                _planned_day(arm, d, cfg, catalog, arm_rng, totals, seed=cfg.seed * 100 + k)
            d += timedelta(days=1)
        for extra in range(7):  # promises made in the window settle after it
            _settle(arm, d + timedelta(days=extra), arm_rng, totals)
        results[name] = _summary(totals)
        logs.extend(arm.log[len(base.log):])
        results[name + "_log"] = arm.log
    violations = len(audit(results.pop("baseline_log"))) + len(audit(results.pop("scored_log")))
    b, s = results["baseline"]["ptp_per_100_dials"], results["scored"]["ptp_per_100_dials"]
    return {"baseline": results["baseline"], "scored": results["scored"], "violations": violations,
            "ptp_ratio": round(s / b, 3) if b else None,
            "config": {"accounts": cfg.accounts, "warmup_days": cfg.warmup_days, "days": cfg.days,
                       "capacity_per_day": cfg.capacity, "start": cfg.start.isoformat(), "seed": cfg.seed}}
