"""The lifecycle simulator: both arms in one run; the lifecycle arm places follow-ups and wastes no dial
on accounts with nothing left to gain, the arm without follow-up does."""
from __future__ import annotations

from agent.lifecycle.sim import run


def test_lifecycle_arm_follows_promises_and_stops_wasted_dials():
    out = run(accounts=400, days=6, capacity=80, seed=3)
    a, b = out["without_follow_up"], out["lifecycle"]
    assert a["dials"] > 0 and b["dials"] > 0
    assert a["reminder_dials"] == 0 and a["broken_promise_dials"] == 0
    assert b["reminder_dials"] > 0
    assert a["wasted_dials"] > 0  # today's planner dials paid accounts and pending promises
    assert b["wasted_dials"] < a["wasted_dials"]
    assert out["compare"]["calls_saved"] == a["wasted_dials"] - b["wasted_dials"]
