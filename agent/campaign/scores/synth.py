"""A small synthetic portfolio with a hidden, learnable propensity: for tests and `dialwise bench scores`.

Not the campaign simulator (that is agent/campaign/simulate.py, owned by the planner): this one only
produces accounts + history in the `dialwise plan` formats so the scores have something to learn.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np


def synthetic_portfolio(
    n_accounts: int = 2000,
    days: int = 42,
    purpose: str = "collections",
    call_share: float = 0.6,
    payments: bool = True,
    seed: int = 0,
    start: datetime | None = None,
) -> tuple[list[dict], list[dict], np.ndarray]:
    """Returns (accounts, history, true_propensity). Propensity depends on days past due, balance and
    ``features.income_score``; calling raises the chance of a payment (true uplift > 0)."""
    rng = np.random.default_rng(seed)
    start = start or datetime(2025, 3, 3, tzinfo=UTC)
    dpd = rng.integers(1, 90, n_accounts)
    balance = np.round(np.exp(rng.normal(8.0, 1.0, n_accounts)), 2)
    income = rng.normal(0.0, 1.0, n_accounts)
    logit = 0.3 - 0.025 * dpd - 0.5 * np.log10(balance / 3000.0) + 1.0 * income
    if purpose == "telesales":
        logit = logit - 1.5
    p_resp = 1.0 / (1.0 + np.exp(-logit))
    answer_hour = rng.integers(9, 20, n_accounts)  # each customer answers best around one hour
    cn = rng.random(n_accounts) < 0.5
    accounts = []
    for i in range(n_accounts):
        b = "M0" if dpd[i] <= 0 else f"M{min(2, int(np.ceil(dpd[i] / 30)))}"
        accounts.append({
            "id": f"a{i:06d}",
            "phone": f"+86138{i:08d}" if cn[i] else f"+1415555{i:04d}"[:12],
            "timezone": "Asia/Shanghai" if cn[i] else "America/New_York",
            "jurisdiction": "CN" if cn[i] else "US",
            "language": "zh" if cn[i] else "en",
            "purpose": purpose,
            "bucket": b if purpose == "collections" else None,
            "product": "card" if i % 3 else "loan",
            "balance": float(balance[i]),
            "days_past_due": int(dpd[i]) if purpose == "collections" else 0,
            "consent": True,
            "features": {"income_score": float(round(income[i], 3))},
        })
    history: list[dict] = []
    good = "ptp" if purpose == "collections" else "converted"
    for d in range(days):
        day = start + timedelta(days=d)
        called = rng.random(n_accounts) < call_share / 7.0
        for i in np.nonzero(called)[0]:
            hour = int(rng.integers(8, 21))
            tz_off = 8 if cn[i] else -4
            at = day.replace(hour=(hour - tz_off) % 24, minute=int(rng.integers(0, 60)))
            p_ans = 0.7 if abs(hour - answer_hour[i]) <= 2 else 0.25
            if rng.random() > p_ans:
                out = "no_answer" if rng.random() < 0.7 else "voicemail"
            elif rng.random() < p_resp[i]:
                out = good
            else:
                out = rng.choice(["right_party", "refused", "callback", "not_interested", "hung_up"]
                                 if purpose == "telesales" else
                                 ["right_party", "refused", "callback", "dispute", "hung_up"])
            amt = float(round(balance[i] * 0.5, 2)) if out == good else None
            history.append({"account_id": accounts[i]["id"], "at": at.isoformat(),
                            "script_id": f"{purpose}_v{int(rng.integers(1, 3))}", "outcome": str(out),
                            "amount": amt})
            if payments and out == good and purpose == "collections" and rng.random() < 0.7:
                pay_at = at + timedelta(days=int(rng.integers(1, 5)))
                history.append({"account_id": accounts[i]["id"], "at": pay_at.isoformat(),
                                "script_id": None, "outcome": "payment", "amount": amt})
        if payments and purpose == "collections":  # self-cures: payments without a call
            cure = rng.random(n_accounts) < p_resp * 0.01
            for i in np.nonzero(cure & ~called)[0]:
                history.append({"account_id": accounts[i]["id"], "at": (day + timedelta(hours=12)).isoformat(),
                                "script_id": None, "outcome": "payment", "amount": float(balance[i])})
    history.sort(key=lambda h: h["at"])
    return accounts, history, p_resp
