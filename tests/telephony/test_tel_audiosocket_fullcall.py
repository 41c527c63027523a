"""A full call over Asterisk AudioSocket with the real call session (Whisper, NLU, scripts, TTS via
agent.calls.run_call): the server as `dialwise audiosocket serve` runs it (in-process, free port), a
protocol client playing Asterisk (UUID frame, 20 ms slin16 8 kHz frames paced in real time), a real
recorded answer, and the callee hanging up with a 0x00 frame."""
from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from agent.server.audiosocket import serve_calls
from telephony_adapter.audiosocket import call_uuid
from tests.telephony.test_tel_audiosocket import AsteriskPeer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
VOICES = Path(__file__).resolve().parents[2] / "telephony_adapter" / "sim" / "voices"
FRAME = 160  # 20 ms at 8 kHz


def answer_8k() -> tuple[np.ndarray, str]:
    """'Hello, yes, this is Emily speaking.' (a recorded confirm_identity answer) at 8 kHz."""
    from speech.audio import read_audio, to_int16

    item = next(m for m in map(json.loads, (VOICES / "manifest.jsonl").read_text().splitlines())
                if m["file"] == "en_040.wav")
    assert item["intent"] == "confirm_identity"
    return to_int16(read_audio(VOICES / item["file"], target_rate=8000)[0]), item["text"]


def rows(db_url: str, call_id: str) -> tuple[tuple, list[tuple]]:
    from agent.store import session_scope
    from agent.store.models import Call, Turn

    with session_scope(db_url) as s:
        call = s.get(Call, call_id)
        turns = s.scalars(select(Turn).where(Turn.call_id == call_id).order_by(Turn.seq))
        return ((call.status, call.end_reason, call.transport, call.outcome),
                [(t.seq, t.speaker, t.text, t.intent, t.interrupted) for t in turns])


async def test_audiosocket_full_call_with_real_session(settings_env, db_url):
    from agent.calls import create_call, get_deps
    from agent.store import session_scope
    from agent.store.models import Account
    from dialogs.library import script_for

    await asyncio.to_thread(get_deps)  # as `audiosocket serve` does: models first, then accept calls
    with session_scope(db_url) as s:
        acc = Account(name="Emily Johnson", phone="+12125550123", timezone="America/New_York", jurisdiction="US",
                      language="en", purpose="collections", bucket="M1", balance=450.0, currency="USD",
                      due_date=date(2026, 11, 13), days_past_due=10, id_last4="1234")
        s.add(acc)
        s.flush()
        account_id = acc.id
    call_id = create_call(account_id, script_for("collections", "M1", "en"), "audiosocket", db_url=db_url)
    speech, said = answer_8k()

    server = await serve_calls("127.0.0.1", 0)  # as `dialwise audiosocket serve`: agent.calls.run_call
    port = server.sockets[0].getsockname()[1]
    t0 = time.monotonic()
    try:
        peer = await AsteriskPeer.connect(port, call_id)  # sends the 0x01 UUID frame first
        assert uuid.UUID(call_uuid(call_id)).hex == call_id
        quiet = np.zeros(FRAME, dtype=np.int16)

        def agent_audio_s() -> float:
            return sum(len(p) for _, p in peer.audio_frames()) / 16000

        async def silence_until(pred, timeout: float) -> None:
            deadline = time.monotonic() + timeout
            while not pred():
                assert time.monotonic() < deadline, "condition not reached in time"
                assert not peer.closed.is_set(), f"server closed the call early: {peer.kinds()[-5:]}"
                await peer.audio(quiet)  # Asterisk sends 20 ms frames continuously, silence included

        # the agent's opening arrives; listen (sending silence) until it has finished playing
        await silence_until(lambda: agent_audio_s() >= 1.0, 30)
        await silence_until(lambda: peer.audio_frames()[-1][0] < time.monotonic() - 0.6, 30)
        opening_s = agent_audio_s()
        frames_before = len(peer.audio_frames())
        # the callee answers in real time, then silence until the agent has replied
        t_spoke = time.monotonic()
        await peer.audio(speech)
        voiced = np.flatnonzero(np.abs(speech.astype(np.int32)) > 1000)
        t_spoke += voiced[-1] / 8000  # when the last voiced sample went out
        await silence_until(lambda: len(peer.audio_frames()) > frames_before + 50, 30)
        reply_delay = peer.audio_frames()[frames_before][0] - t_spoke
        await silence_until(lambda: any(r[1] == "callee" for r in rows(db_url, call_id)[1]), 10)
        await silence_until(lambda: peer.audio_frames()[-1][0] < time.monotonic() - 0.6, 30)
        # the callee hangs up: 0x00
        await peer.send(0x00)
        await peer.wait_closed(10)
        for _ in range(100):
            state, turns = rows(db_url, call_id)
            if state[0] == "ended":
                break
            await asyncio.sleep(0.1)
    finally:
        server.close()
        await server.wait_closed()
    wall = time.monotonic() - t0
    print(json.dumps({"opening_audio_s": round(opening_s, 2), "reply_after_speech_end_s": round(reply_delay, 2),
                      "agent_audio_s": round(agent_audio_s(), 2), "wall_s": round(wall, 1),
                      "server_sent_hangup_frame": 0x00 in peer.kinds()}))

    assert 0xFF not in peer.kinds(), "the server reported an AudioSocket error"
    frames = peer.audio_frames()
    assert {len(p) for _, p in frames} == {320}  # slin16 8 kHz, 20 ms
    assert opening_s > 2.0 and len(frames) > frames_before + 50  # opening, then the reply came back
    assert state[:3] == ("ended", "hangup", "audiosocket"), state
    agent = [t for t in turns if t[1] == "agent"]
    callee = [t for t in turns if t[1] == "callee"]
    assert agent and "Emily Johnson" in agent[0][2], turns
    assert len(callee) == 1 and callee[0][3] == "confirm_identity", turns
    assert "emily" in callee[0][2].lower(), (callee, said)
    replies = [t for t in agent if t[0] > callee[0][0]]
    assert replies and replies[0][2], turns  # the reply was spoken (its text kept as it played)
    assert not any(t[4] for t in agent), turns  # nothing was cut off: the callee spoke after the opening
