"""Twilio for real, end to end: TwilioDialer -> REST (official client) -> the Twilio-protocol test
carrier -> signed status callbacks and TwiML fetches -> the signed media stream -> CallSession.
Both sides are real uvicorn servers on free ports; nothing is mocked."""
from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from sqlalchemy import select

from tests.carrier_support import (
    ACCOUNT_SID,
    BUSY,
    EN,
    FAILS,
    FROM,
    NOANSWER,
    TOKEN,
    ZH,
    make_dial,
    twilio_stack,
)

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with twilio_stack(tmp_path_factory.mktemp("twcarrier")) as st:
        yield st


def dialer(**kw):
    from agent.dialing.twilio import TwilioDialer

    return TwilioDialer(ring_timeout_s=kw.pop("ring_timeout_s", 20), poll_s=0.2, **kw)


def rows(call_id: str):
    from agent.store import session_scope
    from agent.store.models import Attempt, Call, Turn

    with session_scope() as s:
        call = s.get(Call, call_id)
        att = s.get(Attempt, call.attempt_id) if call.attempt_id else None
        turns = list(s.scalars(select(Turn).where(Turn.call_id == call_id).order_by(Turn.seq)))
        retries = list(s.scalars(select(Attempt).where(Attempt.account_id == call.account_id,
                                                       Attempt.attempt_no > 1)))
        s.expunge_all()
        return call, att, turns, retries


async def test_busy_no_answer_failed_get_their_results_and_retries(stack):
    from agent.dialing.base import BUSY as R_BUSY
    from agent.dialing.base import FAILED, NO_ANSWER

    d = dialer()
    targets = {n: make_dial("en", n) for n in (BUSY, NOANSWER, FAILS)}
    t0 = time.monotonic()
    outcomes = dict(zip(targets, await asyncio.gather(*(d.dial(t) for t in targets.values())), strict=True))
    await d.close()
    assert time.monotonic() - t0 < 10
    assert {n: o.result for n, o in outcomes.items()} == {BUSY: R_BUSY, NOANSWER: NO_ANSWER, FAILS: FAILED}
    carrier = stack["carrier"]
    for number, target in targets.items():
        out = outcomes[number]
        assert out.provider_ref and out.provider_ref.startswith("CA") and len(out.provider_ref) == 34
        call, att, turns, retries = rows(target.call_id)
        assert call.status == "ended" and call.outcome == "no_answer" and not turns
        assert att.provider_ref == out.provider_ref
        assert att.result == out.result and att.status == ("failed" if number == FAILS else "done")
        cc = carrier.calls[out.provider_ref]
        deadline = time.monotonic() + 5  # the carrier notes a callback's answer once it has it
        while len(cc.callbacks) < (2 if number == FAILS else 3) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert all(code == 200 for _, code in cc.callbacks), cc.callbacks  # signed callbacks accepted
        statuses = [s for s, _ in cc.callbacks]
        assert statuses[0] == "initiated" and statuses[-1] == {BUSY: "busy", NOANSWER: "no-answer",
                                                                FAILS: "failed"}[number]
        if number == FAILS:
            assert not retries
        else:  # busy and no-answer are retried later
            assert len(retries) == 1 and retries[0].attempt_no == 2
            assert retries[0].not_before.replace(tzinfo=None) > att.dialed_at.replace(tzinfo=None)


async def test_rest_errors_are_twilio_shaped_and_surface_clearly(stack):
    from agent.config import get_settings
    from agent.dialing.base import INVALID_NUMBER, TRUNK_REFUSED, DialError

    base = f"http://127.0.0.1:{stack['carrier_port']}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    form = {"To": ZH, "From": FROM, "Twiml": "<Response><Hangup/></Response>"}
    r = httpx.post(base, data=form)
    assert r.status_code == 401 and r.json()["code"] == 20003
    r = httpx.post(base, data={**form, "To": "12345"}, auth=(ACCOUNT_SID, TOKEN))
    assert r.status_code == 400 and r.json()["code"] == 21211 and "not a valid phone number" in r.json()["message"]
    r = httpx.post(base, data={"To": ZH, "From": FROM}, auth=(ACCOUNT_SID, TOKEN))
    assert r.status_code == 400 and r.json()["code"] == 21205
    r = httpx.post(base, data=form, auth=(ACCOUNT_SID, TOKEN))
    assert r.status_code == 201 and r.json()["status"] == "queued" and r.json()["sid"].startswith("CA")
    # through the dialer: a bad number, then wrong credentials, then no credentials at all
    target = make_dial("en", "+1555")
    out = await dialer().dial(target)
    assert out.result == INVALID_NUMBER and "21211" in out.detail, out
    wrong = get_settings().model_copy(update={"twilio_auth_token": "not-the-token"})
    out = await dialer(settings=wrong).dial(make_dial("en", EN))
    assert out.result == TRUNK_REFUSED and "HTTP 401" in out.detail
    missing = get_settings().model_copy(update={"twilio_from_number": ""})
    with pytest.raises(DialError, match="TWILIO_FROM_NUMBER"):
        await dialer(settings=missing).dial(make_dial("en", EN))
    unreachable = get_settings().model_copy(update={"twilio_api_base_url": "http://127.0.0.1:9"})
    with pytest.raises(DialError, match="cannot reach Twilio"):
        await dialer(settings=unreachable).dial(make_dial("en", EN))


async def test_impostor_carrier_is_refused(stack, tmp_path):
    """A carrier that knows the account's REST credentials but signs with another token: its
    callbacks get 403 and its media-stream handshake is refused; nothing reaches the call."""
    from agent.config import get_settings
    from agent.dialing.base import FAILED
    from telephony_adapter.sim.twilio_carrier import TwilioCarrier
    from tests.carrier_support import numbers
    from tests.tel_support import ServerThread, free_port

    port = free_port()
    impostor = TwilioCarrier(ACCOUNT_SID, TOKEN, numbers=numbers(), signing_token="someone-else")
    settings = get_settings().model_copy(update={"twilio_api_base_url": f"http://127.0.0.1:{port}"})
    target = make_dial("zh", ZH)
    with ServerThread(impostor.app, port):
        out = await dialer(settings=settings, ring_timeout_s=5, max_call_s=1, slack_s=1).dial(target)
    assert out.result == FAILED and "did not end" in out.detail
    cc = impostor.calls[out.provider_ref]
    assert cc.callbacks and all(code == 403 for _, code in cc.callbacks), cc.callbacks
    assert "403" in (cc.error or ""), cc.error
    call, att, turns, _ = rows(target.call_id)
    assert call.status == "created" and not turns and att.provider_ref == out.provider_ref


@pytest.mark.slow
async def test_zh_and_en_calls_end_to_end(stack):
    """Two live calls at once, one with inline TwiML, one fetching it signed from Url."""
    from agent.calls import get_deps
    from agent.dialing.base import ANSWERED

    await asyncio.to_thread(get_deps)  # the models, loaded once for this process (the server's too)
    zh, en = make_dial("zh", ZH), make_dial("en", EN)
    out_zh, out_en = await asyncio.gather(dialer().dial(zh), dialer(use_url=True).dial(en))
    carrier = stack["carrier"]
    for target, out, intent in ((zh, out_zh, "promise_to_pay"), (en, out_en, "promise_to_pay")):
        assert out.result == ANSWERED and out.call is not None, out
        assert out.extra["ended_by"] == "session"  # the in-process waiter, not the DB poll
        call, att, turns, _ = rows(target.call_id)
        cc = carrier.calls[out.provider_ref]
        assert call.status == "ended" and call.outcome == out.call.outcome
        assert (att.status, att.result, att.provider_ref) == ("done", "answered", out.provider_ref)
        callee = [t for t in turns if t.speaker == "callee"]
        intents = [t.intent for t in callee]
        assert intents[0] == "confirm_identity" and intent in intents, [(t.text, t.intent) for t in turns]
        # the carrier posts "completed" after the stream ends, on its own time: the dial may return before it
        deadline = time.monotonic() + 10
        while "completed" not in [s for s, _ in cc.callbacks] and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert [s for s, _ in cc.callbacks] == ["initiated", "ringing", "in-progress", "completed"]
        assert all(code == 200 for _, code in cc.callbacks)
        assert cc.stream_params == {"call_id": target.call_id}
        rep = cc.report
        assert rep["clips_played"] == [c for c in (["zh_001.wav", "zh_016.wav"] if target is zh
                                                   else ["en_040.wav", "en_056.wav"])]
        assert rep["v2v_ms"] and len(rep["v2v_ms"]) + rep["overlaps"] == 2, rep
        assert all(50 < v < 5000 for v in rep["v2v_ms"]), rep
        assert rep["marks_echoed"] and rep["voiced_s"] > 1.0 and rep["ended_by"] in ("caller", "agent")
    assert carrier.calls[out_en.provider_ref].summary()["twiml_from"] == "url"
