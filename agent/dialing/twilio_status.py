"""What Twilio's status callbacks and a finished media-stream session do to the call and attempt.

Callbacks and the media stream arrive in any order, possibly in different processes that share
the database. Each step is idempotent: the first closer of an attempt wins (place.close_attempt,
which also finishes a never-connected call), and an unknown call is answered and logged.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from agent.dialing.base import ANSWERED, BUSY, CANCELED, FAILED, NO_ANSWER
from agent.dialing.waiters import CallEnd, resolve
from agent.store import session_scope
from agent.store.models import Attempt, Call

log = logging.getLogger("dialwise.twilio")

# Twilio CallStatus of a call that never connected -> the dial result
FINAL_RESULTS = {"busy": BUSY, "no-answer": NO_ANSWER, "failed": FAILED, "canceled": CANCELED}
PROGRESS = {"queued", "initiated", "ringing", "in-progress", "answered"}


def _close(attempt_id: str | None, result: str, *, sid: str | None, status: str, outcome: str | None = None,
           slots: dict[str, Any] | None = None, db_url: str | None = None) -> bool:
    """Close the attempt through the dial path's closer (first closer wins; it plans the retry and
    finishes a never-connected call row)."""
    if not attempt_id:
        return False
    from agent.dialing.place import close_attempt

    return close_attempt(attempt_id, result, call_outcome=outcome, slots=slots, detail=f"twilio: {status}",
                         provider_ref=sid, db_url=db_url)


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
                attempt.dialed_at = datetime.now(UTC)
            if status in PROGRESS and attempt.status in ("planned", "claimed"):
                attempt.status = "dialing"
        outcome, slots = call.outcome, dict(call.slots or {})
    if status in FINAL_RESULTS:
        result = FINAL_RESULTS[status]
        _close(attempt_id, result, sid=sid, status=status, db_url=db_url)
        resolve(call_id, CallEnd("status", result, sid))
    elif status == "completed":
        if call_status == "created" and not started:
            # answered but our stream never ran, or nobody answered: no session to wait for
            result = FAILED if int(params.get("CallDuration") or 0) > 0 else NO_ANSWER
            _close(attempt_id, result, sid=sid, status=status, db_url=db_url)
            resolve(call_id, CallEnd("status", result, sid))
        elif call_status == "ended" and started:
            _close(attempt_id, ANSWERED, sid=sid, status=status, outcome=outcome, slots=slots, db_url=db_url)
        # live: the session still runs (here or in another process); its runner closes the attempt
    elif status not in PROGRESS:
        log.warning("twilio status %r for call %s: unknown CallStatus, ignored", status, call_id)
    return {"call_id": call_id, "status": status, "known": True}


def session_finished(call_id: str, result: Any, db_url: str | None = None) -> None:
    """The media-stream session for `call_id` ended in this process: close the attempt, wake the dialer."""
    with session_scope(db_url) as s:
        call = s.get(Call, call_id)
        attempt = s.get(Attempt, call.attempt_id) if call and call.attempt_id else None
        attempt_id, sid = (attempt.id, attempt.provider_ref) if attempt else (None, None)
    _close(attempt_id, ANSWERED, sid=sid, status="stream ended", outcome=getattr(result, "outcome", None),
           slots=getattr(result, "slots", None), db_url=db_url)
    resolve(call_id, CallEnd("session", result, sid))
