"""Browser softphone: a page where a supervisor or script author picks an account and a script
and talks to the agent with the microphone.

The websocket protocol (/softphone/ws: PCM16 16 kHz binary frames, JSON text messages) is
`serializers/browser.py`. The handshake carries the API key (the console's cookie, or
`Authorization: Bearer` from other clients); the app refuses it with HTTP 403 before accepting when
the key is missing or may not write.
The page (static/softphone.html) and its routes are served by the app (agent/server/softphone.py),
which authorises the caller, creates the call and runs it on a BrowserTransport.
"""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from telephony_adapter.base import Start
from telephony_adapter.serializers.base import InboundEvent, TransferOut, WireError
from telephony_adapter.serializers.browser import RATE, BrowserSerializer, PageMessage
from telephony_adapter.wire import PacedTransport

log = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")


class BrowserTransport(PacedTransport):
    """One softphone call. Marks are local (the page plays in real time); clear is forwarded."""

    inbound_rate = RATE
    wire_rate = RATE
    local_marks = True

    def __init__(self, socket: Any, call_id: str, *, lead_s: float = 0.1) -> None:
        super().__init__(lead_s=lead_s)
        self.socket = socket
        self.call_id = call_id
        self.serializer: BrowserSerializer = BrowserSerializer()
        self._reader: asyncio.Task | None = None
        self._lock = asyncio.Lock()

    def open(self) -> None:
        self._emit(Start(call_id=self.call_id, params={"transport": "browser"}))
        if self._reader is None:
            self._reader = asyncio.get_running_loop().create_task(self._read_loop(), name="softphone-reader")

    async def send_json(self, msg: dict[str, Any]) -> None:
        """One of the app's messages for the page (call id, turns, outcome)."""
        await self._send_wire(self.serializer.serialize(PageMessage(msg)))

    async def _read_loop(self) -> None:
        try:
            while self._ended is None:
                raw = await self.socket.recv()
                if raw is None:
                    self._end("hangup", "softphone closed")
                    break
                self._take(raw)
                if self.protocol_error is not None:
                    await self._refuse()
                    break
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._end("hangup", f"softphone socket failed: {exc}")

    def _on_event(self, event: InboundEvent) -> None:
        if isinstance(event, Start):  # the call has started: a second start changes nothing
            self._wire_error(WireError("a second 'start' during the call (ignored)"))
        else:
            super()._on_event(event)

    async def _send_wire(self, wire: str | bytes | None) -> None:
        if wire is None:
            return
        async with self._lock:
            try:
                await self.socket.send(wire)
            except Exception as exc:
                self._end("hangup", f"softphone socket failed: {exc}")

    async def _abort_wire(self, message: str) -> None:
        await self.socket.close(1007, message[:120])

    async def _close_wire(self, reason: str) -> None:
        if self._reader is not None and self._reader is not asyncio.current_task():
            self._reader.cancel()

    async def transfer(self, target: str | None = None) -> bool:
        await self._send(TransferOut(target or ""))
        return False  # nobody to hand a browser call to; the session ends it as transferred
