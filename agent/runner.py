"""Running planned attempts as calls: claim in the database, ask the gate, dial, record the result.

The loopback network connects each call to a simulated customer, so a whole campaign runs
offline with the real models. A live network plugs in through the same `dial` seam.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from agent.calls import create_call, run_call
from agent.dispatcher import claim_due, finish_attempt
from agent.pipeline import CallDeps
from agent.session import CallConfig, CallResult
from agent.store import session_scope
from agent.store.models import Account, Attempt

log = logging.getLogger("dialwise.runner")


@dataclass
class AttemptReport:
    attempt_id: str
    account_id: str
    script_id: str
    language: str
    status: str  # done | blocked | failed
    result: CallResult | None = None
    rule: str | None = None
    customer_log: list[dict[str, Any]] = field(default_factory=list)
    callee_latency_ms: list[float] = field(default_factory=list)


ProgressFn = Callable[[AttemptReport], None]


RETRY_OUTCOMES = {"no_answer", "busy"}
RETRY_BASE = timedelta(minutes=30)


def schedule_follow_up(attempt_id: str, outcome: str, slots: dict[str, Any], *, now: datetime | None = None,
                       db_url: str | None = None) -> str | None:
    """Plan the next touch an outcome calls for: a retry with exponential backoff after no answer or
    busy (30 min, 1 h, 2 h … up to the campaign's max attempts), or the call-back the callee asked
    for. The gate judges it again when it comes due. Returns the new attempt id, if any."""
    from agent.call_store import callback_at
    from agent.store.models import Campaign

    now = now or datetime.now(timezone.utc)
    with session_scope(db_url) as s:
        prev = s.get(Attempt, attempt_id)
        campaign = s.get(Campaign, prev.campaign_id) if prev.campaign_id else None
        max_attempts = campaign.max_attempts if campaign else 3
        if outcome == "callback":
            at = callback_at(slots)
            if at is None:
                return None
            acc = s.get(Account, prev.account_id)
            from zoneinfo import ZoneInfo

            not_before = at.replace(tzinfo=ZoneInfo(acc.timezone)).astimezone(timezone.utc)
        elif outcome in RETRY_OUTCOMES and prev.attempt_no < max_attempts:
            not_before = now + RETRY_BASE * (2 ** (prev.attempt_no - 1))
        else:
            return None
        nxt = Attempt(campaign_id=prev.campaign_id, account_id=prev.account_id, script_id=prev.script_id,
                      phone=prev.phone, not_before=not_before, attempt_no=prev.attempt_no + 1, status="planned")
        s.add(nxt)
        s.flush()
        return nxt.id


async def simulate_dial(call_id: str, persona: dict[str, Any], *, deps: CallDeps, config: CallConfig | None,
                        today: date | None, seed: int, db_url: str | None) -> tuple[CallResult, list, list]:
    """Place one call over the loopback line to a simulated customer; returns (result, log, latencies)."""
    from telephony_adapter.loopback import LoopbackLine
    from telephony_adapter.sim import SimulatedCustomer, persona_from_dict

    asr = deps.asr

    def hear(audio16k, lang: str) -> str:  # the customer's ears: the same Whisper, its own thread
        return asr.transcribe(audio16k, language=lang).text

    async with LoopbackLine(call_id=call_id) as line:
        customer = SimulatedCustomer(persona_from_dict(persona), line.customer, transcriber=hear)
        cust_task = asyncio.create_task(customer.run())
        try:
            result = await run_call(call_id, line.agent, deps=deps, config=config, today=today, db_url=db_url)
        finally:
            try:
                await asyncio.wait_for(cust_task, timeout=5)
            except (asyncio.TimeoutError, Exception):  # the customer is a test fixture; the call is done
                cust_task.cancel()
        latencies = [s.latency_ms for s in line.customer.latency if s.latency_ms is not None]
        clog = [e.__dict__ for e in customer.log]
        return result, clog, latencies


def db_gate(at: datetime | None, db_url: str | None = None):
    """The compliance gate asked again right before each dial, on the database's current history.

    `at`: the dial instant; None on a simulated campaign clock, where each dial happens at its slot."""
    from agent.campaign.compliance import check_and_record
    from agent.campaign.plan_db import dial_for, gate_history

    async def gate(attempt_id: str) -> tuple[bool, str | None]:
        def check() -> tuple[bool, str | None]:
            with session_scope(db_url) as s:
                attempt = s.get(Attempt, attempt_id)
                acc = s.get(Account, attempt.account_id)
                when = at or attempt.not_before.replace(tzinfo=attempt.not_before.tzinfo or timezone.utc)
                verdict = check_and_record(s, dial_for(acc, when, attempt.campaign_id), gate_history(s, acc),
                                           account_id=acc.id, attempt_id=attempt_id)
                return verdict.allowed, verdict.rule

        return await asyncio.to_thread(check)

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
    gate: Callable[[str], Awaitable[tuple[bool, str | None]]] | None = None,
) -> list[AttemptReport]:
    """Claim and run every due attempt of a campaign, `concurrency` calls at a time."""
    at = at or datetime.now(timezone.utc)
    gate = gate or db_gate(None if simulated_clock else at, db_url)
    reports: list[AttemptReport] = []
    sem = asyncio.Semaphore(concurrency)

    async def one(attempt_id: str, n: int) -> None:
        async with sem:
            rep = await _run_attempt(attempt_id, n, deps=deps, config=config, today=today, db_url=db_url, gate=gate,
                                     simulated_clock=simulated_clock)
            reports.append(rep)
            if on_done:
                on_done(rep)

    tasks: list[asyncio.Task[None]] = []
    n = 0
    while True:
        ids = claim_due(50, now=at, campaign_id=campaign_id, db_url=db_url)
        if not ids:
            break
        for attempt_id in ids:
            n += 1
            tasks.append(asyncio.create_task(one(attempt_id, n)))
    await asyncio.gather(*tasks)
    return reports


async def _run_attempt(attempt_id: str, n: int, *, deps: CallDeps, config: CallConfig | None,
                       today: date | None, db_url: str | None, gate, simulated_clock: bool = False) -> AttemptReport:
    with session_scope(db_url) as s:
        attempt = s.get(Attempt, attempt_id)
        account = s.get(Account, attempt.account_id)
        persona = dict((account.custom or {}).get("persona") or {"behaviour": "pays"})
        persona.setdefault("lang", account.language)
        persona.setdefault("name", account.name)
        persona.setdefault("id_last4", account.id_last4)
        persona.setdefault("purpose", account.purpose)
        rep = AttemptReport(attempt_id, account.id, attempt.script_id, account.language, "failed")
        campaign_id = attempt.campaign_id
        # on a simulated campaign clock the dial happens at its slot; live, it happens now
        nb = attempt.not_before
        clock = (nb if nb.tzinfo else nb.replace(tzinfo=timezone.utc)) if simulated_clock else None
    if gate is not None:  # asked again right before dialling: history may have changed since planning
        allowed, rule = await gate(attempt_id)
        if not allowed:
            finish_attempt(attempt_id, "blocked", "blocked", rule=rule, db_url=db_url)
            rep.status, rep.rule = "blocked", rule
            return rep
    finish_attempt(attempt_id, "dialing", None, db_url=db_url)
    try:
        call_id = create_call(account_id=rep.account_id, script_id=rep.script_id, transport="loopback",
                              campaign_id=campaign_id, attempt_id=attempt_id, db_url=db_url)
        result, clog, lat = await simulate_dial(call_id, persona, deps=deps, config=config, today=today,
                                                seed=n, db_url=db_url)
        rep.result, rep.customer_log, rep.callee_latency_ms = result, clog, lat
        rep.status = "done"
        finish_attempt(attempt_id, "done", "answered", db_url=db_url)
        schedule_follow_up(attempt_id, result.outcome, result.slots, now=clock, db_url=db_url)
    except Exception as exc:
        log.exception("attempt %s failed", attempt_id)
        finish_attempt(attempt_id, "failed", f"error: {type(exc).__name__}", db_url=db_url)
        rep.status = "failed"
        rep.rule = f"{type(exc).__name__}: {exc}"
    return rep
