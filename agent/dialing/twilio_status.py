"""What Twilio's status callbacks and a finished media-stream session do to the call and attempt.

Callbacks and the media stream arrive in any order, possibly in different processes that share
the database. Each step is idempotent: the first closer of an attempt wins, a never-connected
call is finished exactly once (a conditional UPDATE claims it), and an unknown call is logged.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import update

from agent.dialing.base import ANSWERED, BUSY, CANCELED, FAILED, NO_ANSWER
from agent.dialing.waiters import CallEnd, resolve
from agent.store import session_scope
from agent.store.models import Attempt, Call

log = logging.getLogger("dialwise.twilio")

# Twilio CallStatus of a call that never connected -> the dial result
FINAL_RESULTS = {"busy": BUSY, "no-answer": NO_ANSWER, "failed": FAILED, "canceled": CANCELED}
PROGRESS = {"queued", "initiated", "ringing", "in-progress", "answered"}
NOT_CONNECTED_END = "twilio:"  # end_reason prefix of a call finished by a callback, e.g. twilio:busy


def close_attempt(attempt_id: str | None, result: str, *, outcome: str | None = None,
                  slots: dict[str, Any] | None = None, db_url: str | None = None) -> bool:
    """Close the attempt through the dial path's closer (first closer wins, retries planned)."""
    if not attempt_id:
        return False
    try:
        from agent.dialing.place import close_attempt as closer
    except ImportError:  # interim until agent/dialing/place.py lands: the same contract, here
        return _close_attempt_interim(attempt_id, result, outcome=outcome, slots=slots or {}, db_url=db_url)
    return bool(closer(attempt_id, result, outcome=outcome))


def _close_attempt_interim(attempt_id: str, result: str, *, outcome: str | None, slots: dict[str, Any],
                           db_url: str | None) -> bool:
    from agent.dialing.base import RETRY_RESULTS
    from agent.runner import schedule_follow_up

    status = "done" if result in (ANSWERED, BUSY, NO_ANSWER) else "failed"
    now = datetime.now(timezone.utc)
    with session_scope(db_url) as s:
        won = s.execute(update(Attempt).where(Attempt.id == attempt_id,
                                              Attempt.status.notin_(("done", "failed", "blocked")))
                        .values(status=status, result=result)).rowcount == 1
        if won:
            att = s.get(Attempt, attempt_id)
            att.dialed_at = att.dialed_at or now
    if won and (result in RETRY_RESULTS or outcome):
        schedule_follow_up(attempt_id, result if result in RETRY_RESULTS else outcome, slots, db_url=db_url)
    return won


def _finish_unconnected(call_id: str, status: str, db_url: str | None) -> bool:
    """Finish a call that never went live (outcome no_answer). Exactly once, whoever calls."""
    with session_scope(db_url) as s:
        claimed = s.execute(update(Call).where(Call.id == call_id, Call.status == "created")
                            .values(status="ended")).rowcount == 1
    if claimed:
        from agent.call_store import CallStore

        CallStore(call_id, db_url).finish("no_answer", {}, f"{NOT_CONNECTED_END}{status}", None)
    return claimed


def apply_call_status(call_id: str, params: dict[str, str], db_url: str | None = None) -> dict[str, Any]:
    """Apply one (already authenticated) status callback. Never raises for an unknown call."""
    status = params.get("CallStatus", "")
    sid = params.get("CallSid") or None
    with session_scope(db_url) as s:
        call = s.get(Call, call_id)
        if call is None:
            log.warning("twilio status %r for unknown call %s (CallSid %s): ignored", status, call_id, sid)
            return {"call_id": call_id, "status": status, "known": False}
        call_status, attempt_id, started = call.status, call.attempt_id, call.started_at is not None
        attempt = s.get(Attempt, attempt_id) if attempt_id else None
        if attempt is not None:
            attempt.provider_ref = sid or attempt.provider_ref
            if attempt.dialed_at is None:
                attempt.dialed_at = datetime.now(timezone.utc)
            if status in PROGRESS and attempt.status in ("planned", "claimed"):
                attempt.status = "dialing"
        outcome, slots = call.outcome, dict(call.slots or {})
    if status in FINAL_RESULTS:
        result = FINAL_RESULTS[status]
        if call_status == "created":
            _finish_unconnected(call_id, status, db_url)
        close_attempt(attempt_id, result, db_url=db_url)
        resolve(call_id, CallEnd("status", result, sid))
    elif status == "completed":
        if call_status == "created" and not started:
            # the callee answered but our stream never ran (or nobody answered): no session to wait for
            result = FAILED if int(params.get("CallDuration") or 0) > 0 else NO_ANSWER
            if _finish_unconnected(call_id, "completed", db_url):
                close_attempt(attempt_id, result, db_url=db_url)
                resolve(call_id, CallEnd("status", result, sid))
        elif call_status == "ended" and started:
            close_attempt(attempt_id, ANSWERED, outcome=outcome, slots=slots, db_url=db_url)
        # live: the session still runs (here or in another process); its runner closes the attempt
    elif status not in PROGRESS:
        log.warning("twilio status %r for call %s: unknown CallStatus, ignored", status, call_id)
    return {"call_id": call_id, "status": status, "known": True}


def session_finished(call_id: str, result: Any, db_url: str | None = None) -> None:
    """The media-stream session for `call_id` ended in this process: close the attempt, wake the dialer."""
    with session_scope(db_url) as s:
        call = s.get(Call, call_id)
        attempt_id = call.attempt_id if call else None
        sid = s.get(Attempt, attempt_id).provider_ref if attempt_id else None
    close_attempt(attempt_id, ANSWERED, outcome=getattr(result, "outcome", None),
                  slots=getattr(result, "slots", None), db_url=db_url)
    resolve(call_id, CallEnd("session", result, sid))
