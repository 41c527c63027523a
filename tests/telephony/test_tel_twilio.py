"""Twilio Media Streams conformance: a real uvicorn server, a real websocket, a client written
from Twilio's message documentation. The call session here is the small EchoSession (transport
behaviour in isolation); tests/telephony/test_tel_fullcall.py drives the real CallSession."""
from __future__ import annotations

import asyncio
import json
import os
import time

import httpx
import numpy as np
import pytest
import websockets

from tests.tel_support import RESULTS, ServerThread, TwilioPeer, echo_runner, free_port, tone

TOKEN = "test-auth-token-0123456789abcdef"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from fastapi import FastAPI

    from agent.config import get_settings

    port = free_port()
    db = tmp_path_factory.mktemp("tel") / "tel.sqlite3"
    old = {k: os.environ.get(k) for k in ("DATABASE_URL", "TWILIO_AUTH_TOKEN", "PUBLIC_BASE_URL")}
    os.environ.update({"DATABASE_URL": f"sqlite:///{db}", "TWILIO_AUTH_TOKEN": TOKEN,
                       "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"})
    get_settings.cache_clear()
    from agent.store import init_db

    init_db()
    from agent.server.telephony import twilio as twilio_app

    twilio_app.install_stream_hooks(echo_runner)
    app = FastAPI()
    app.include_router(twilio_app.router)
    with ServerThread(app, port) as srv:
        yield srv
    twilio_app.install_stream_hooks()
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    get_settings.cache_clear()


def ws_url(server) -> str:
    return f"ws://127.0.0.1:{server.port}/twilio/media-stream"


def signed_headers(server) -> dict[str, str]:
    from telephony_adapter.twilio import sign

    return {"X-Twilio-Signature": sign(TOKEN, ws_url(server))}


async def open_peer(server, call_id: str) -> TwilioPeer:
    ws = await websockets.connect(ws_url(server), additional_headers=signed_headers(server))
    peer = TwilioPeer(ws, call_id)
    await peer.connect_and_start()
    return peer


async def wait_for(pred, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(8000 * seconds), dtype=np.int16)


async def test_full_call_marks_dtmf_and_pacing(server):
    peer = await open_peer(server, "call-full")
    # callee is quiet while the greeting plays (3 x 0.4 s), then presses 2 and #
    await peer.stream_audio(silence(1.6))
    await wait_for(lambda: len(RESULTS["call-full"].marks_played) == 3)
    await peer.dtmf("2")
    await peer.stream_audio(silence(0.4))
    await wait_for(lambda: "dtmf1" in RESULTS["call-full"].marks_played)
    await peer.dtmf("#")
    await peer.wait_closed()
    await peer.finish()
    rec = RESULTS["call-full"]
    assert rec.events[0] == "start"
    assert rec.digits == ["2", "#"]
    assert rec.marks_played == ["greet1", "greet2", "greet3", "dtmf1"]
    assert rec.audio_in_s == pytest.approx(2.0, abs=0.05)
    assert rec.hangup is not None and rec.hangup.reason == "completed"  # our own hangup ends the call
    # every outbound message names the stream; marks follow their audio
    assert all(m.get("streamSid") == peer.stream_sid for _, m in peer.received)
    assert [m["mark"]["name"] for m in peer.events("mark")] == ["greet1", "greet2", "greet3", "dtmf1"]
    assert peer.media_bytes == 8000 * (1.2 + 0.2)  # 1.2 s greeting + 0.2 s answer, μ-law 1 byte/sample
    assert all(len(json.loads(json.dumps(m))["media"]["payload"]) == 216 for m in peer.events("media"))  # 160 B
    # pacing: the server never ran more than ~1 s of audio ahead of real time
    media_times = [t for t, m in peer.received if m["event"] == "media"]
    first = media_times[0]
    worst = max((i + 1) * 0.02 - (t - first) for i, t in enumerate(media_times[:60]))
    assert worst < 0.5, f"server ran {worst:.2f} s ahead of real time"
    assert peer.closed is not None and peer.closed[0] == 1000
    # the greeting audio is a 440 Hz tone, not garbage: check the spectrum peak
    pcm = peer.heard_pcm()[:3200].astype(np.float32)
    peak_hz = np.argmax(np.abs(np.fft.rfft(pcm))) * 8000 / len(pcm)
    assert abs(peak_hz - 440) < 10


async def test_barge_in_sends_clear_and_drops_unplayed_marks(server):
    peer = await open_peer(server, "call-barge")
    await peer.stream_audio(silence(0.5))  # greet1 (0.4 s) plays, greet2 is playing
    await peer.stream_audio(tone(300, 0.3, 8000, amp=0.5))  # callee talks over the agent
    await wait_for(lambda: peer.clears == 1)
    await peer.stream_audio(silence(0.5))
    await peer.stop()
    await peer.wait_closed()
    await peer.finish()
    rec = RESULTS["call-barge"]
    assert rec.barge_ins == 1
    assert rec.marks_played == ["greet1"]  # the cleared marks Twilio echoes back are not "played"
    assert {"greet2", "greet3"} <= set(peer.marks_echoed) | set(rec.marks_sent)
    assert len(peer.heard) < 8000 * 0.9  # the callee heard far less than the 1.2 s greeting
    assert rec.hangup.reason == "hangup"


async def test_abrupt_disconnect_ends_call_as_hangup(server):
    peer = await open_peer(server, "call-drop")
    await peer.stream_audio(silence(0.2))
    peer.ws.transport.abort()  # TCP reset: no close frame, no stop message
    await peer.finish()
    await wait_for(lambda: RESULTS["call-drop"].hangup is not None)
    assert RESULTS["call-drop"].hangup.reason == "hangup"


async def test_malformed_json_closes_cleanly_and_other_calls_continue(server):
    good = await open_peer(server, "call-neighbour")
    ws = await websockets.connect(ws_url(server), additional_headers=signed_headers(server))
    bad = TwilioPeer(ws, "call-bad")
    await bad.connect_and_start()
    await bad.ws.send('{"event": "media", "sequenceNumber": "2", "media": {"payload": ')
    await bad.wait_closed()
    await bad.finish()
    assert bad.closed[0] == 1007 and "malformed JSON" in bad.closed[1]
    assert RESULTS["call-bad"].hangup.reason == "protocol_error"  # the call ends with a clear event
    # the neighbour call still works
    await good.stream_audio(silence(1.4))
    await wait_for(lambda: len(RESULTS["call-neighbour"].marks_played) == 3)
    await good.stop()
    await good.wait_closed()
    await good.finish()
    assert RESULTS["call-neighbour"].hangup.reason == "hangup"


async def test_duplicate_out_of_order_and_media_before_start(server):
    ws = await websockets.connect(ws_url(server), additional_headers=signed_headers(server))
    peer = TwilioPeer(ws, "call-seq")
    await peer.send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
    await peer.send(peer.media_msg(silence(0.02), seq="1"))  # media before start: ignored
    peer.seq = 1
    await peer.send(peer.start_msg())  # seq 2
    peer._tasks = [asyncio.create_task(peer._reader())]
    frames = [peer.media_msg(silence(0.02)) for _ in range(6)]  # seq 3..8
    order = [frames[0], frames[0], frames[2], frames[1], frames[3], frames[3], frames[5], frames[4]]
    for m in order:
        await peer.send(m)
    await peer.stop()
    await peer.wait_closed()
    await peer.finish()
    rec = RESULTS["call-seq"]
    assert rec.audio_in_s == pytest.approx(6 * 0.02)  # each frame once, duplicates dropped
    assert rec.hangup.reason == "hangup"


async def test_stop_without_start_closes_quietly(server):
    ws = await websockets.connect(ws_url(server), additional_headers=signed_headers(server))
    peer = TwilioPeer(ws, "never")
    await peer.send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
    await peer.stop()
    peer._tasks = [asyncio.create_task(peer._reader())]
    await peer.wait_closed()
    await peer.finish()
    assert peer.closed[0] == 1000
    assert "never" not in RESULTS


async def test_websocket_handshake_signature_refused(server):
    with pytest.raises(websockets.exceptions.InvalidStatus) as err:
        await websockets.connect(ws_url(server), additional_headers={"X-Twilio-Signature": "bm9wZQ=="})
    assert err.value.response.status_code == 403
    with pytest.raises(websockets.exceptions.InvalidStatus) as err:
        await websockets.connect(ws_url(server))
    assert err.value.response.status_code == 403


def test_http_signature_accepts_and_refuses(server):
    from agent.store import session_scope
    from agent.store.models import Account, Attempt, Call
    from telephony_adapter.twilio import sign

    with session_scope() as s:
        acc = Account(name="Li Lei", phone="+8613800000000")
        s.add(acc)
        s.flush()
        att = Attempt(account_id=acc.id, script_id="collections_m1_zh", phone=acc.phone, status="claimed")
        s.add(att)
        s.flush()
        call = Call(account_id=acc.id, attempt_id=att.id, script_id="collections_m1_zh", language="zh",
                    transport="twilio")
        s.add(call)
        s.flush()
        call_id, att_id = call.id, att.id
    base = f"http://127.0.0.1:{server.port}"
    # TwiML: signed GET is accepted and carries the call id to the stream
    url = f"{base}/twilio/twiml/{call_id}"
    r = httpx.get(url, headers={"X-Twilio-Signature": sign(TOKEN, url)})
    assert r.status_code == 200 and "<Connect><Stream" in r.text
    assert f'<Parameter name="call_id" value="{call_id}" />' in r.text
    assert f'url="ws://127.0.0.1:{server.port}/twilio/media-stream"' in r.text
    assert httpx.get(url).status_code == 403
    assert httpx.get(url, headers={"X-Twilio-Signature": sign("other-token", url)}).status_code == 403
    # status callbacks: ringing then no-answer update the attempt and close the call
    surl = f"{base}/twilio/status?call_id={call_id}"
    for status in ("ringing", "no-answer"):
        form = {"CallSid": "CA123", "CallStatus": status, "AccountSid": "AC1"}
        r = httpx.post(surl, data=form, headers={"X-Twilio-Signature": sign(TOKEN, surl, form)})
        assert r.status_code == 200, r.text
    tampered = {"CallSid": "CA123", "CallStatus": "completed", "AccountSid": "AC1"}
    sig = sign(TOKEN, surl, {**tampered, "CallStatus": "busy"})
    assert httpx.post(surl, data=tampered, headers={"X-Twilio-Signature": sig}).status_code == 403
    with session_scope() as s:
        att = s.get(Attempt, att_id)
        call = s.get(Call, call_id)
        assert (att.status, att.result, att.provider_ref) == ("done", "no_answer", "CA123")
        assert call.status == "ended" and call.outcome == "no_answer" and call.end_reason == "network:no_answer"
    # a repeated final callback changes nothing and is still answered 200
    form = {"CallSid": "CA123", "CallStatus": "no-answer", "AccountSid": "AC1"}
    assert httpx.post(surl, data=form, headers={"X-Twilio-Signature": sign(TOKEN, surl, form)}).status_code == 200
    # a callback for a call we do not know is answered 200 (and logged), never 404/500
    uurl = f"{base}/twilio/status?call_id=nosuchcall"
    form = {"CallSid": "CA999", "CallStatus": "completed", "AccountSid": "AC1", "CallDuration": "3"}
    r = httpx.post(uurl, data=form, headers={"X-Twilio-Signature": sign(TOKEN, uurl, form)})
    assert r.status_code == 200 and r.json()["known"] is False


async def test_a_bad_field_is_dropped_and_the_call_goes_on(server):
    """A well-formed message with a bad field (zh or en) is dropped with a log line; the call lives on."""
    peer = await open_peer(server, "call-badfield")
    await peer.dtmf("五")  # not a key
    await peer.dtmf("x")
    bad_media = peer.media_msg(silence(0.02))
    bad_media["media"]["payload"] = "不是base64"
    await peer.send(bad_media)
    await peer.send({"event": "mark", "sequenceNumber": peer._next_seq(), "streamSid": peer.stream_sid, "mark": {}})
    await peer.stream_audio(silence(0.2))
    await peer.dtmf("#")  # the echo session hangs up: it was alive and in order all along
    await peer.wait_closed()
    await peer.finish()
    rec = RESULTS["call-badfield"]
    assert rec.digits == ["#"] and rec.hangup.reason == "completed" and peer.closed[0] == 1000
    assert rec.audio_in_s == pytest.approx(0.2)
