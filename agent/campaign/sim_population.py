"""The simulator's population: hidden ground truth per customer, and how one dial turns out.

Truth (never shown to the planner): answer probability by local hour and weekday (shaped by the
customer's routine, which only loosely shows in the visible `job` feature), propensity to promise
or convert once reached, the response to each script variant (context dependent), and the rate of
kept promises. The planner sees only the account fields and the outcomes of its dials.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

JOBS = ("office", "shift", "retired", "student")
# answer probability by local hour 0..23 for each routine
_PROFILES = {
    "office":  {8: .25, 9: .08, 10: .06, 11: .06, 12: .30, 13: .12, 14: .06, 15: .06, 16: .06, 17: .12,
                18: .45, 19: .60, 20: .60, 21: .45},
    "shift":   {8: .08, 9: .06, 10: .10, 11: .25, 12: .35, 13: .55, 14: .55, 15: .45, 16: .25, 17: .12,
                18: .08, 19: .08, 20: .06, 21: .06},
    "retired": {8: .40, 9: .60, 10: .62, 11: .55, 12: .35, 13: .20, 14: .30, 15: .35, 16: .30, 17: .25,
                18: .18, 19: .12, 20: .10, 21: .06},
    "student": {8: .04, 9: .05, 10: .08, 11: .12, 12: .25, 13: .12, 14: .10, 15: .15, 16: .25, 17: .35,
                18: .30, 19: .35, 20: .55, 21: .60},
}
PROFILE = {j: np.array([_PROFILES[j].get(h, 0.02) for h in range(24)]) for j in JOBS}


def _h(*parts) -> float:
    """A stable pseudo-random number in [0, 1) from the parts (truth that must not depend on run order)."""
    return int(hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).hexdigest(), 16) / 2**64


@dataclass
class Customer:
    account: dict                 # what the planner sees
    routine: str                  # true daily routine (the visible job matches it 80% of the time)
    reach: float                  # individual answer multiplier
    weekend: float                # weekend answer multiplier
    propensity: float             # P(promise or convert | right party, neutral script)
    keep_rate: float              # P(a promise is kept)
    open_promise: tuple | None = None   # (local date due, amount) of the promise not yet settled
    closed: str | None = None     # paid | converted | opted_out | wrong_number
    extra: dict = field(default_factory=dict)

    def answer_prob(self, local: datetime) -> float:
        p = PROFILE[self.routine][local.hour] * self.reach
        if local.weekday() >= 5:
            p *= self.weekend
        return float(min(p, 0.95))

    def variant_factor(self, script_id: str) -> float:
        """Hidden response to a script variant, depending on the script family and the customer's routine."""
        family, _, variant = script_id.rpartition("_")
        best = "ab"[int(_h("best", family, self.routine) * 2)]
        strength = 0.25 + 0.35 * _h("strength", family)
        return 1.0 + strength if variant == best else 1.0 - strength


def make_population(n: int, rng: np.random.Generator, start: datetime) -> list[Customer]:
    out = []
    us_zones = ("America/New_York", "America/Chicago", "America/Los_Angeles")
    for i in range(n):
        cn = rng.random() < 0.6
        telesales = rng.random() < 0.2
        routine = JOBS[int(rng.integers(0, 4))]
        job = routine if rng.random() < 0.8 else JOBS[int(rng.integers(0, 4))]
        dpd = 0 if telesales else int(rng.choice([-3, -1, 5, 12, 20, 28, 40, 55, 75, 100]))
        bucket = None if telesales else ("M0" if dpd <= 0 else "M1" if dpd <= 30 else "M2")
        balance = float(np.round(rng.lognormal(7.5 if cn else 7.0, 0.8), 2))
        age = int(rng.integers(20, 75))
        acc = {
            "id": f"acct{i:06d}", "phone": (f"+86138{i:08d}" if cn else f"+1555{i:07d}"),
            "timezone": "Asia/Shanghai" if cn else us_zones[int(rng.integers(0, 3))],
            "jurisdiction": "CN" if cn else "US", "language": "zh" if cn else "en",
            "purpose": "telesales" if telesales else "collections", "bucket": bucket,
            "product": "reborrow" if telesales else None, "balance": balance, "days_past_due": dpd,
            "consent": bool(rng.random() < (0.8 if telesales else 0.95)),
            "features": {"job": job, "age": age, "prior_loans": int(rng.integers(0, 6))},
        }
        if telesales:
            base = 0.10 + 0.04 * acc["features"]["prior_loans"]
        else:
            base = {"M0": 0.55, "M1": 0.38, "M2": 0.20}[bucket] * (1.2 if balance < 1500 else 0.9)
        prop = float(np.clip(base * rng.lognormal(0, 0.45), 0.01, 0.9))
        out.append(Customer(
            account=acc, routine=routine, reach=float(np.clip(rng.lognormal(0, 0.35), 0.3, 2.0)),
            weekend=float(rng.uniform(0.8, 1.4)), propensity=prop,
            keep_rate=float(np.clip(rng.beta(5, 2) - (0.15 if dpd > 30 else 0.0), 0.05, 0.98))))
    return out


def dial_outcome(c: Customer, local: datetime, script_id: str, rng: np.random.Generator) -> dict:
    """What happens when the customer is dialled at `local`: one history row (without account_id/at)."""
    row: dict = {"script_id": script_id, "outcome": "no_answer", "amount": None}
    if rng.random() >= c.answer_prob(local):
        row["outcome"] = ("no_answer", "busy", "voicemail")[int(rng.choice(3, p=[0.7, 0.1, 0.2]))]
        return row
    if rng.random() < 0.05:
        row["outcome"] = "third_party" if rng.random() < 0.8 else "wrong_number"
        return row
    telesales = c.account["purpose"] == "telesales"
    p = min(c.propensity * c.variant_factor(script_id), 0.95)
    u = rng.random()
    if u < p:
        if telesales:
            row["outcome"] = "converted"
            row["amount"] = float(round(c.account["balance"], 2))
        else:
            row["outcome"] = "ptp"
            amount = round(c.account["balance"] * float(rng.uniform(0.4, 1.0)), 2)
            due = (local + timedelta(days=int(rng.integers(1, 6)))).date()
            row["amount"] = amount
            row["promise_date"] = due.isoformat()
        return row
    rest = rng.random()
    if rest < 0.02:
        row["outcome"] = "opted_out"
    elif rest < 0.14:
        row["outcome"] = "not_interested" if telesales else "refused"
    elif rest < 0.24:
        row["outcome"] = "callback"
        row["callback_at"] = (local + timedelta(hours=int(rng.integers(2, 30)))).isoformat()
    elif rest < 0.30 and not telesales:
        row["outcome"] = "dispute"
    elif rest < 0.50:
        row["outcome"] = "hung_up"
    else:
        row["outcome"] = "right_party"
    return row
