"""The browser softphone's routes: the page, the accounts and scripts it offers, and the websocket that
creates a call and runs it on a BrowserTransport (the transport lives in telephony_adapter/browser.py,
its wire protocol in telephony_adapter/serializers/browser.py). Every route needs an API key with write
access, sent as the console's cookie or `Authorization: Bearer`; the websocket checks it before it
accepts (HTTP 403 without)."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request, WebSocket
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from sqlalchemy import select

from agent.calls import create_call, run_call
from agent.errors import USER_ERRORS
from agent.server.auth import key_from, lookup
from agent.server.problems import Problem
from agent.server.socket_gate import socket_principal
from agent.store import session_scope
from agent.store.models import Account, Turn
from dialogs.library import list_scripts
from telephony_adapter.base import Start
from telephony_adapter.browser import STATIC, BrowserTransport
from telephony_adapter.serializers.base import ErrorOut
from telephony_adapter.serializers.browser import BrowserSerializer
from telephony_adapter.twilio_routes import StarletteSocket

log = logging.getLogger(__name__)
router = APIRouter(tags=["softphone"])


# --------------------------------------------------------------------------------------------
# auth: the console's API keys, read by the app's one reader (auth.key_from: Bearer header or the
# console cookie), in the settings' database (the one create_call and run_call write)
# --------------------------------------------------------------------------------------------
def _authorized(request: Request) -> bool:
    try:
        key = key_from(request)
    except Problem:  # an Authorization header that is not a Bearer key
        return False
    if not key:
        return False
    with session_scope() as s:
        principal = lookup(s, key)
    return principal is not None and principal.can("write")


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
    if not _authorized(request):
        raise HTTPException(status_code=401, detail="an API key with write access is required")
    with session_scope() as s:
        rows = s.scalars(select(Account).order_by(Account.created_at.desc()).limit(max(1, min(limit, 1000))))
        accounts = [{"id": a.id, "name": a.name, "language": a.language, "purpose": a.purpose,
                     "balance": a.balance, "currency": a.currency} for a in rows]
    scripts = [{"id": sc.id, "language": sc.language, "purpose": sc.purpose} for sc in list_scripts()]
    return JSONResponse({"accounts": accounts, "scripts": scripts})


async def _push_turns(transport: BrowserTransport, call_id: str) -> None:
    """Send new and changed turns to the page (DB polling: works whatever process writes them)."""
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
    # the key is checked at the handshake, before accept: without a key with write access the browser
    # sees HTTP 403 and no socket is held open (the page logs in through /console/session first)
    if await socket_principal(ws, None, "write", "the softphone needs an API key with write access") is None:
        return
    await ws.accept()
    sock = StarletteSocket(ws)

    async def fail(message: str, code: int = 1008) -> None:
        try:
            await sock.send(BrowserSerializer().serialize(ErrorOut(message)) or "")
        except Exception:
            pass
        await sock.close(code, message[:120])

    try:
        raw = await asyncio.wait_for(sock.recv(), 15)
    except TimeoutError:
        raw = None
    first = BrowserSerializer().deserialize(raw) if raw is not None else []
    start = first[0] if len(first) == 1 and isinstance(first[0], Start) else None
    if start is None:
        return await fail('the first message must be {"type": "start", "account_id": ..., "script_id": ...}')
    try:
        call_id = await asyncio.to_thread(create_call, start.params["account_id"], start.params["script_id"],
                                          "browser")
    except USER_ERRORS as exc:
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
        except (TimeoutError, Exception):
            pusher.cancel()
        if result is not None:
            await transport.send_json({"type": "ended", "outcome": result.outcome, "end_reason": result.end_reason})
        await transport.close("call ended")
        await sock.close(1000, "call ended")
