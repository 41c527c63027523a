"""Browser softphone: a page where a supervisor or script author picks an account and a script
and talks to the agent with the microphone.

Websocket protocol (/softphone/ws), all audio PCM 16-bit little-endian mono 16 kHz:
  browser -> server   text  {"type": "start", "account_id": "...", "script_id": "...", "key"?: "..."}  (first)
                      binary  microphone audio (any length; 20 ms = 640 bytes is typical)
                      text  {"type": "dtmf", "digit": "1"} | {"type": "hangup"}
  server -> browser   text  {"type": "call", "call_id": "..."}
                      binary  agent audio, 20 ms frames paced in real time
                      text  {"type": "clear"}  (barge-in: drop what is queued for playback)
                      text  {"type": "turn", "id", "seq", "speaker", "text", "intent", "interrupted"}
                      text  {"type": "ended", "outcome", "end_reason"} | {"type": "error", "message"}
Include with `app.include_router(telephony_adapter.browser.router)`; the page is GET /softphone.
"""
from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import APIRouter, HTTPException, Request, WebSocket
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from telephony_adapter.base import AudioIn, DtmfIn, ProtocolError, Start
from telephony_adapter.wire import PacedTransport

log = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")
RATE = 16000
DTMF_DIGITS = set("0123456789*#")
router = APIRouter(tags=["softphone"])


class BrowserTransport(PacedTransport):
    """One softphone call. Marks are local (the page plays in real time); clear is forwarded."""

    inbound_rate = RATE
    wire_rate = RATE
    bytes_per_sample = 2
    local_marks = True

    def __init__(self, socket: Any, call_id: str, *, lead_s: float = 0.1) -> None:
        super().__init__(lead_s=lead_s)
        self.socket = socket
        self.call_id = call_id
        self._reader: asyncio.Task | None = None
        self._lock = asyncio.Lock()
        self._odd = b""

    def open(self) -> None:
        self._emit(Start(call_id=self.call_id, params={"transport": "browser"}))
        if self._reader is None:
            self._reader = asyncio.get_running_loop().create_task(self._read_loop(), name="softphone-reader")

    async def send_json(self, msg: dict[str, Any]) -> None:
        async with self._lock:
            try:
                await self.socket.send(json.dumps(msg, ensure_ascii=False))
            except Exception as exc:
                self._end("hangup", f"softphone socket failed: {exc}")

    async def _read_loop(self) -> None:
        try:
            while self._ended is None:
                raw = await self.socket.recv()
                if raw is None:
                    self._end("hangup", "softphone closed")
                    break
                try:
                    self._on_message(raw)
                except ProtocolError as exc:
                    self._end("error", str(exc))
                    await self.send_json({"type": "error", "message": str(exc)})
                    await self._pacer.close()
                    await self.socket.close(1007, str(exc)[:120])
                    break
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._end("hangup", f"softphone socket failed: {exc}")

    def _on_message(self, raw: str | bytes) -> None:
        if isinstance(raw, bytes):
            data = self._odd + raw
            cut = len(data) // 2 * 2
            self._odd = data[cut:]
            if cut:
                self._emit(AudioIn(pcm=np.frombuffer(data[:cut], dtype="<i2").astype(np.int16), sample_rate=RATE))
            return
        try:
            msg = json.loads(raw)
        except ValueError:
            raise ProtocolError("softphone sent text that is not JSON") from None
        kind = msg.get("type") if isinstance(msg, dict) else None
        if kind == "dtmf":
            digit = str(msg.get("digit", ""))
            if digit not in DTMF_DIGITS:
                raise ProtocolError(f"dtmf digit {digit!r} is not one of 0-9 * #")
            self._emit(DtmfIn(digit))
        elif kind == "hangup":
            self._end("hangup")
        else:
            raise ProtocolError(f"unknown softphone message type {kind!r}")

    async def _write_frame(self, frame: bytes) -> None:
        async with self._lock:
            try:
                await self.socket.send(frame)
            except Exception as exc:
                self._end("hangup", f"softphone socket failed: {exc}")

    async def _send_clear(self) -> None:
        await self.send_json({"type": "clear"})

    async def _close_wire(self, reason: str) -> None:
        if self._reader is not None and self._reader is not asyncio.current_task():
            self._reader.cancel()

    async def transfer(self, target: str | None = None) -> bool:
        await self.send_json({"type": "transfer", "target": target or ""})
        return False  # nobody to hand a browser call to; the session ends it as transferred


# --------------------------------------------------------------------------------------------
# auth (the console's API keys, when the server package is present)
# --------------------------------------------------------------------------------------------
def _authorized(key: str | None) -> bool:
    try:
        from agent.server.auth import lookup
    except ImportError:
        return True
    from agent.store import session_scope

    if not key:
        return False
    with session_scope() as s:
        principal = lookup(s, key)
    return principal is not None and principal.can("write")


def _key_from(headers: Any, cookies: Any) -> str | None:
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return cookies.get("dialwise_key")


# --------------------------------------------------------------------------------------------
# routes
# --------------------------------------------------------------------------------------------
@router.get("/softphone", response_class=HTMLResponse, include_in_schema=False)
def softphone_page() -> FileResponse:
    return FileResponse(STATIC / "softphone.html", media_type="text/html")


@router.get("/softphone/static/{name}", include_in_schema=False)
def softphone_static(name: str) -> FileResponse:
    path = (STATIC / name).resolve()
    if path.parent != STATIC.resolve() or not path.is_file():
        raise HTTPException(status_code=404, detail="no such file")
    return FileResponse(path)


@router.get("/softphone/options", include_in_schema=False)
def softphone_options(request: Request, limit: int = 200) -> JSONResponse:
    """Accounts and scripts the page offers."""
    if not _authorized(_key_from(request.headers, request.cookies)):
        raise HTTPException(status_code=401, detail="an API key with write access is required")
    from sqlalchemy import select

    from agent.store import session_scope
    from agent.store.models import Account
    from dialogs.library import list_scripts

    with session_scope() as s:
        rows = s.scalars(select(Account).order_by(Account.created_at.desc()).limit(max(1, min(limit, 1000))))
        accounts = [{"id": a.id, "name": a.name, "language": a.language, "purpose": a.purpose,
                     "balance": a.balance, "currency": a.currency} for a in rows]
    scripts = [{"id": sc.id, "language": sc.language, "purpose": sc.purpose} for sc in list_scripts()]
    return JSONResponse({"accounts": accounts, "scripts": scripts})


async def _push_turns(transport: BrowserTransport, call_id: str) -> None:
    """Send new and changed turns to the page (DB polling: works whatever process writes them)."""
    from sqlalchemy import select

    from agent.store import session_scope
    from agent.store.models import Turn

    seen: dict[int, tuple[str, bool]] = {}

    def fetch() -> list[dict[str, Any]]:
        with session_scope() as s:
            rows = s.scalars(select(Turn).where(Turn.call_id == call_id).order_by(Turn.seq))
            return [{"type": "turn", "id": t.id, "seq": t.seq, "speaker": t.speaker, "text": t.text,
                     "intent": t.intent, "interrupted": t.interrupted} for t in rows]

    while True:
        for turn in await asyncio.to_thread(fetch):
            state = (turn["text"], turn["interrupted"])
            if seen.get(turn["id"]) != state:
                seen[turn["id"]] = state
                await transport.send_json(turn)
        if transport.ended:
            return
        await asyncio.sleep(0.3)


@router.websocket("/softphone/ws")
async def softphone_ws(ws: WebSocket) -> None:
    from telephony_adapter.twilio_routes import StarletteSocket

    await ws.accept()
    sock = StarletteSocket(ws)

    async def fail(message: str, code: int = 1008) -> None:
        try:
            await sock.send(json.dumps({"type": "error", "message": message}))
        except Exception:
            pass
        await sock.close(code, message[:120])

    try:
        raw = await asyncio.wait_for(sock.recv(), 15)
        msg = json.loads(raw) if isinstance(raw, str) else None
    except (asyncio.TimeoutError, ValueError):
        msg = None
    if not isinstance(msg, dict) or msg.get("type") != "start":
        return await fail('the first message must be {"type": "start", "account_id": ..., "script_id": ...}')
    key = msg.get("key") or _key_from(ws.headers, ws.cookies)
    if not await asyncio.to_thread(_authorized, key):
        return await fail("an API key with write access is required (log in to the console first)")
    from agent.calls import create_call, run_call
    from agent.errors import UserError

    try:
        call_id = await asyncio.to_thread(create_call, str(msg.get("account_id", "")),
                                          str(msg.get("script_id", "")), "browser")
    except UserError as exc:
        return await fail(str(exc))
    transport = BrowserTransport(sock, call_id)
    await transport.send_json({"type": "call", "call_id": call_id})
    transport.open()
    pusher = asyncio.create_task(_push_turns(transport, call_id))
    result = None
    try:
        result = await run_call(call_id, transport)
    except Exception as exc:
        log.exception("softphone call %s failed", call_id)
        await transport.send_json({"type": "error", "message": f"call failed: {exc}"})
    finally:
        transport._end("completed")
        try:
            await asyncio.wait_for(pusher, 2.0)
        except (asyncio.TimeoutError, Exception):
            pusher.cancel()
        if result is not None:
            await transport.send_json({"type": "ended", "outcome": result.outcome, "end_reason": result.end_reason})
        await transport.close("call ended")
        await sock.close(1000, "call ended")
