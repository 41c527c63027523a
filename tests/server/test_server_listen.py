"""Listen-in: a live call's audio (callee left, agent right) streamed read-only over /ws/listen, from the
recorder's live spool; only to keys that may hear recordings."""
from __future__ import annotations

import os
import stat
from datetime import UTC, datetime

import numpy as np
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from agent.recording import LiveSpool, StereoRecorder, live_spool_path
from agent.server.app import create_app
from agent.server.auth import create_key
from agent.store.db import session_scope
from agent.store.models import Call
from tests.server_helpers import backends, drop_schema, make_database_url, seed_call

pytestmark = pytest.mark.db
RATE = 16000


def tone(freq: float, seconds: float, amp: int = 8000) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def feed(rec: StereoRecorder, callee: np.ndarray, frame: int = 320) -> None:
    for i in range(0, len(callee), frame):
        rec.add_callee(callee[i:i + frame])


def test_the_spool_holds_what_was_heard_and_goes_away(tmp_path):
    rec = StereoRecorder()
    rec.live = LiveSpool.open(tmp_path, "ab" * 16)
    path = live_spool_path(tmp_path, "ab" * 16)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    rec.add_agent(tone(300, 1.0))  # queued: one second of agent speech from now
    feed(rec, tone(900, 0.5, 2000))  # half a second passes: the callee talks over it (barge-in)
    rec.cut_agent()
    feed(rec, tone(900, 0.5, 2000))
    data = np.frombuffer(path.read_bytes(), dtype="<i2").reshape(-1, 2)
    assert len(data) == RATE
    assert np.abs(data[:, 0]).max() > 1500  # callee left
    assert np.abs(data[: RATE // 2, 1]).max() > 7000 and np.abs(data[RATE // 2:, 1]).max() == 0  # cut: never heard
    rec.live.close()
    assert not path.exists()
    with pytest.raises(ValueError):
        live_spool_path(tmp_path, "../../etc/passwd")


@pytest.fixture(params=backends())
def env(request, tmp_path, monkeypatch):
    from agent.config import get_settings

    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    url = make_database_url(tmp_path, request.param)
    app = create_app(url)
    keys = {}
    with session_scope(url) as s:
        for scope in ("supervisor", "crm"):
            keys[scope], _ = create_key(s, scope)
    with TestClient(app) as client:
        yield {"url": url, "c": client, "keys": keys, "tmp": tmp_path, "var": tmp_path / "var"}
    drop_schema(url)
    get_settings.cache_clear()


def connect(env, call_id: str, scope: str = "supervisor"):
    return env["c"].websocket_connect(f"/ws/listen?call_id={call_id}",
                                      headers={"Authorization": f"Bearer {env['keys'][scope]}"})


def test_a_supervisor_hears_both_channels_of_a_live_call_until_it_ends(env):
    call_id = seed_call(env["url"], env["tmp"], status="live")
    rec = StereoRecorder()
    rec.live = LiveSpool.open(env["var"], call_id)
    rec.add_agent(tone(300, 2.0))
    feed(rec, tone(900, 1.0, 3000))
    got = bytearray()
    with connect(env, call_id) as ws:
        fmt = ws.receive_json()
        assert fmt == {"type": "format", "call_id": call_id, "rate": 16000, "channels": 2,
                       "sample_format": "s16le", "left": "callee", "right": "agent"}
        got += ws.receive_bytes()  # the backlog: the last 0.3 s
        feed(rec, tone(900, 1.0, 3000))
        while len(got) < int(1.2 * RATE) * 4:
            got += ws.receive_bytes()
        with session_scope(env["url"]) as s:
            call = s.get(Call, call_id)
            call.status, call.outcome, call.ended_at = "ended", "ptp", datetime.now(UTC)
        rec.live.close()
        while True:
            m = ws.receive()
            if m.get("bytes"):
                got += m["bytes"]
                continue
            assert '"ended"' in m["text"] and '"ptp"' in m["text"]
            break
    samples = np.frombuffer(bytes(got), dtype="<i2").reshape(-1, 2)
    assert len(got) % 4 == 0 and len(samples) >= 1.2 * RATE
    assert np.abs(samples[:, 0]).max() > 2500 and np.abs(samples[:, 1]).max() > 7000
    # the left is the 900 Hz callee, the right the 300 Hz agent
    spec_l, spec_r = (np.abs(np.fft.rfft(samples[:RATE, ch].astype(float))) for ch in (0, 1))
    freqs = np.fft.rfftfreq(RATE, 1 / RATE)
    assert abs(freqs[spec_l.argmax()] - 900) < 5 and abs(freqs[spec_r.argmax()] - 300) < 5


def test_listen_in_refuses_crm_keys_bad_ids_and_calls_not_live(env):
    call_id = seed_call(env["url"], env["tmp"], status="live")
    ended = seed_call(env["url"], env["tmp"], status="ended")
    for target, scope, code in ((call_id, "crm", 4403), ("../etc", "supervisor", 4422),
                                (ended, "supervisor", 4404), ("f" * 32, "supervisor", 4404)):
        with pytest.raises(WebSocketDisconnect) as exc:
            with connect(env, target, scope) as ws:
                ws.receive_json()
        assert exc.value.code == code, (target, scope)
    with pytest.raises(WebSocketDisconnect) as exc:
        with env["c"].websocket_connect(f"/ws/listen?call_id={call_id}") as ws:
            ws.receive_json()
    assert exc.value.code == 4401
