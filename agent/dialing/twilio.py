"""The Twilio dialer: place the call through the REST API, then wait until the call is over.

The call ends in one of three ways, in any order and possibly in another process:
- the media stream ran the session here: the session runner resolves this call's waiter;
- a final status callback arrived here (busy, no-answer, failed, canceled, or completed with
  no session): the callback resolves the waiter;
- either happened in another process sharing the database: a poll of the call row every
  `poll_s` sees it.
The wait is bounded by the ring timeout + MAX_CALL_S (+ slack); past it the call is hung up.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from agent.config import get_settings
from agent.dialing import waiters
from agent.dialing.base import (
    ANSWERED,
    FAILED,
    INVALID_NUMBER,
    NO_ANSWER,
    TRUNK_REFUSED,
    DialError,
    DialOutcome,
    DialTarget,
    SessionRunner,
)
from agent.session import CallResult
from agent.store import session_scope
from agent.store.models import Attempt, Call, Turn
from telephony_adapter.twilio_rest import TwilioRefused, TwilioRest, TwilioSetupError, TwilioUnreachable

log = logging.getLogger("dialwise.twilio")

# Twilio error codes that mean "this number cannot be called" (not our account's fault)
INVALID_NUMBER_CODES = {13223, 13224, 21210, 21211, 21214, 21215, 21216, 21217, 21612}
RATE_LIMITED = 429
SESSION_CLOSE_WAIT_S = 10.0  # the most a dial waits for the in-process session to close its attempt


class TwilioDialer:
    network = "twilio"

    def __init__(self, settings: Any | None = None, *, rest: TwilioRest | None = None, use_url: bool = False,
                 ring_timeout_s: float | None = None, poll_s: float = 0.5, db_url: str | None = None,
                 run_session: SessionRunner | None = None, max_call_s: float | None = None,
                 slack_s: float = 30.0) -> None:
        self.settings = settings or get_settings()
        self.rest = rest or TwilioRest(self.settings)
        self.use_url = use_url
        self.ring_timeout_s = float(ring_timeout_s or getattr(self.settings, "ring_timeout_s", 60.0))
        self.poll_s = poll_s
        self.db_url = db_url
        self.run_session = run_session  # runs the session when the media stream lands in this process
        self.max_call_s = max_call_s if max_call_s is not None else float(self.settings.max_call_s)
        self.slack_s = slack_s
        # Twilio's calls-per-second limit per account, held across all workers by the dial path
        self.rate_limit: tuple[str, float] | None = (f"twilio:{self.settings.twilio_account_sid}",
                                                     float(self.settings.twilio_max_cps))

    @classmethod
    def from_settings(cls, settings: Any, run_session: SessionRunner | None = None, *,
                      db_url: str | None = None) -> TwilioDialer:
        return cls(settings, db_url=db_url, run_session=run_session)

    async def close(self) -> None:
        client = self.rest._client
        session = getattr(getattr(client, "http_client", None), "session", None)
        if session is not None:
            session.close()

    async def dial(self, target: DialTarget) -> DialOutcome:
        waiter = waiters.register(target.call_id, self.run_session)
        try:
            try:
                sid = await self._place(target)
            except TwilioRefused as exc:
                log.warning("call %s to %s refused: %s", target.call_id, target.phone, exc)
                return DialOutcome(_refusal_result(exc), detail=str(exc),
                                   extra={"http_status": exc.status, "code": exc.code})
            await asyncio.to_thread(self._record_sid, target, sid)
            return await self._wait(target, sid, waiter)
        finally:
            waiters.discard(target.call_id)

    # --- placement ------------------------------------------------------------------------------
    async def _place(self, target: DialTarget) -> str:
        for attempt in range(4):
            try:  # the dial path has taken this account's calls-per-second slot (rate_limit)
                return await asyncio.to_thread(self.rest.place_call, target.call_id, target.phone,
                                               use_url=self.use_url, timeout_s=int(self.ring_timeout_s))
            except (TwilioSetupError, TwilioUnreachable) as exc:
                raise DialError(str(exc)) from None
            except TwilioRefused as exc:
                if exc.status != RATE_LIMITED or attempt == 3:
                    raise
                log.info("twilio says too many requests; retrying call %s in %.1f s", target.call_id, 2**attempt)
                await asyncio.sleep(2**attempt)
        raise AssertionError("unreachable")

    def _record_sid(self, target: DialTarget, sid: str) -> None:
        if not target.attempt_id:
            return
        with session_scope(self.db_url) as s:
            att = s.get(Attempt, target.attempt_id)
            if att is not None and not att.provider_ref:
                att.provider_ref = sid

    # --- waiting for the end --------------------------------------------------------------------
    async def _wait(self, target: DialTarget, sid: str, waiter: asyncio.Future[waiters.CallEnd]) -> DialOutcome:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ring_timeout_s + self.max_call_s + self.slack_s
        while True:
            try:
                end = await asyncio.wait_for(asyncio.shield(waiter), timeout=self.poll_s)
                break
            except TimeoutError:
                pass
            end = await asyncio.to_thread(self._db_end, target.call_id)
            if end is not None:
                if end.kind == "session" and not waiter.done() and waiters.session_here(target.call_id):
                    # the session ran in this process: the database shows the call ended before that session's
                    # runner has closed the attempt (on a worker thread, `session_finished`), which then
                    # resolves the waiter; wait for it, so the dial returns with its attempt closed
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(waiter), timeout=SESSION_CLOSE_WAIT_S)
                if waiter.done():
                    end = waiter.result()
                break
            if loop.time() > deadline:
                log.error("call %s (%s): no end within %.0f s; hanging up", target.call_id, sid,
                          self.ring_timeout_s + self.max_call_s)
                try:
                    await asyncio.to_thread(self.rest.hang_up, sid)
                except Exception as exc:
                    log.warning("hang-up of %s failed: %s", sid, exc)
                return DialOutcome(FAILED, provider_ref=sid, detail="the call did not end within its bound")
        if end.kind == "session":
            return DialOutcome(ANSWERED, call=end.value, provider_ref=sid, extra={"ended_by": "session"})
        return DialOutcome(end.value, provider_ref=sid, detail=f"twilio: {end.value}", extra={"ended_by": "status"})

    def _db_end(self, call_id: str) -> waiters.CallEnd | None:
        """The end of the call as the database knows it (written by any process), or None."""
        with session_scope(self.db_url) as s:
            call = s.get(Call, call_id)
            if call is None:
                return None
            att = s.get(Attempt, call.attempt_id) if call.attempt_id else None
            if call.status == "ended" and call.started_at is not None:
                turns = list(s.query(Turn).filter(Turn.call_id == call_id).order_by(Turn.seq))
                result = CallResult(
                    call_id, call.outcome or "hung_up", dict(call.slots or {}), call.end_reason or "completed",
                    turns=len(turns),
                    latencies=[t.latency for t in turns if (t.latency or {}).get("voice_to_voice_ms")],
                    recording_path=call.recording_path, error=call.error)
                return waiters.CallEnd("session", result)
            if att is not None and att.finished_at is not None and att.result and att.result != ANSWERED:
                return waiters.CallEnd("status", att.result)  # closed by a callback, in some process
            if call.status == "ended" and call.started_at is None:
                return waiters.CallEnd("status", att.result if att is not None and att.result else NO_ANSWER)
            return None


def _refusal_result(exc: TwilioRefused) -> str:
    if exc.code in INVALID_NUMBER_CODES:
        return INVALID_NUMBER
    if exc.status in (401, 403) or exc.status >= 500:
        return TRUNK_REFUSED
    return FAILED
