"""Listen-in: a supervisor hears a live call in the browser. A read-only websocket, `/ws/listen?call_id=`,
streams the call's live spool (agent/recording.LiveSpool: interleaved stereo s16le, callee left, agent
right, written by whichever process on this host runs the call). It never accepts audio from the client.

Messages: first a JSON text {"type": "format", "rate", "channels": 2, "sample_format": "s16le", "left":
"callee", "right": "agent"}; then binary frames of whole stereo samples; at the end {"type": "ended",
"outcome"} (or {"type": "unavailable"} when this host has no audio for the call). Needs a key that may read
recordings (personal data); counted against the key's live-monitor sockets."""
from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, WebSocket
from starlette.concurrency import run_in_threadpool

from agent.config import get_settings
from agent.recording import RATE, live_spool_path
from agent.server.live import pause, serve_monitor
from agent.server.socket_gate import socket_principal
from agent.store.db import session_scope
from agent.store.models import Call

router = APIRouter()

POLL_S = 0.1
STATUS_EVERY = 10  # polls between database checks of the call's status
BACKLOG_S = 0.3  # a new listener starts this far behind the live edge
MAX_CHUNK = 64_000  # bytes per websocket frame (0.5 s)
WAIT_SPOOL_S = 5.0
_CALL_ID = re.compile(r"^[0-9a-f]{32}$")


def _call_state(db_url: str, call_id: str) -> dict[str, Any] | None:
    with session_scope(db_url) as s:
        call = s.get(Call, call_id)
        return None if call is None else {"status": call.status, "outcome": call.outcome}


@router.websocket("/ws/listen")
async def listen(ws: WebSocket) -> None:
    db_url = ws.app.state.db_url
    principal = await socket_principal(ws, db_url, "personal", "listening in needs a key that may hear recordings")
    if principal is None:  # refused at the handshake
        return
    call_id = ws.query_params.get("call_id", "")
    if not _CALL_ID.match(call_id):
        await ws.close(code=4422, reason="call_id must be a call's 32-character id")
        return
    state = await run_in_threadpool(_call_state, db_url, call_id)
    if state is None or state["status"] != "live":
        await ws.close(code=4404, reason="no live call with this id")
        return
    path = live_spool_path(get_settings().var_dir, call_id)

    async def monitor(closed: asyncio.Event) -> None:
        await _stream(ws, db_url, call_id, path, closed)

    await serve_monitor(ws, principal.key_id, "live sockets", monitor)


async def _stream(ws: WebSocket, db_url: str, call_id: str, path: Path, closed: asyncio.Event) -> None:
    await ws.send_json({"type": "format", "call_id": call_id, "rate": RATE, "channels": 2,
                        "sample_format": "s16le", "left": "callee", "right": "agent"})
    waited = 0.0
    while not path.exists():
        if waited >= WAIT_SPOOL_S or closed.is_set():
            await ws.send_json({"type": "unavailable", "detail": "this server has no live audio for the call"})
            await ws.close(code=4404)
            return
        await asyncio.sleep(POLL_S)
        waited += POLL_S
    with path.open("rb") as f:
        size = path.stat().st_size
        backlog = int(BACKLOG_S * RATE) * 4
        f.seek(max(0, size - backlog) // 4 * 4)
        polls = 0
        while not closed.is_set():
            data = f.read(MAX_CHUNK)
            whole = len(data) // 4 * 4
            if whole < len(data):
                f.seek(whole - len(data), 1)  # a sample half written: read it next time
            if whole:
                await ws.send_bytes(data[:whole])
                if len(data) == MAX_CHUNK:
                    continue  # catching up
            polls += 1
            if polls % STATUS_EVERY == 0 or not path.exists():
                state = await run_in_threadpool(_call_state, db_url, call_id)
                if state is None or state["status"] != "live" or not path.exists():
                    rest = f.read()
                    if len(rest) >= 4:
                        await ws.send_bytes(rest[: len(rest) // 4 * 4])
                    await ws.send_json({"type": "ended", "call_id": call_id,
                                        "outcome": state["outcome"] if state else None})
                    await ws.close(code=1000)
                    return
            await pause(closed, POLL_S)
