"""Full calls through the real CallSession (real Whisper, NLU, scripts, TTS) over real sockets:
Twilio Media Streams (websocket, μ-law 8 kHz) with barge-in, and the browser softphone (16 kHz PCM)."""
from __future__ import annotations

import asyncio
import json
import time
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import websockets
from sqlalchemy import select
from websockets.exceptions import InvalidStatus

from tests.tel_support import ServerThread, TwilioPeer, free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
VOICES = Path(__file__).resolve().parents[2] / "telephony_adapter" / "sim" / "voices"
TOKEN = "full-call-token"


def voice(lang: str, intent: str, rate: int) -> np.ndarray:
    from speech.audio import read_audio, to_int16

    items = [json.loads(x) for x in (VOICES / "manifest.jsonl").read_text().splitlines() if x]
    item = next(m for m in items if m["lang"] == lang and m["intent"] == intent)
    return to_int16(read_audio(VOICES / item["file"], target_rate=rate)[0])


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A migrated DB, settings pointing at it, models loaded once, a uvicorn server with our routers."""
    import os

    from fastapi import FastAPI

    from agent.config import get_settings

    tmp = tmp_path_factory.mktemp("telfull")
    port = free_port()
    env = {"DATABASE_URL": f"sqlite:///{tmp}/full.sqlite3", "VAR_DIR": str(tmp / "var"),
           "TWILIO_AUTH_TOKEN": TOKEN, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    get_settings.cache_clear()
    from agent.calls import get_deps
    from agent.server import softphone
    from agent.server.telephony import twilio as twilio_app
    from agent.store import init_db

    init_db()
    get_deps()
    twilio_app.install_stream_hooks()
    app = FastAPI()
    app.include_router(twilio_app.router)
    app.include_router(softphone.router)
    with ServerThread(app, port) as srv:
        yield srv
    for k, v in old.items():
        os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    get_settings.cache_clear()


def make_call(lang: str, transport: str) -> tuple[str, str]:
    from agent.calls import create_call
    from agent.store import session_scope
    from agent.store.models import Account
    from dialogs.library import script_for

    zh = lang == "zh"
    with session_scope() as s:
        acc = Account(name="王芳" if zh else "Emily Johnson", phone="+8613800138000" if zh else "+12125550123",
                      timezone="Asia/Shanghai" if zh else "America/New_York", jurisdiction="CN" if zh else "US",
                      language=lang, purpose="collections", bucket="M1", balance=2000.0 if zh else 450.0,
                      currency="CNY" if zh else "USD", due_date=date(2026, 11, 13), days_past_due=10,
                      id_last4="1234")
        s.add(acc)
        s.flush()
        acc_id = acc.id
    script = script_for("collections", "M1", lang)
    return acc_id, create_call(acc_id, script, transport) if transport else script


def turns(call_id: str) -> list:
    from agent.store import session_scope
    from agent.store.models import Turn

    with session_scope() as s:
        return list(s.scalars(select(Turn).where(Turn.call_id == call_id).order_by(Turn.seq)))


async def until(pred, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_twilio_full_call_with_barge_in(stack):
    from agent.store import session_scope
    from agent.store.models import Call
    from telephony_adapter.twilio import sign

    _, call_id = make_call("zh", "twilio")
    url = f"ws://127.0.0.1:{stack.port}/twilio/media-stream"
    ws = await websockets.connect(url, additional_headers={"X-Twilio-Signature": sign(TOKEN, url)})
    peer = TwilioPeer(ws, call_id)
    await peer.connect_and_start()
    quiet = np.zeros(160, dtype=np.int16)

    async def talk(pcm: np.ndarray) -> None:
        await peer.stream_audio(pcm)

    async def silence_until(pred, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not pred():
            assert time.monotonic() < deadline, "condition not reached in time"
            await talk(quiet)

    # the agent greets; the callee listens until the greeting has played (first mark echoed)
    await silence_until(lambda: len(peer.marks_echoed) >= 1, 30)
    await silence_until(lambda: not peer.playout, 20)
    await talk(voice("zh", "confirm_identity", 8000))
    n_marks = len(peer.marks_echoed)
    # the agent answers; barge in while it is still speaking
    await silence_until(lambda: peer.media_bytes > 0 and len(peer.playout) > 10, 30)
    await talk(voice("zh", "ask_amount_due", 8000))
    await silence_until(lambda: peer.clears >= 1, 10)
    await silence_until(lambda: len(peer.marks_echoed) > n_marks, 30)
    await peer.stop()
    await peer.wait_closed()
    await peer.finish()
    for _ in range(100):
        with session_scope() as s:
            call = s.get(Call, call_id)
            if call.status == "ended":
                break
        await asyncio.sleep(0.1)
    assert call.status == "ended" and call.outcome, call
    ts = turns(call_id)
    callee = [t for t in ts if t.speaker == "callee"]
    agent = [t for t in ts if t.speaker == "agent"]
    assert callee and callee[0].intent == "confirm_identity"
    assert agent[0].text  # the greeting was played (marks confirmed it)
    assert any(t.interrupted for t in agent), [(t.text, t.interrupted) for t in agent]
    assert peer.clears >= 1


async def test_browser_softphone_call(stack):
    account_id, script_id = make_call("en", "")
    url = f"ws://127.0.0.1:{stack.port}/softphone/ws"
    received: list = []
    from agent.server.auth import create_key
    from agent.store import session_scope

    with session_scope() as s:
        key, _ = create_key(s, "supervisor", "softphone test")
    with pytest.raises(InvalidStatus) as refused:  # without a key: refused at the handshake
        await websockets.connect(url)
    assert refused.value.response.status_code == 403
    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {key}"}) as ws:
        await ws.send(json.dumps({"type": "start", "account_id": account_id, "script_id": script_id}))
        first = json.loads(await ws.recv())
        assert first["type"] == "call", first
        call_id = first["call_id"]

        async def reader():
            async for msg in ws:
                received.append(msg)

        task = asyncio.create_task(reader())
        frame = np.zeros(320, dtype=np.int16).tobytes()

        async def send_pcm(pcm: np.ndarray) -> None:
            for i in range(0, len(pcm) - 319, 320):
                await ws.send(pcm[i : i + 320].astype("<i2").tobytes())
                await asyncio.sleep(0.02)

        def agent_audio_s() -> float:
            return sum(len(m) for m in received if isinstance(m, bytes)) / 32000

        def texts(kind: str) -> list[dict]:
            return [j for j in (json.loads(m) for m in received if isinstance(m, str)) if j.get("type") == kind]

        deadline = time.monotonic() + 40
        while agent_audio_s() < 1.0 and time.monotonic() < deadline:
            await ws.send(frame)
            await asyncio.sleep(0.02)
        last, quiet_since = -1.0, time.monotonic()
        while time.monotonic() - quiet_since < 1.0:  # listen until the greeting has finished
            if agent_audio_s() != last:
                last, quiet_since = agent_audio_s(), time.monotonic()
            await send_pcm(np.zeros(1600, dtype=np.int16))
        await send_pcm(voice("en", "confirm_identity", 16000))
        deadline = time.monotonic() + 40
        while not any(t["speaker"] == "callee" for t in texts("turn")) and time.monotonic() < deadline:
            await send_pcm(np.zeros(3200, dtype=np.int16))
        await ws.send(json.dumps({"type": "hangup"}))
        await asyncio.wait_for(task, 20)
    turns_pushed = texts("turn")
    assert any(t["speaker"] == "agent" and t["text"] for t in turns_pushed)
    assert any(t["speaker"] == "callee" and t["intent"] == "confirm_identity" for t in turns_pushed)
    assert texts("ended") and texts("ended")[0]["end_reason"] == "hangup"
    assert len({len(m) for m in received if isinstance(m, bytes)}) == 1  # 20 ms frames of 640 bytes
    assert call_id
