"""How a Twilio dial ends when the database shows the call ended before the session's own close.

The session's runner (agent/server/telephony/twilio.py) closes the attempt on a worker thread and then resolves
the dialer's waiter; the dialer's database poll can see the ended call row first. CI saw a dial return with its
attempt still 'dialing'."""
from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from agent.dialing import waiters
from agent.dialing.twilio import TwilioDialer
from agent.dialing.waiters import CallEnd

SETTINGS = SimpleNamespace(ring_timeout_s=5.0, max_call_s=5.0, twilio_account_sid="AC0", twilio_max_cps=1.0)


def _dialer() -> TwilioDialer:
    d = TwilioDialer(SETTINGS, rest=object(), poll_s=0.05, slack_s=1.0)  # type: ignore[arg-type]
    d._db_end = lambda call_id: CallEnd("session", "read from the database")  # type: ignore[method-assign]
    return d


async def test_a_session_run_here_ends_the_dial_through_its_own_close():
    call_id = "call-here"
    waiter = waiters.register(call_id)
    waiters.session_started(call_id)
    threading.Timer(0.4, waiters.resolve, (call_id, CallEnd("session", "closed by the runner"))).start()
    try:
        out = await _dialer()._wait(SimpleNamespace(call_id=call_id), "CA1", waiter)
    finally:
        waiters.discard(call_id)
    assert out.call == "closed by the runner" and out.extra["ended_by"] == "session"
    assert not waiters.session_here(call_id)


async def test_a_session_run_elsewhere_ends_the_dial_from_the_database_at_once():
    call_id = "call-elsewhere"
    waiter = waiters.register(call_id)
    t = time.monotonic()
    try:
        out = await _dialer()._wait(SimpleNamespace(call_id=call_id), "CA2", waiter)
    finally:
        waiters.discard(call_id)
    assert out.call == "read from the database" and time.monotonic() - t < 1.0


def test_a_session_nobody_waits_for_here_is_not_recorded():
    waiters.session_started("call-nobody")
    assert not waiters.session_here("call-nobody")
