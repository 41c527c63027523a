"""Browser softphone: a page where a supervisor or script author picks an account and a script
and talks to the agent with the microphone.

Websocket protocol (/softphone/ws), all audio PCM 16-bit little-endian mono 16 kHz. The handshake carries
the API key (the console's cookie, or `Authorization: Bearer` from other clients); the app refuses it with
HTTP 403 before accepting when the key is missing or may not write.
  browser -> server   text  {"type": "start", "account_id": "...", "script_id": "..."}  (first)
                      binary  microphone audio (any length; 20 ms = 640 bytes is typical)
                      text  {"type": "dtmf", "digit": "1"} | {"type": "hangup"}
  server -> browser   text  {"type": "call", "call_id": "..."}
                      binary  agent audio, 20 ms frames paced in real time
                      text  {"type": "clear"}  (barge-in: drop what is queued for playback)
                      text  {"type": "turn", "id", "seq", "speaker", "text", "intent", "interrupted"}
                      text  {"type": "ended", "outcome", "end_reason"} | {"type": "error", "message"}
The page (static/softphone.html) and its routes are served by the app (agent/server/softphone.py),
which authorises the caller, creates the call and runs it on a BrowserTransport.
"""
from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from telephony_adapter.base import AudioIn, DtmfIn, ProtocolError, Start
from telephony_adapter.wire import PacedTransport

log = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")
RATE = 16000
DTMF_DIGITS = set("0123456789*#")


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
