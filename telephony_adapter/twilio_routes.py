"""FastAPI routes Twilio talks to: status callbacks, TwiML and the Media Streams websocket.

Include with `app.include_router(telephony_adapter.twilio_routes.router)`. Every HTTP request
and the websocket handshake must carry a valid X-Twilio-Signature (keyed by TWILIO_AUTH_TOKEN);
otherwise 403. With TWILIO_AUTH_TOKEN unset (local development) nothing is checked.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, HTTPException, Request, WebSocket
from fastapi.responses import JSONResponse, Response
from starlette.websockets import WebSocketDisconnect

from agent.config import get_settings
from telephony_adapter.twilio import (
    MEDIA_STREAM_PATH,
    STATUS_PATH,
    TWIML_PATH,
    TwilioMediaStreamTransport,
    TwilioRest,
    media_stream_url,
    stream_twiml,
    validate_signature,
)

log = logging.getLogger(__name__)
router = APIRouter(tags=["twilio"])

CallRunner = Callable[[str, Any], Awaitable[Any]]
_runner: list[CallRunner] = []


def set_call_runner(runner: CallRunner | None) -> None:
    """Replace the session runner (default: agent.calls.run_call). For tools and tests."""
    _runner.clear()
    if runner is not None:
        _runner.append(runner)


def _run_call() -> CallRunner:
    if _runner:
        return _runner[0]
    from agent.calls import run_call

    return run_call


class StarletteSocket:
    """Adapts a Starlette WebSocket to the transports' small TextSocket interface."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self._closed = False

    async def recv(self) -> str | bytes | None:
        if self._closed:
            return None
        try:
            msg = await self.ws.receive()
        except (WebSocketDisconnect, RuntimeError, OSError):
            return None
        if msg.get("type") == "websocket.disconnect":
            self._closed = True
            return None
        if msg.get("text") is not None:
            return msg["text"]
        return msg.get("bytes") or b""

    async def send(self, data: str | bytes) -> None:
        if self._closed:
            raise ConnectionError("websocket closed")
        if isinstance(data, str):
            await self.ws.send_text(data)
        else:
            await self.ws.send_bytes(data)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self.ws.close(code=code, reason=reason)
        except Exception:  # already gone
            pass


# --------------------------------------------------------------------------------------------
# signatures
# --------------------------------------------------------------------------------------------
def _public_url(path: str, query: str) -> str:
    base = get_settings().public_base_url.rstrip("/")
    return base + path + (f"?{query}" if query else "")


async def _require_signature(request: Request) -> dict[str, str]:
    """Returns the form parameters once the signature checks out; 403 otherwise."""
    params: dict[str, str] = {}
    if request.method == "POST":
        form = await request.form()
        params = {k: str(v) for k, v in form.multi_items()}
    token = get_settings().twilio_auth_token
    if token:
        url = _public_url(request.url.path, request.url.query)
        if not validate_signature(token, url, params, request.headers.get("x-twilio-signature")):
            raise HTTPException(status_code=403, detail="invalid or missing X-Twilio-Signature")
    return params


# --------------------------------------------------------------------------------------------
# HTTP: TwiML and status callbacks
# --------------------------------------------------------------------------------------------
@router.api_route(TWIML_PATH + "/{call_id}", methods=["GET", "POST"], include_in_schema=False)
async def twiml(call_id: str, request: Request) -> Response:
    await _require_signature(request)
    from agent.store import session_scope
    from agent.store.models import Call

    with session_scope() as s:
        if s.get(Call, call_id) is None:
            raise HTTPException(status_code=404, detail=f"no call {call_id}")
    body = stream_twiml(call_id, get_settings().public_base_url)
    return Response(content=body, media_type="application/xml")


# Twilio CallStatus -> (attempt status, attempt result, outcome for a call that never connected)
_STATUS_MAP: dict[str, tuple[str, str | None, str | None]] = {
    "queued": ("dialing", None, None),
    "initiated": ("dialing", None, None),
    "ringing": ("dialing", None, None),
    "in-progress": ("dialing", "answered", None),
    "answered": ("dialing", "answered", None),
    "completed": ("done", None, None),
    "busy": ("done", "busy", "no_answer"),
    "no-answer": ("done", "no_answer", "no_answer"),
    "failed": ("failed", "failed", "no_answer"),
    "canceled": ("failed", "failed", "no_answer"),
}


def apply_call_status(call_id: str, params: dict[str, str]) -> dict[str, Any]:
    """Update the attempt (and a never-connected call) from one Twilio status callback."""
    from agent.store import session_scope
    from agent.store.models import Attempt, Call

    status = params.get("CallStatus", "")
    if status not in _STATUS_MAP:
        raise HTTPException(status_code=400, detail=f"unknown CallStatus {status!r}")
    attempt_status, result, outcome = _STATUS_MAP[status]
    finish_call = False
    with session_scope() as s:
        call = s.get(Call, call_id)
        if call is None:
            raise HTTPException(status_code=404, detail=f"no call {call_id}")
        attempt = s.get(Attempt, call.attempt_id) if call.attempt_id else None
        if attempt is not None:
            attempt.provider_ref = params.get("CallSid") or attempt.provider_ref
            if attempt.dialed_at is None:
                attempt.dialed_at = datetime.now(timezone.utc)
            if attempt.status != "done" or attempt_status == "done":
                attempt.status = attempt_status
            if result is not None and attempt.result != "answered":
                attempt.result = result
            if status == "completed" and attempt.result is None:
                attempt.result = "answered" if int(params.get("CallDuration") or 0) > 0 else "no_answer"
        finish_call = outcome is not None and call.status == "created"
    if finish_call:  # the call never connected: close it with an outcome and its events
        from agent.call_store import CallStore

        CallStore(call_id).finish(outcome, {}, f"twilio:{status}", None)
    return {"call_id": call_id, "status": status}


@router.post(STATUS_PATH, include_in_schema=False)
async def status_callback(request: Request, call_id: str) -> JSONResponse:
    params = await _require_signature(request)
    return JSONResponse(apply_call_status(call_id, params))


# --------------------------------------------------------------------------------------------
# the media stream
# --------------------------------------------------------------------------------------------
@router.websocket(MEDIA_STREAM_PATH)
async def media_stream(ws: WebSocket) -> None:
    settings = get_settings()
    if settings.twilio_auth_token:
        url = media_stream_url(settings.public_base_url) + (f"?{ws.url.query}" if ws.url.query else "")
        if not validate_signature(settings.twilio_auth_token, url, {}, ws.headers.get("x-twilio-signature")):
            await ws.close(code=1008)  # before accept: the handshake is refused with HTTP 403
            return
    await ws.accept()
    rest = TwilioRest(settings) if settings.twilio_account_sid and settings.twilio_auth_token else None
    transport = TwilioMediaStreamTransport(StarletteSocket(ws), rest=rest)
    try:
        start = await transport.wait_start(timeout=10.0)
        if start is None:
            return
        if not start.call_id:
            transport._end("error", "start without customParameters.call_id")
            await transport.socket.close(1008, "start.customParameters.call_id is required")
            return
        await _run_call()(start.call_id, transport)
    except Exception as exc:
        from agent.errors import UserError

        if isinstance(exc, UserError):
            log.warning("media stream refused: %s", exc)
            await transport.socket.close(1008, str(exc)[:120])
        else:
            log.exception("media stream failed")
            await transport.socket.close(1011, "internal error")
    finally:
        await transport.close("call ended")
