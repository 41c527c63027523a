"""The Twilio Media Streams websocket (`/twilio/media-stream`), as a library router.

The application configures it once with `configure(StreamHooks(...))`: where its public URL
is (for the handshake signature), the auth token, and the session runner that takes the
call over the connected transport. The HTTP routes that touch storage (TwiML, status
callbacks) live in the application (agent/server/telephony/twilio.py).

The handshake must carry a valid X-Twilio-Signature keyed by the auth token, otherwise it is
refused with HTTP 403. With no auth token (local development) nothing is checked.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from telephony_adapter.twilio import MEDIA_STREAM_PATH, TwilioMediaStreamTransport, media_stream_url, validate_signature

log = logging.getLogger(__name__)
router = APIRouter(tags=["twilio"])

CallRunner = Callable[[str, Any], Awaitable[Any]]


class StreamRefused(Exception):
    """The runner will not take this call (unknown id, already ended). Closes the stream with 1008."""


@dataclass
class StreamHooks:
    runner: CallRunner  # runs the session for call_id over the transport
    auth_token: Callable[[], str]  # "" = do not check signatures
    public_base_url: Callable[[], str]
    rest: Callable[[], Any] | None = None  # a TwilioRest for transfers, or None
    refused: tuple[type[BaseException], ...] = (StreamRefused,)  # errors that mean "refuse this call"


_hooks: list[StreamHooks] = []


def configure(hooks: StreamHooks | None) -> None:
    """Install (or remove) the application's hooks. Without hooks the stream is refused (1011)."""
    _hooks.clear()
    if hooks is not None:
        _hooks.append(hooks)


def hooks() -> StreamHooks | None:
    return _hooks[0] if _hooks else None


def set_call_runner(runner: CallRunner) -> None:
    """Swap only the session runner (tools and tests); the other hooks stay."""
    if not _hooks:
        raise RuntimeError("twilio_routes is not configured; call configure() first")
    _hooks[0].runner = runner


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


@router.websocket(MEDIA_STREAM_PATH)
async def media_stream(ws: WebSocket) -> None:
    h = hooks()
    if h is None:
        log.error("media stream refused: the application installed no session runner")
        await ws.close(code=1011)
        return
    token = h.auth_token()
    if token:
        url = media_stream_url(h.public_base_url()) + (f"?{ws.url.query}" if ws.url.query else "")
        if not validate_signature(token, url, {}, ws.headers.get("x-twilio-signature")):
            await ws.close(code=1008)  # before accept: the handshake is refused with HTTP 403
            return
    await ws.accept()
    transport = TwilioMediaStreamTransport(StarletteSocket(ws), rest=h.rest() if h.rest else None)
    try:
        start = await transport.wait_start(timeout=10.0)
        if start is None:
            return
        if not start.call_id:
            transport._end("error", "start without customParameters.call_id")
            await transport.socket.close(1008, "start.customParameters.call_id is required")
            return
        await h.runner(start.call_id, transport)
    except h.refused as exc:
        log.warning("media stream refused: %s", exc)
        await transport.socket.close(1008, str(exc)[:120])
    except Exception:
        log.exception("media stream failed")
        await transport.socket.close(1011, "internal error")
    finally:
        await transport.close("call ended")
