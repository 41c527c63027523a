"""Running planned attempts as calls, N at a time: claim in the database, then the one gated dial path
(`agent.dialing.place`) on the campaign's network. `dialwise demo` and `dialwise campaigns run` run this
in one process; `dialwise worker` runs the same dial path from the queue."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from agent.dialing.base import ANSWERED, Dialer
from agent.dialing.loopback import LoopbackDialer, session_runner
from agent.dialing.place import Blocked, dial_attempt, schedule_follow_up  # noqa: F401  (re-exported)
from agent.dispatcher import claim_due
from agent.pipeline import CallDeps
from agent.session import CallConfig, CallResult
from agent.store import session_scope
from agent.store.models import Account, Attempt
from agent.timeutil import aware

log = logging.getLogger("dialwise.runner")


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
    from agent.dialing.base import DialTarget

    with session_scope(db_url) as s:
        from agent.store.models import Call

        call = s.get(Call, call_id)
        target = DialTarget(call_id=call_id, account_id=call.account_id, phone="", script_id=call.script_id,
                            language=call.language, persona=persona)
    dialer = LoopbackDialer(deps, session_runner(deps, config=config, today=today, db_url=db_url))
    out = await dialer.dial(target)
    return out.call, out.extra["customer_log"], out.extra["callee_latency_ms"]


def db_gate(at: datetime | None, db_url: str | None = None):
    """The compliance gate on the database's current history, as the dial path asks it (for tools and
    tests that want the verdict alone; the dial path itself is `agent.dialing.place.prepare_attempt`)."""
    from agent.campaign.compliance import check_and_record
    from agent.campaign.plan_db import dial_for, gate_history

    async def gate(attempt_id: str) -> tuple[bool, str | None]:
        def judge() -> tuple[bool, str | None]:
            with session_scope(db_url) as s:
                attempt = s.get(Attempt, attempt_id)
                acc = s.get(Account, attempt.account_id)
                when = at or aware(attempt.not_before)
                verdict = check_and_record(s, dial_for(acc, when, attempt.campaign_id, attempt.script_id),
                                           gate_history(s, acc), account_id=acc.id, attempt_id=attempt_id)
                return verdict.allowed, verdict.rule

        return await asyncio.to_thread(judge)

    return gate


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
    worker_id: str | None = None,
) -> list[AttemptReport]:
    """Claim and run every attempt of a campaign due by `at`, `concurrency` calls at a time, each through
    the gated dial path. `dialer`: the network (default: loopback, simulated customers)."""
    if worker_id is None:  # this process runs calls: it registers and beats, so a crash is swept
        from agent.worker.heartbeat import beating

        async with beating("cli", db_url) as identity:
            return await run_attempts(campaign_id=campaign_id, deps=deps, concurrency=concurrency, at=at,
                                      simulated_clock=simulated_clock, today=today, config=config, db_url=db_url,
                                      on_done=on_done, dialer=dialer, worker_id=identity.id)
    at = at or datetime.now(UTC)
    dialer = dialer or LoopbackDialer(deps, session_runner(deps, config=config, today=today, db_url=db_url))
    reports: list[AttemptReport] = []
    sem = asyncio.Semaphore(concurrency)

    async def one(attempt_id: str) -> None:
        async with sem:
            rep = await run_one(attempt_id, dialer, at=None if simulated_clock else at,
                                simulated_clock=simulated_clock, worker_id=worker_id, db_url=db_url)
            reports.append(rep)
            if on_done:
                on_done(rep)

    tasks: list[asyncio.Task[None]] = []
    while True:
        ids = claim_due(50, now=at, campaign_id=campaign_id, worker=worker_id, db_url=db_url)
        if not ids:
            break
        tasks.extend(asyncio.create_task(one(attempt_id)) for attempt_id in ids)
    await asyncio.gather(*tasks)
    return reports


async def run_one(attempt_id: str, dialer: Dialer, *, at: datetime | None = None, simulated_clock: bool = False,
                  worker_id: str | None = None, db_url: str | None = None) -> AttemptReport:
    """One claimed attempt through the gated dial path, as a report."""
    with session_scope(db_url) as s:
        attempt = s.get(Attempt, attempt_id)
        account = s.get(Account, attempt.account_id)
        rep = AttemptReport(attempt_id, account.id, attempt.script_id, account.language, "failed")
    try:
        prep, outcome = await dial_attempt(attempt_id, dialer, at=at, simulated_clock=simulated_clock,
                                           worker_id=worker_id, db_url=db_url)
    except Exception as exc:  # the attempt could not even be prepared (bad script, vanished row)
        log.exception("attempt %s could not be dialled", attempt_id)
        from agent.dispatcher import finish_attempt

        finish_attempt(attempt_id, "failed", "failed", db_url=db_url)
        rep.rule = f"{type(exc).__name__}: {exc}"
        return rep
    if isinstance(prep, Blocked):
        rep.status, rep.rule = "blocked", prep.rule
        return rep
    assert outcome is not None
    rep.result = outcome.call
    rep.customer_log = outcome.extra.get("customer_log", [])
    rep.callee_latency_ms = outcome.extra.get("callee_latency_ms", [])
    rep.status = "done" if outcome.result == ANSWERED and outcome.call is not None else outcome.result
    if outcome.result not in (ANSWERED,) and outcome.detail:
        rep.rule = outcome.detail
    return rep
