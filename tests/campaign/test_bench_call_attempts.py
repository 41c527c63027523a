"""`bench call` reports every attempt it placed (issue 16): failed, busy and unanswered ones are counted by
status, a failed one is named with its rule, and only connected calls feed the latency figures."""
from __future__ import annotations

from collections import Counter

from agent.demo import tally_attempts
from agent.runner import AttemptReport
from agent.session import CallResult


def _rep(i: int, status: str, connected: bool = False, rule: str | None = None) -> AttemptReport:
    result = CallResult(call_id=f"call{i}", outcome="ptp", slots={}, end_reason="completed", turns=3)
    return AttemptReport(attempt_id=f"attempt{i:04d}", account_id=f"a{i}", script_id="s", language="zh",
                         status=status, result=result if connected else None, rule=rule)


def test_failed_attempts_are_counted_and_named_not_dropped():
    reps = [_rep(1, "done", connected=True), _rep(2, "failed", rule="dial_error"), _rep(3, "busy"),
            _rep(4, "failed"), _rep(5, "no_answer"), _rep(6, "done", connected=True)]
    attempts: Counter[str] = Counter()
    failures: list[str] = []
    connected = tally_attempts(reps, attempts, failures)
    assert [r.attempt_id for r in connected] == ["attempt0001", "attempt0006"]
    assert attempts == {"connected": 2, "failed": 2, "busy": 1, "no_answer": 1}
    assert sum(attempts.values()) == len(reps)
    assert failures == ["attempt0: dial_error", "attempt0: failed"]


def test_a_run_of_only_failures_reports_them_all():
    attempts: Counter[str] = Counter()
    failures: list[str] = []
    assert tally_attempts([_rep(i, "failed", rule="carrier_down") for i in range(3)], attempts, failures) == []
    assert attempts == {"failed": 3} and len(failures) == 3
