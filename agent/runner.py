"""Running a campaign's due attempts in this process, N lines at a time (`dialwise demo`, `dialwise
campaigns run`, the benches): the worker runtime of `dialwise worker` and `dialwise serve`
(`agent.worker.runtime`) with its embedded queue as a `Batch`, one campaign until nothing is due. So
these runs are admitted like any worker's (campaign running, `max_concurrent`, one call per debtor) and
dial through the one gated path (`agent.dialing.place`)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from agent.dialing.base import ANSWERED, Dialer, DialTarget
from agent.dialing.loopback import LoopbackDialer, session_runner
from agent.dialing.place import Blocked, Prepared
from agent.pipeline import CallDeps
from agent.session import CallConfig, CallResult
from agent.store import session_scope
from agent.store.models import Account, Attempt, Call
from agent.worker.embedded import Batch
from agent.worker.lines import Dialled
from agent.worker.runtime import Runtime


@dataclass
class AttemptReport:
    attempt_id: str
    account_id: str
    script_id: str
    language: str
    status: str  # done | blocked | failed | busy | no_answer | …
    result: CallResult | None = None
    rule: str | None = None
    customer_log: list[dict[str, Any]] = field(default_factory=list)
    callee_latency_ms: list[float] = field(default_factory=list)


ProgressFn = Callable[[AttemptReport], None]


async def simulate_dial(call_id: str, persona: dict[str, Any], *, deps: CallDeps, config: CallConfig | None,
                        today: date | None, seed: int, db_url: str | None) -> tuple[CallResult, list, list]:
    """Place one call over the loopback line to a simulated customer; returns (result, log, latencies)."""
    with session_scope(db_url) as s:
        call = s.get(Call, call_id)
        target = DialTarget(call_id=call_id, account_id=call.account_id, phone="", script_id=call.script_id,
                            language=call.language, persona=persona)
    dialer = LoopbackDialer(deps, session_runner(deps, config=config, today=today, db_url=db_url))
    out = await dialer.dial(target)
    return out.call, out.extra["customer_log"], out.extra["callee_latency_ms"]


def report(d: Dialled, db_url: str | None = None) -> AttemptReport:
    """One attempt's report, from what the dial path said of it."""
    if isinstance(d.prep, Prepared):
        t = d.prep.target
        rep = AttemptReport(d.attempt_id, t.account_id, t.script_id, t.language, "failed")
    else:  # blocked, or not even prepared: who it was for comes from the database
        with session_scope(db_url) as s:
            attempt = s.get(Attempt, d.attempt_id)
            account = s.get(Account, attempt.account_id) if attempt is not None else None
            rep = AttemptReport(d.attempt_id, account.id if account else "", attempt.script_id if attempt else "",
                                account.language if account else "", "failed")
    if d.error is not None:
        rep.rule = d.error
    elif isinstance(d.prep, Blocked):
        rep.status, rep.rule = "blocked", d.prep.rule
    elif d.outcome is not None:
        out = d.outcome
        rep.result = out.call
        rep.customer_log = out.extra.get("customer_log", [])
        rep.callee_latency_ms = out.extra.get("callee_latency_ms", [])
        rep.status = "done" if out.result == ANSWERED and out.call is not None else out.result
        if out.result != ANSWERED and out.detail:
            rep.rule = out.detail
    return rep


async def run_attempts(
    *,
    campaign_id: str | None,
    deps: CallDeps,
    concurrency: int = 4,
    at: datetime | None = None,
    simulated_clock: bool = False,
    today: date | None = None,
    config: CallConfig | None = None,
    db_url: str | None = None,
    on_done: ProgressFn | None = None,
    dialer: Dialer | None = None,
) -> list[AttemptReport]:
    """Run every attempt of a campaign that is due by `at` (default: now, as time passes) on
    `concurrency` lines; returns one report per attempt. The retries and call-backs the run plans are
    left to a later run or a worker.
    `dialer`: the network, lent for the run (default: loopback, simulated customers); `simulated_clock`:
    each attempt is dialled at its own slot."""
    dialer = dialer or LoopbackDialer(deps, session_runner(deps, config=config, today=today, db_url=db_url))
    reports: list[AttemptReport] = []

    def dialled(d: Dialled) -> None:
        rep = report(d, db_url)
        reports.append(rep)
        if on_done:
            on_done(rep)

    runtime = Runtime(kind="cli", db_url=db_url, concurrency=concurrency, dialer=dialer,
                      batch=Batch(campaign_id, at, simulated_clock), on_dialled=dialled)
    await runtime.start()
    try:
        await runtime.finished()
    finally:
        await runtime.stop()
    return reports
