"""Live monitor: a websocket that pushes ongoing calls and their new turns as they are written.

It polls the database (not an in-process bus), so it sees calls run by any process.
Messages (JSON): {"type": "calls", "calls": [...]} whenever the set of live calls changes,
{"type": "turn", "call_id", "turn": {...}} for each new turn, {"type": "ended", "call_id", "outcome"}.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from agent.id_masking import mask_turn
from agent.server.masking import mask_name, mask_phone
from agent.server.socket_gate import socket_principal
from agent.store.db import session_scope
from agent.store.models import Account, Call, Turn
from agent.timeutil import as_utc

router = APIRouter()

POLL_S = 0.5


def _turn(t: Turn) -> dict[str, Any]:
    return mask_turn({"id": t.id, "seq": t.seq, "speaker": t.speaker, "text": t.text, "intent": t.intent,
            "confidence": t.confidence, "entities": t.entities or {}, "start_ms": t.start_ms,
            "end_ms": t.end_ms, "latency": t.latency or {}, "node": t.node})


def snapshot(db_url: str, known: dict[str, int], call_filter: str | None) -> dict[str, Any]:
    """Live calls now, new turns since `known` (call id -> last turn id), calls that ended."""
    with session_scope(db_url) as s:
        stmt = (select(Call, Account.name, Account.phone)
                .join(Account, Account.id == Call.account_id, isouter=True)
                .where(Call.status == "live").order_by(Call.started_at))
        if call_filter:
            stmt = stmt.where(Call.id == call_filter)
        rows = s.execute(stmt).all()
        calls = [{"id": c.id, "script_id": c.script_id, "language": c.language, "status": c.status,
                  "outcome": c.outcome, "started_at": as_utc(c.started_at).isoformat() if c.started_at else None,
                  "campaign_id": c.campaign_id, "account": mask_name(name), "phone": mask_phone(phone)}
                 for c, name, phone in rows]
        watch = {c["id"] for c in calls} | set(known)
        turns: list[tuple[str, dict[str, Any]]] = []
        if watch:
            floor = min((known.get(cid, 0) for cid in watch), default=0)
            trows = s.scalars(select(Turn).where(Turn.call_id.in_(watch), Turn.id > floor)
                              .order_by(Turn.id)).all()
            for t in trows:
                if t.id > known.get(t.call_id, 0):
                    turns.append((t.call_id, _turn(t)))
        ended = []
        gone = set(known) - {c["id"] for c in calls}
        if gone:
            for c in s.scalars(select(Call).where(Call.id.in_(gone))).all():
                if c.status != "live":
                    ended.append({"call_id": c.id, "outcome": c.outcome, "status": c.status})
    return {"calls": calls, "turns": turns, "ended": ended}


class LiveSockets:
    """Open monitors per API key, bounded: a client that leaks sockets is refused, not served forever."""

    def __init__(self, per_key: int) -> None:
        self.per_key = per_key
        self.open: dict[str, int] = {}

    def take(self, key_id: str) -> bool:
        if self.open.get(key_id, 0) >= self.per_key:
            return False
        self.open[key_id] = self.open.get(key_id, 0) + 1
        return True

    def give_back(self, key_id: str) -> None:
        left = self.open.get(key_id, 0) - 1
        if left > 0:
            self.open[key_id] = left
        else:
            self.open.pop(key_id, None)


def live_sockets(app) -> LiveSockets:
    sockets = getattr(app.state, "live_sockets", None)
    if sockets is None:
        from agent.config import get_settings

        sockets = app.state.live_sockets = LiveSockets(get_settings().live_sockets_per_key)
    return sockets


Monitor = Callable[[asyncio.Event], Awaitable[None]]


async def serve_monitor(ws: WebSocket, key_id: str, what: str, monitor: Monitor) -> None:
    """One read-only monitor socket (`/ws/live`, `/ws/listen`) within its key's budget of live sockets:
    accept, run `monitor(closed)` — `closed` is set once the client goes — until it returns or the socket
    breaks, then give the slot back."""
    sockets = live_sockets(ws.app)
    if not sockets.take(key_id):
        await ws.close(code=4429, reason=f"this key already has {sockets.per_key} {what} open")
        return
    closed = asyncio.Event()
    watcher: asyncio.Task | None = None
    try:
        await ws.accept()
        watcher = asyncio.create_task(_watch_close(ws, closed), name="monitor-close-watch")
        await monitor(closed)
    except (WebSocketDisconnect, RuntimeError, OSError):
        return  # the socket went away while sending
    finally:
        if watcher is not None:
            watcher.cancel()
        sockets.give_back(key_id)


async def pause(closed: asyncio.Event, seconds: float) -> None:
    """Wait `seconds` between polls, or less if the client goes."""
    try:
        await asyncio.wait_for(closed.wait(), seconds)
    except TimeoutError:
        pass


@router.websocket("/ws/live")
async def live(ws: WebSocket) -> None:
    url = ws.app.state.db_url
    principal = await socket_principal(ws, url, "read", "the live monitor needs a key with read access")
    if principal is None:  # refused at the handshake
        return
    call_filter = ws.query_params.get("call_id")

    async def monitor(closed: asyncio.Event) -> None:
        await _serve(ws, url, call_filter, closed)

    await serve_monitor(ws, principal.key_id, "live monitors", monitor)


async def _watch_close(ws: WebSocket, closed: asyncio.Event) -> None:
    """The client sends nothing; read anyway, so a disconnect (or a server shutdown) is noticed."""
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
    except Exception:  # a broken transport is a disconnect too
        return
    finally:
        closed.set()


async def _serve(ws: WebSocket, db_url: str, call_filter: str | None, closed: asyncio.Event) -> None:
    known: dict[str, int] = {}
    last_ids: list[str] | None = None
    while not closed.is_set():
        snap = await run_in_threadpool(snapshot, db_url, dict(known), call_filter)
        if closed.is_set():
            return
        ids = sorted(c["id"] for c in snap["calls"])
        if ids != last_ids:
            await ws.send_json({"type": "calls", "calls": snap["calls"]})
            last_ids = ids
        for c in snap["calls"]:
            known.setdefault(c["id"], 0)
        for call_id, turn in snap["turns"]:
            await ws.send_json({"type": "turn", "call_id": call_id, "turn": turn})
            known[call_id] = max(known.get(call_id, 0), turn["id"])
        for e in snap["ended"]:
            await ws.send_json({"type": "ended", **e})
            known.pop(e["call_id"], None)
        await pause(closed, POLL_S)
