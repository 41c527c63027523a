"""Creating call rows and running a CallSession on them: the entry point every transport uses."""
from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from agent.call_store import CallStore
from agent.config import get_settings
from agent.errors import UserError
from agent.pipeline import CallDeps
from agent.session import CallConfig, CallResult, CallSession
from agent.store import session_scope
from agent.store.models import Account as AccountRow
from agent.store.models import Call
from agent.turn_taking import TurnSettings
from dialogs.types import Account
from telephony_adapter.base import Transport

_deps: dict[str, CallDeps] = {}


def get_deps() -> CallDeps:
    """Models and pools for this process, loaded on first use (`dialwise worker` and `serve`: at start) and
    warmed: what a call would otherwise build on first use is built now (agent/warm_up.py)."""
    if "default" not in _deps:
        from agent.warm_up import warm_call_path

        deps = CallDeps.load(get_settings())
        warm_call_path(deps)
        _deps["default"] = deps
    return _deps["default"]


def account_facts(row: AccountRow) -> Account:
    from agent.lifecycle.promises import latest_promise

    promise = latest_promise(row)
    return Account(
        name=row.name, language=row.language, balance=row.balance, currency=row.currency,
        due_date=row.due_date, days_past_due=row.days_past_due, product=row.product,
        id_last4=row.id_last4, lender=(row.custom or {}).get("lender"), limit=row.credit_limit,
        jurisdiction=row.jurisdiction, promise_amount=promise.amount if promise else None,
        promise_date=promise.due_date if promise else None,
    )


def create_call(account_id: str, script_id: str, transport: str = "loopback", *, campaign_id: str | None = None,
                attempt_id: str | None = None, dry_run: bool = False, db_url: str | None = None) -> str:
    """Insert a call row for an account and a script; returns the call id."""
    from dialogs.library import load_script

    try:
        script = load_script(script_id)
    except Exception as exc:
        raise UserError(f"unknown or invalid script {script_id!r}: {exc}") from exc
    with session_scope(db_url) as s:
        account = s.get(AccountRow, account_id)
        if account is None:
            raise UserError(f"no account with id {account_id!r}")
        language = getattr(getattr(script, "meta", script), "language", account.language)
        call = Call(account_id=account_id, script_id=script_id, language=language, transport=transport,
                    campaign_id=campaign_id, attempt_id=attempt_id, status="created")
        s.add(call)
        s.flush()
        return call.id


async def run_call(call_id: str, transport: Transport, *, deps: CallDeps | None = None,
                   config: CallConfig | None = None, today: date | None = None,
                   db_url: str | None = None) -> CallResult:
    """Run the full call session for an existing call row over a live transport."""
    settings = get_settings()
    with session_scope(db_url) as s:
        call = s.get(Call, call_id)
        if call is None:
            raise UserError(f"no call with id {call_id!r}")
        if call.status == "ended":
            raise UserError(f"call {call_id} has already ended")
        row = s.get(AccountRow, call.account_id)
        if row is None:
            raise UserError(f"call {call_id}: its account {call.account_id!r} is gone")
        account = account_facts(row)
        script_id = call.script_id
        from agent.worker.identity import current_worker_id

        call.worker_id = current_worker_id() or call.worker_id  # this process runs the session: it owns the call
    config = config or CallConfig(
        silence_reprompt_s=settings.silence_reprompt_s, max_reprompts=settings.max_reprompts,
        max_call_s=settings.max_call_s, eos_silence_ms=settings.eos_silence_ms,
        turns=_turn_settings(settings),
    )
    session = CallSession(
        transport, call_id=call_id, account=account, script_id=script_id, deps=deps or get_deps(),
        store=CallStore(call_id, db_url), config=config, today=today,
        recording_path=Path(settings.recordings_dir) / f"{call_id}.wav",
    )
    from agent.recording import LiveSpool  # listen-in: agent/server/listen.py reads it while the call is live

    session.recorder.live = spool = LiveSpool.open(settings.var_dir, call_id)
    try:
        return await session.run()
    finally:
        if spool is not None:
            spool.close()


def _turn_settings(settings: Any) -> TurnSettings:
    """The turn-taker of a call: TURN_TAKING, and TURN_EARLY_ASR_MS for every language when it is set."""
    turns = TurnSettings(complete_answers=settings.turn_taking == "complete")
    if settings.turn_early_asr_ms is not None:
        turns = turns.with_(early_asr_ms=settings.turn_early_asr_ms)
    return turns
