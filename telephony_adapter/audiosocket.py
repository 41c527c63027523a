"""Asterisk AudioSocket: the transport and the asyncio TCP server.

The wire format (type | length | payload frames ⇄ events) is `serializers/audiosocket.py`.
There is no clear and no mark on this wire: the agent paces its own output at 20 ms, a barge-in
simply stops sending, and a mark is "played" when the play-out clock passes it.

Call ids are uuid4 hex strings, so the AudioSocket UUID *is* the call id: str(uuid.UUID(call_id))
in the dialplan, uuid.UUID(bytes=payload).hex here. See telephony_adapter/README.md for the dialplan;
the app serves the dialplan's /audiosocket/next route (agent/server/audiosocket.py).
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from telephony_adapter.base import Hangup, Start
from telephony_adapter.errors import CallRefused
from telephony_adapter.serializers.audiosocket import (
    FRAME_BYTES,
    KIND_AUDIO,
    KIND_DTMF,
    KIND_ERROR,
    KIND_HANGUP,
    KIND_UUID,
    RATE,
    AudioSocketSerializer,
    Frame,
    FrameReader,
    encode,
)
from telephony_adapter.serializers.base import ErrorOut, HangupOut, InboundEvent
from telephony_adapter.wire import PacedTransport

log = logging.getLogger(__name__)
CallRunner = Callable[[str, Any], Awaitable[Any]]  # (call id, transport) -> the call's result
TransferHook = Callable[[str], Awaitable[None]]  # (call id): a call is being transferred
__all__ = ["FRAME_BYTES", "KIND_AUDIO", "KIND_DTMF", "KIND_ERROR", "KIND_HANGUP", "KIND_UUID", "AudioSocketSerializer",
           "AudioSocketTransport", "Frame", "FrameReader", "call_uuid", "encode", "handle_connection", "serve"]


def call_uuid(call_id: str) -> str:
    """The AudioSocket UUID (dialplan form) for a call id."""
    return str(uuid.UUID(hex=call_id))


class AudioSocketTransport(PacedTransport):
    """One AudioSocket connection (one channel)."""

    inbound_rate = RATE
    wire_rate = RATE
    local_marks = True

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, lead_s: float = 0.06,
                 on_transfer: TransferHook | None = None) -> None:
        super().__init__(lead_s=lead_s)
        self.on_transfer = on_transfer  # the app records the transfer where the dialplan reads it
        self.reader = reader
        self.writer = writer
        self.serializer: AudioSocketSerializer = AudioSocketSerializer()
        self.call_id: str | None = None
        self._started = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._wrote_hangup = False

    def open(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._read_loop(), name="audiosocket-reader")

    async def wait_start(self, timeout: float = 5.0) -> Start | None:
        self.open()
        try:
            await asyncio.wait_for(self._started.wait(), timeout)
        except TimeoutError:
            self._end("error", f"no UUID frame within {timeout:.0f} s")
            await self._fail()
            return None
        return Start(call_id=self.call_id, params={"uuid": call_uuid(self.call_id)}) if self.call_id else None

    async def _read_loop(self) -> None:
        try:
            while self._ended is None:
                data = await self.reader.read(4096)
                if not data:
                    self._end("hangup", "socket closed by Asterisk")
                    break
                self._take(data)
                if self.protocol_error is not None:
                    await self._refuse()
                    break
        except (ConnectionError, OSError) as exc:
            self._end("hangup", f"socket failed: {exc}")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug here must end this call, never leave its inbox open
            log.exception("audiosocket %s: reader failed", self.call_id)
            self._end("error", f"reader failed: {exc}")
            await self._fail()
        finally:
            self._started.set()

    def _on_event(self, event: InboundEvent) -> None:
        if isinstance(event, Start):
            self.call_id = event.call_id
            self._emit(event)
            self._started.set()
        else:
            super()._on_event(event)

    async def _fail(self) -> None:
        """Tell Asterisk about our error (0xff), then close."""
        await self._pacer.close()
        await self._send(ErrorOut("call failed"))
        await self._close_socket()

    async def _send_wire(self, wire: bytes) -> None:
        try:
            self.writer.write(wire)
            await self.writer.drain()
        except (ConnectionError, OSError) as exc:
            self._end("hangup", f"socket failed: {exc}")

    async def _abort_wire(self, message: str) -> None:
        await self._close_socket()

    async def _close_wire(self, reason: str) -> None:
        if not self._wrote_hangup and not self.writer.is_closing():
            self._wrote_hangup = True  # 0x00: Asterisk leaves AudioSocket() and continues in the dialplan
            await self._send(HangupOut(reason))
        await self._close_socket()

    async def _close_socket(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), 2.0)
        except (TimeoutError, Exception):
            pass
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()

    async def transfer(self, target: str | None = None) -> bool:
        """Hand the transfer up (`on_transfer`: the app records it for the dialplan), then leave
        AudioSocket() with a hang-up frame. Without a hook there is nobody to tell: no transfer."""
        if self.call_id is None or self._ended is not None or self.on_transfer is None:
            return False
        try:
            await self.on_transfer(self.call_id)
        except Exception as exc:
            log.error("audiosocket %s: could not record the transfer: %s", self.call_id, exc)
            return False
        self.transferred_to = target or "dialplan"
        self._pacer.clear(reset_clock=True)
        self._end("transferred")
        await self.close("transferred")
        return True


# --------------------------------------------------------------------------------------------
# the TCP server
# --------------------------------------------------------------------------------------------
async def handle_connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, runner: CallRunner,
    on_transfer: TransferHook | None = None,
) -> None:
    """One Asterisk channel: wait for the UUID, run the call, close cleanly whatever happens.
    A runner refuses a call by raising CallRefused (logged as a warning, no traceback)."""
    transport = AudioSocketTransport(reader, writer, on_transfer=on_transfer)
    try:
        start = await transport.wait_start()
        if start is None or start.call_id is None:  # no UUID: nothing to run (an error frame was sent)
            return
        await runner(start.call_id, transport)
    except Exception as exc:
        if isinstance(exc, CallRefused):
            log.warning("audiosocket call refused: %s", exc)
        else:
            log.exception("audiosocket call %s failed", transport.call_id)
        transport._end("error", str(exc))
        await transport._fail()
    finally:
        await transport.close("call ended")


async def serve(host: str, port: int, runner: CallRunner,
                on_transfer: TransferHook | None = None) -> asyncio.base_events.Server:
    """Start the AudioSocket server (returns the asyncio Server; caller decides how long it lives).
    `runner(call_id, transport)` runs each call; `on_transfer(call_id)` is awaited when one is transferred."""

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handle_connection(reader, writer, runner, on_transfer)

    return await asyncio.start_server(on_connect, host, port)


async def pacing_benchmark(seconds: float = 3.0) -> dict[str, Any]:
    """Send `seconds` of agent audio over a real local AudioSocket connection; measure arrival pacing."""
    import time

    async def speaker(call_id: str, transport: AudioSocketTransport) -> None:
        t = np.arange(int(seconds * 16000)) / 16000
        await transport.send_audio((np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16), 16000)
        await transport.mark("end")
        while not isinstance(ev := await transport.receive(), Hangup):
            if getattr(ev, "name", None) == "end":
                await transport.hangup("completed")

    server = await serve("127.0.0.1", 0, runner=speaker)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(encode(KIND_UUID, uuid.uuid4().bytes))
    await writer.drain()
    parser, arrivals, t0 = FrameReader(), [], time.monotonic()
    while data := await reader.read(4096):
        now = time.monotonic()
        arrivals += [now for f in parser.feed(data) if f.kind == KIND_AUDIO]
    writer.close()
    server.close()
    await server.wait_closed()
    if not arrivals:
        return {"frames": 0}
    first = arrivals[0]
    ahead = [(i + 1) * 0.02 - (t - first) for i, t in enumerate(arrivals)]
    gaps = np.diff(arrivals) * 1000 if len(arrivals) > 1 else np.array([20.0])
    return {
        "frames": len(arrivals),
        "audio_s": round(len(arrivals) * 0.02, 3),
        "wall_s": round(arrivals[-1] - first, 3),
        "first_frame_ms": round((first - t0) * 1000, 1),
        "mean_interval_ms": round(float(gaps.mean()), 2),
        "p95_interval_ms": round(float(np.percentile(gaps, 95)), 2),
        "max_ahead_ms": round(max(ahead) * 1000, 1),
    }
