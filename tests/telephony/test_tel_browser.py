"""The softphone transport over a real websocket (uvicorn + the websockets client), with the small
EchoSession of tests/tel_support.py: agent audio as paced binary PCM16 16 kHz frames, DTMF, and
bad input — a bad message is dropped and the call goes on; text that is not our JSON (zh or en)
ends the call with a protocol error the page is told about. The full softphone call with the real
CallSession is in test_tel_fullcall.py."""
from __future__ import annotations

import asyncio
import json
import time

import pytest
import websockets
from fastapi import FastAPI, WebSocket

from tests.tel_support import RESULTS, ServerThread, echo_runner, free_port

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def server():
    from telephony_adapter.browser import BrowserTransport
    from telephony_adapter.twilio_routes import StarletteSocket

    app = FastAPI()

    @app.websocket("/ws")
    async def route(ws: WebSocket) -> None:
        await ws.accept()
        sock = StarletteSocket(ws)
        call_id = ws.query_params["call_id"]
        transport = BrowserTransport(sock, call_id)
        transport.open()
        try:
            await echo_runner(call_id, transport)
        finally:
            await transport.close("call ended")
            await sock.close(1000, "call ended")

    with ServerThread(app, free_port()) as srv:
        yield srv


async def call(server, call_id: str):
    return await websockets.connect(f"ws://127.0.0.1:{server.port}/ws?call_id={call_id}")


async def read_until_closed(ws) -> tuple[int, list[str], list[float]]:
    """(audio bytes, text messages, binary arrival times) until the server closes."""
    audio, texts, times = 0, [], []
    try:
        while True:
            msg = await asyncio.wait_for(ws.recv(), 10)
            if isinstance(msg, bytes):
                audio += len(msg)
                times.append(time.monotonic())
            else:
                texts.append(msg)
    except websockets.exceptions.ConnectionClosed:
        pass
    return audio, texts, times


async def test_paced_audio_dtmf_and_bad_messages_dropped(server):
    ws = await call(server, "web-ok")
    first = await asyncio.wait_for(ws.recv(), 5)
    assert isinstance(first, bytes) and len(first) == 640  # 20 ms of 16 kHz PCM16
    for bad in ('{"type": "dtmf", "digit": "五"}', '{"type": "挂断"}', '{"type": "shout"}',
                '{"type": "start", "account_id": "a"}'):
        await ws.send(bad)  # dropped, each with a log line
    await ws.send(b"\x00" * 641)  # an odd length: the last byte waits for the next message
    await ws.send(b"\x00" * 639)
    await ws.send(json.dumps({"type": "dtmf", "digit": "#"}))  # the echo session hangs up
    audio, texts, times = await read_until_closed(ws)
    rec = RESULTS["web-ok"]
    assert rec.digits == ["#"] and rec.hangup.reason == "completed" and ws.close_code == 1000
    assert rec.audio_in_s == pytest.approx(1280 / 2 / 16000)
    assert audio + 640 == int(3 * 0.4 * 16000) * 2  # the 1.2 s greeting, all of it, in 640-byte frames
    assert times[-1] - times[0] >= 1.0  # paced in real time, not a burst
    assert not any(json.loads(t).get("type") == "error" for t in texts)


@pytest.mark.parametrize("text", ["你好，我是王芳", "hello, this is Emily"])
async def test_text_that_is_not_our_json_ends_the_call_with_a_protocol_error(server, text):
    call_id = f"web-bad-{len(text)}"
    ws = await call(server, call_id)
    await asyncio.wait_for(ws.recv(), 5)
    await ws.send(text)
    _audio, texts, _times = await read_until_closed(ws)
    errors = [json.loads(t) for t in texts if json.loads(t).get("type") == "error"]
    assert errors and "not JSON" in errors[0]["message"]
    assert ws.close_code == 1007
    hangup = RESULTS[call_id].hangup
    assert hangup.reason == "protocol_error" and "not JSON" in (hangup.error or "")
