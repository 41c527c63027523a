"""The one way a call is placed, from every entry point (campaign worker, API, CLI):

    prepare_attempt  – in one transaction: lock the account, ask the compliance gate
                       (`check_and_record`, which writes a block with its rule), mark the attempt
                       `dialing` (so the gate's history counts it from now on, even if this
                       process dies), and create the call row;
    run_prepared     – ring through the network's Dialer, which runs the session if answered;
    close_attempt    – record the network result; the first closer wins (a worker, a Twilio
                       status callback, the lost-worker sweep), and plans the retry or call-back.

`dial_attempt` chains the three. `start_call` is the ad-hoc entry (API, CLI): it makes a one-off
attempt and goes through the same path.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from agent.call_store import CallStore, callback_at
from agent.campaign.compliance import check, check_and_record
from agent.campaign.plan_db import dial_for, gate_history
from agent.dialing.base import (
    ANSWERED,
    CANCELED,
    CONNECT_NETWORKS,
    DIAL_RESULTS,
    FAILED,
    NETWORKS,
    RETRY_RESULTS,
    TRUNK_REFUSED,
    Dialer,
    DialError,
    DialOutcome,
    DialTarget,
)
from agent.errors import UserError
from agent.store import session_scope
from agent.store.models import Account, Attempt, Call, Campaign, OutboxEvent
from agent.timeutil import aware, zone

log = logging.getLogger("dialwise.dialing")

RETRY_BASE = timedelta(minutes=30)
OPEN_STATUSES = ("planned", "claimed", "dialing")
# attempt status once the network has answered for it
_FINAL_STATUS = {r: ("failed" if r in (FAILED, TRUNK_REFUSED, CANCELED) else "done") for r in DIAL_RESULTS}


@dataclass(frozen=True)
class Prepared:
    attempt_id: str
    call_id: str
    target: DialTarget
    network: str


@dataclass(frozen=True)
class Blocked:
    attempt_id: str | None
    rule: str
    reason: str


class DialBlocked(UserError):
    """The compliance gate refused the dial; `rule` is the stable rule id."""

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(f"blocked by compliance rule {rule}: {reason}")
        self.rule = rule
        self.reason = reason


def check_network(network: str, *, connect_ok: bool = False) -> str:
    known = NETWORKS + (CONNECT_NETWORKS if connect_ok else ())
    if network not in known:
        raise UserError(f"unknown network {network!r}; choose one of {', '.join(known)}")
    return network


def _script_language(script_id: str, default: str) -> str:
    from dialogs.library import load_script

    try:
        script = load_script(script_id)
    except Exception as exc:
        raise UserError(f"unknown or invalid script {script_id!r}: {exc}") from exc
    return getattr(getattr(script, "meta", script), "language", default) or default


def _persona(acc: Account) -> dict[str, Any]:
    persona = dict((acc.custom or {}).get("persona") or {"behaviour": "pays"})
    persona.setdefault("lang", acc.language)
    persona.setdefault("name", acc.name)
    persona.setdefault("id_last4", acc.id_last4)
    persona.setdefault("purpose", acc.purpose)
    return persona


def _lock(s, model, key):
    """Row lock on PostgreSQL (two workers never judge one debtor at once); SQLite serialises writers."""
    stmt = select(model).where(model.id == key)
    if s.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return s.scalar(stmt)


def prepare_attempt(attempt_id: str, network: str, *, at: datetime | None = None, worker_id: str | None = None,
                    db_url: str | None = None) -> Prepared | Blocked:
    """Gate, claim and create the call, in one transaction. `at`: the dial instant (default now;
    a simulated campaign clock passes the attempt's slot)."""
    check_network(network, connect_ok=True)
    with session_scope(db_url) as s:
        attempt = _lock(s, Attempt, attempt_id)
        if attempt is None:
            raise UserError(f"no attempt {attempt_id!r}")
        if attempt.status not in ("planned", "claimed"):
            raise UserError(f"attempt {attempt_id} is {attempt.status}; only planned or claimed attempts are dialled")
        acc = _lock(s, Account, attempt.account_id)
        language = _script_language(attempt.script_id, acc.language)
        when = at or datetime.now(UTC)
        verdict = check_and_record(s, dial_for(acc, when, attempt.campaign_id, attempt.script_id), gate_history(s, acc),
                                   account_id=acc.id, attempt_id=attempt.id)
        if not verdict.allowed:
            attempt.status, attempt.result = "blocked", "blocked"
            attempt.blocked_rule = verdict.rule
            attempt.finished_at = datetime.now(UTC)
            log.info("attempt %s blocked by %s", attempt_id, verdict.rule)
            return Blocked(attempt_id, verdict.rule or "unknown", verdict.reason)
        attempt.status = "dialing"
        attempt.network = network
        attempt.dialed_at = when  # from here on the gate counts this dial, whatever happens to us
        if worker_id:
            attempt.claimed_by = worker_id
        call = Call(account_id=acc.id, script_id=attempt.script_id, language=language, transport=network,
                    campaign_id=attempt.campaign_id, attempt_id=attempt.id, status="created", worker_id=worker_id)
        s.add(call)
        s.flush()
        target = DialTarget(call_id=call.id, account_id=acc.id, phone=attempt.phone or acc.phone,
                            script_id=attempt.script_id, language=language, attempt_id=attempt.id,
                            campaign_id=attempt.campaign_id, persona=_persona(acc))
        return Prepared(attempt.id, call.id, target, network)


def schedule_follow_up(attempt_id: str, outcome: str, slots: dict[str, Any], *, now: datetime | None = None,
                       db_url: str | None = None) -> str | None:
    """Plan the next touch an outcome calls for: a retry with exponential backoff after no answer or
    busy (30 min, 1 h, 2 h … up to the campaign's max attempts), or the call-back the callee asked
    for. The gate judges it again when it comes due. Returns the new attempt id, if any."""
    now = now or datetime.now(UTC)
    with session_scope(db_url) as s:
        prev = s.get(Attempt, attempt_id)
        campaign = s.get(Campaign, prev.campaign_id) if prev.campaign_id else None
        if campaign is None:
            return None  # a one-off call (API, CLI) plans nothing by itself
        if outcome == "callback":
            at = callback_at(slots)
            if at is None:
                return None
            acc = s.get(Account, prev.account_id)
            not_before = at.replace(tzinfo=zone(acc.timezone)).astimezone(UTC)
        elif outcome in RETRY_RESULTS and prev.attempt_no < campaign.max_attempts:
            not_before = now + RETRY_BASE * (2 ** (prev.attempt_no - 1))
        else:
            return None
        nxt = Attempt(campaign_id=prev.campaign_id, account_id=prev.account_id, script_id=prev.script_id,
                      phone=prev.phone, not_before=not_before, attempt_no=prev.attempt_no + 1, status="planned")
        s.add(nxt)
        s.flush()
        return nxt.id


def close_attempt(attempt_id: str, result: str, *, call_outcome: str | None = None,
                  slots: dict[str, Any] | None = None, detail: str | None = None, provider_ref: str | None = None,
                  now: datetime | None = None, db_url: str | None = None) -> bool:
    """Record how the dial ended. Idempotent: only the first closer writes and plans the follow-up
    (a retry for busy / no answer, or the call-back the callee asked for); returns whether it did."""
    if result not in DIAL_RESULTS:
        raise ValueError(f"unknown dial result {result!r}")
    finished = datetime.now(UTC)
    with session_scope(db_url) as s:
        res = s.execute(update(Attempt).where(Attempt.id == attempt_id, Attempt.finished_at.is_(None),
                                              Attempt.status.in_(OPEN_STATUSES))
                        .values(status=_FINAL_STATUS[result], result=result, finished_at=finished,
                                detail=(detail or None) and detail[:200],
                                provider_ref=provider_ref or Attempt.provider_ref))
        if res.rowcount != 1:
            return False
        attempt = s.get(Attempt, attempt_id)
        call = s.scalar(select(Call).where(Call.attempt_id == attempt_id).order_by(Call.id).limit(1))
        if result == TRUNK_REFUSED:  # the carrier refuses us: every dial of the campaign will fail alike
            s.add(OutboxEvent(type="campaign.alarm", payload={
                "campaign_id": attempt.campaign_id, "attempt_id": attempt_id, "kind": result, "detail": detail}))
            log.error("trunk refused attempt %s (%s): check the trunk before dialling on", attempt_id, detail)
        never_connected = call is not None and call.status == "created"
        call_id = call.id if call is not None else None
    if never_connected:  # close the call row too, with its events, so the CRM hears of it
        try:
            CallStore(call_id, db_url).finish("no_answer", {}, f"network:{result}", None)
        except Exception:  # a race with a session that just went live; the session finishes it
            log.warning("could not finish never-connected call %s", call_id, exc_info=True)
    follow = call_outcome if result == ANSWERED and call_outcome else result
    schedule_follow_up(attempt_id, follow, slots or {}, now=now, db_url=db_url)
    return True


async def run_prepared(prep: Prepared, dialer: Dialer, *, follow_up_clock: datetime | None = None,
                       db_url: str | None = None) -> DialOutcome:
    """Ring through `dialer` (after the carrier's calls-per-second slot, when it has a limit) and close
    the attempt with what the network says."""
    try:
        limit = getattr(dialer, "rate_limit", None)  # (key, calls per second), shared by every worker
        if limit:
            from agent.dialing.rate import wait_for_slot

            await wait_for_slot(limit[0], limit[1], db_url=db_url)
        outcome = await dialer.dial(prep.target)
    except DialError as exc:
        log.warning("dial %s failed: %s", prep.call_id, exc)
        outcome = DialOutcome(FAILED, detail=str(exc))
    except Exception as exc:  # the network adapter broke: the attempt must still close
        log.exception("dial %s failed", prep.call_id)
        outcome = DialOutcome(FAILED, detail=f"{type(exc).__name__}: {exc}")
    call = outcome.call
    close_attempt(prep.attempt_id, outcome.result, call_outcome=call.outcome if call else None,
                  slots=call.slots if call else None, detail=outcome.detail, provider_ref=outcome.provider_ref,
                  now=follow_up_clock, db_url=db_url)
    return outcome


async def dial_attempt(attempt_id: str, dialer: Dialer, *, at: datetime | None = None,
                       simulated_clock: bool = False, worker_id: str | None = None,
                       db_url: str | None = None) -> tuple[Prepared | Blocked, DialOutcome | None]:
    """Gate, dial and close one planned attempt. On a simulated campaign clock the dial happens at the
    attempt's slot (and follow-ups are planned from it)."""
    import asyncio

    clock = None
    if simulated_clock:
        with session_scope(db_url) as s:
            clock = aware(s.get(Attempt, attempt_id).not_before)
    prep = await asyncio.to_thread(prepare_attempt, attempt_id, dialer.network, at=clock or at,
                                   worker_id=worker_id, db_url=db_url)
    if isinstance(prep, Blocked):
        return prep, None
    return prep, await run_prepared(prep, dialer, follow_up_clock=clock, db_url=db_url)


def one_off_attempt(account_id: str, script_id: str, *, phone: str | None = None,
                    db_url: str | None = None) -> str:
    """An attempt outside any campaign (API, CLI), so the gate and its history see the dial."""
    _script_language(script_id, "zh")
    with session_scope(db_url) as s:
        acc = s.get(Account, account_id)
        if acc is None:
            raise UserError(f"no account with id {account_id!r}")
        att = Attempt(account_id=acc.id, script_id=script_id, phone=phone or acc.phone, status="claimed",
                      not_before=datetime.now(UTC), claimed_at=datetime.now(UTC))
        s.add(att)
        s.flush()
        return att.id


def start_call(account_id: str, script_id: str, network: str, *, phone: str | None = None,
               worker_id: str | None = None, db_url: str | None = None) -> Prepared:
    """The ad-hoc entry point: a one-off attempt through the gate. Raises DialBlocked when refused;
    the caller then runs `run_prepared` (in the background, for the API)."""
    check_network(network, connect_ok=True)
    attempt_id = one_off_attempt(account_id, script_id, phone=phone, db_url=db_url)
    prep = prepare_attempt(attempt_id, network, worker_id=worker_id, db_url=db_url)
    if isinstance(prep, Blocked):
        raise DialBlocked(prep.rule, prep.reason)
    return prep


def dry_run_call(account_id: str, script_id: str, network: str, *, db_url: str | None = None) -> str:
    """Judge the dial (nothing is recorded: no dial happens) and create the call row a real dial would
    use. Raises DialBlocked when the gate would refuse. Returns the call id."""
    check_network(network, connect_ok=True)
    language = _script_language(script_id, "zh")
    with session_scope(db_url) as s:
        acc = s.get(Account, account_id)
        if acc is None:
            raise UserError(f"no account with id {account_id!r}")
        verdict = check(dial_for(acc, datetime.now(UTC), script_id=script_id), gate_history(s, acc))
        if not verdict.allowed:
            raise DialBlocked(verdict.rule or "unknown", verdict.reason)
        call = Call(account_id=acc.id, script_id=script_id, language=language or acc.language,
                    transport=network, status="created")
        s.add(call)
        s.flush()
        return call.id
