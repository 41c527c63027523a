"""The live monitor websocket: pushes live calls, each new turn once, and the end of a call."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from agent.server.app import create_app
from agent.server.auth import create_key
from agent.store.db import session_scope
from agent.store.models import Call, Turn
from tests.server_helpers import backends, drop_schema, make_database_url, seed_call

# storage-facing: CI runs these again on PostgreSQL (tools/test.sh)
pytestmark = pytest.mark.db

@pytest.fixture(params=backends())
def env(request, tmp_path):
    url = make_database_url(tmp_path, request.param)
    app = create_app(url)
    with session_scope(url) as s:
        key, _ = create_key(s, "supervisor")
    with TestClient(app) as client:
        yield client, url, key, tmp_path
    drop_schema(url)


def test_live_websocket_streams_turns_written_by_another_writer(env):
    client, url, key, tmp = env
    call_id = seed_call(url, tmp, language="zh", status="live")
    seed_call(url, tmp, language="en", status="ended")  # not live: never shown
    with client.websocket_connect("/ws/live", headers={"Authorization": f"Bearer {key}"}) as ws:
        first = ws.receive_json()
        assert first["type"] == "calls" and [c["id"] for c in first["calls"]] == [call_id]
        assert first["calls"][0]["phone"].endswith("78") and "13812345678" not in first["calls"][0]["phone"]
        seqs = [ws.receive_json()["turn"]["seq"] for _ in range(3)]
        assert seqs == [0, 1, 2]
        with session_scope(url) as s:
            s.add(Turn(call_id=call_id, seq=3, speaker="callee", text="我下周五还五百", intent="promise_to_pay",
                       confidence=0.9, start_ms=9000, end_ms=10500))
        msg = ws.receive_json()
        assert msg["type"] == "turn" and msg["turn"]["text"] == "我下周五还五百"
        with session_scope(url) as s:
            call = s.get(Call, call_id)
            call.status, call.outcome, call.ended_at = "ended", "ptp", datetime.now(UTC)
        msgs = [ws.receive_json(), ws.receive_json()]
        assert {"type": "ended", "call_id": call_id, "outcome": "ptp", "status": "ended"} in msgs
        assert {"type": "calls", "calls": []} in msgs


def test_live_websocket_requires_a_key(env):
    client = env[0]
    with pytest.raises(WebSocketDisconnect) as err:
        with client.websocket_connect("/ws/live") as ws:
            ws.receive_json()
    assert err.value.code == 4401
