"""Finding 3 and the socket limits: a closed /ws/live goes away, the server stops promptly, monitors
are bounded per key, sockets without a key are capped, a wrong key is refused before accept."""
from __future__ import annotations

import asyncio
import signal
import time

import pytest
import websockets
from starlette.websockets import WebSocketDisconnect

from agent.server.live import LiveSockets, live_sockets
from agent.server.socket_gate import ANONYMOUS_PER_CLIENT
from telephony_adapter.twilio import MEDIA_STREAM_PATH
from tests.security.conftest import auth
from tests.server_helpers import seed_call

pytestmark = pytest.mark.db


def _wait_until(cond, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def test_a_closed_monitor_is_noticed_and_its_slot_given_back(env):
    c, key, app = env["client"], env["keys"]["supervisor"], env["app"]
    with c.websocket_connect("/ws/live", headers=auth(key)) as ws:
        assert ws.receive_json()["type"] == "calls"
        assert sum(live_sockets(app).open.values()) == 1
    # nothing changes in the database, so the server never sends: it must notice the close anyway
    assert _wait_until(lambda: sum(live_sockets(app).open.values()) == 0)


def test_monitors_are_bounded_per_key(env):
    c, keys, app = env["client"], env["keys"], env["app"]
    app.state.live_sockets = LiveSockets(2)
    with c.websocket_connect("/ws/live", headers=auth(keys["crm"])) as a, \
            c.websocket_connect("/ws/live", headers=auth(keys["crm"])) as b:
        a.receive_json(), b.receive_json()
        with pytest.raises(WebSocketDisconnect):
            with c.websocket_connect("/ws/live", headers=auth(keys["crm"])) as third:
                third.receive_json()
        with c.websocket_connect("/ws/live", headers=auth(keys["admin"])) as other:  # another key is not affected
            assert other.receive_json()["type"] == "calls"


@pytest.mark.parametrize("headers", [{"Authorization": "Bearer dw_0000_forged"},
                                     {"Cookie": "dialwise_key=dw_abcd_nope"}, {}])
def test_a_monitor_without_a_valid_key_is_refused_before_accept(env, headers):
    with pytest.raises(WebSocketDisconnect):
        with env["client"].websocket_connect("/ws/live", headers=headers) as ws:
            ws.receive_json()


def test_sockets_without_a_key_are_capped(env):
    # Twilio's media stream is the anonymous socket (unsigned when no Twilio auth token is configured):
    # it waits for Twilio's "start" message, so each one is held open
    c = env["client"]
    held = []
    try:
        for _ in range(ANONYMOUS_PER_CLIENT):
            ctx = c.websocket_connect(MEDIA_STREAM_PATH)
            ctx.__enter__()
            held.append(ctx)
        with pytest.raises(WebSocketDisconnect):
            with c.websocket_connect(MEDIA_STREAM_PATH) as extra:
                extra.receive_text()
    finally:
        for ctx in held:
            ctx.__exit__(None, None, None)
    gate_open = lambda: c.websocket_connect(MEDIA_STREAM_PATH)  # noqa: E731
    with gate_open() as again:  # slots come back once those closed
        assert again is not None


def test_the_server_stops_promptly_with_monitors_open_and_abandoned(server, tmp_path):
    seed_call(server.db_url, tmp_path, status="live", with_recording=False)
    uri = f"ws://127.0.0.1:{server.port}/ws/live"

    async def open_and_abandon() -> list:
        kept = []
        for i in range(6):
            ws = await websockets.connect(uri, additional_headers=auth(server.keys["supervisor"]))
            first = await asyncio.wait_for(ws.recv(), 5)
            assert "calls" in first
            if i % 2:
                ws.transport.abort()  # vanish without a close frame
            else:
                kept.append(ws)
        return kept

    kept = asyncio.run(open_and_abandon())
    assert len(kept) == 3
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    server.proc.wait(20)
    assert time.monotonic() - started < 10, server.log()[-2000:]

