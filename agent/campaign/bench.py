"""`dialwise bench plan`: one planning day for N synthetic accounts, files in and dials out."""
from __future__ import annotations

import json
import resource
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from agent.campaign.catalog import Catalog


def write_portfolio(folder: Path, n: int, history_rows: int, day: date, seed: int) -> tuple[Path, Path]:
    """Synthetic accounts and history JSONL (streamed; mixed CN/US, collections/telesales)."""
    rng = np.random.default_rng(seed)
    acc_path, hist_path = folder / "accounts.jsonl", folder / "history.jsonl"
    cn = rng.random(n) < 0.6
    tele = rng.random(n) < 0.2
    dpd = rng.integers(-3, 90, n)
    bal = np.round(rng.lognormal(7.3, 0.8, n), 2)
    jobs = np.array(["office", "shift", "retired", "student"])[rng.integers(0, 4, n)]
    us_z = np.array(["America/New_York", "America/Chicago", "America/Los_Angeles"])[rng.integers(0, 3, n)]
    with acc_path.open("w") as fh:
        for i in range(n):
            c = bool(cn[i])
            t = bool(tele[i])
            d = 0 if t else int(dpd[i])
            fh.write(json.dumps({
                "id": f"a{i}", "phone": f"+86138{i:08d}" if c else f"+1555{i:07d}",
                "timezone": "Asia/Shanghai" if c else str(us_z[i]), "jurisdiction": "CN" if c else "US",
                "language": "zh" if c else "en", "purpose": "telesales" if t else "collections",
                "bucket": None if t else ("M0" if d <= 0 else "M1" if d <= 30 else "M2"),
                "product": "reborrow" if t else None, "balance": float(bal[i]), "days_past_due": d,
                "consent": bool(i % 5), "features": {"job": str(jobs[i]), "age": int(20 + i % 50)}}) + "\n")
    outcomes = ["no_answer", "no_answer", "busy", "voicemail", "right_party", "ptp", "refused", "hung_up", "callback"]
    who = rng.integers(0, n, history_rows)
    back = rng.integers(1, 15 * 24 * 60, history_rows)
    oc = rng.integers(0, len(outcomes), history_rows)
    with hist_path.open("w") as fh:
        for k in range(history_rows):
            i = int(who[k])
            at = (np.datetime64(day.isoformat()) - np.timedelta64(int(back[k]), "m")).astype(str)
            o = outcomes[int(oc[k])]
            purpose = "telesales" if tele[i] else "collections"
            kind = "reborrow" if tele[i] else ("m0" if dpd[i] <= 0 else "m1" if dpd[i] <= 30 else "m2")
            row = {"account_id": f"a{i}", "at": at + "+00:00",
                   "script_id": f"{purpose}_{kind}_{'zh' if cn[i] else 'en'}_{'ab'[k % 2]}",
                   "outcome": o, "amount": 100.0 if o == "ptp" else None}
            fh.write(json.dumps(row) + "\n")
    return acc_path, hist_path


def bench_plan(n: int, capacity: int, history_rows: int, catalog: Catalog, seed: int = 0,
               day: date = date(2025, 3, 12)) -> dict:
    from agent.campaign.planner import PlanOptions, plan_day
    from agent.campaign.portfolio import accounts_from_dicts, history_from_dicts, iter_jsonl, read_jsonl

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        acc_path, hist_path = write_portfolio(folder, n, history_rows, day - timedelta(days=0), seed)
        out_path = folder / "plan.jsonl"
        t0 = time.perf_counter()
        c0 = time.process_time()
        acc = accounts_from_dicts(iter_jsonl(acc_path, "accounts"))
        t_acc = time.perf_counter()
        hist = history_from_dicts(read_jsonl(hist_path, "history"), acc)
        t_hist = time.perf_counter()
        plan = plan_day(acc, hist, catalog, PlanOptions(day=day, capacity=capacity, seed=seed))
        t_plan = time.perf_counter()
        with out_path.open("w") as fh:
            for d in plan.dials:
                fh.write(json.dumps(d) + "\n")
        t1 = time.perf_counter()
        c1 = time.process_time()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"accounts": n, "seconds": round(t1 - t0, 2), "cpu_seconds": round(c1 - c0, 2), "peak_mb": round(peak, 1),
            "planned": len(plan.dials), "capacity": capacity, "history_rows": history_rows,
            "phases_s": {"read_accounts": round(t_acc - t0, 2), "read_history": round(t_hist - t_acc, 2),
                         "plan": round(t_plan - t_hist, 2), "write": round(t1 - t_plan, 2)}}
