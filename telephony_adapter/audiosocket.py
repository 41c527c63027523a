"""Asterisk AudioSocket: serializer, transport and the asyncio TCP server.

Wire (both directions): type (1 byte) | payload length (2 bytes, big-endian) | payload.
  0x00 hang-up (no payload)       0x01 UUID (16 bytes, the call)    0x03 DTMF (1 ASCII byte)
  0x10 audio: signed-linear 16-bit little-endian, 8 kHz mono, 20 ms = 320 bytes
  0xff error (payload: optional error code)
There is no clear and no mark on this wire: the agent paces its own output at 20 ms, a barge-in
simply stops sending, and a mark is "played" when the play-out clock passes it.

Call ids are uuid4 hex strings, so the AudioSocket UUID *is* the call id: str(uuid.UUID(call_id))
in the dialplan, uuid.UUID(bytes=payload).hex here. See telephony_adapter/README.md for the dialplan;
the app serves the dialplan's /audiosocket/next route (agent/server/audiosocket.py).
"""
from __future__ import annotations

import asyncio
import logging
import struct
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from telephony_adapter.base import AudioIn, DtmfIn, Hangup, ProtocolError, Start, TransportEvent
from telephony_adapter.errors import CallRefused
from telephony_adapter.wire import PacedTransport

log = logging.getLogger(__name__)
CallRunner = Callable[[str, Any], Awaitable[Any]]  # (call id, transport) -> the call's result
TransferHook = Callable[[str], Awaitable[None]]  # (call id): a call is being transferred

KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_AUDIO = 0x10
KIND_ERROR = 0xFF
KNOWN_KINDS = {KIND_HANGUP, KIND_UUID, KIND_DTMF, KIND_AUDIO, KIND_ERROR}
HEADER = struct.Struct(">BH")
RATE = 8000
FRAME_BYTES = 320  # 20 ms of slin16 at 8 kHz
MAX_AUDIO_PAYLOAD = 8000 * 2  # refuse absurd frames (> 1 s)
DTMF_DIGITS = set("0123456789*#ABCD")


def call_uuid(call_id: str) -> str:
    """The AudioSocket UUID (dialplan form) for a call id."""
    return str(uuid.UUID(hex=call_id))


@dataclass
class Frame:
    kind: int
    payload: bytes = b""


class AudioSocketSerializer:
    """Frames <-> bytes and typed events. Incremental: feed() any chunk of the TCP stream."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.error: ProtocolError | None = None  # set once the stream is broken; parsing stops there

    @staticmethod
    def encode(kind: int, payload: bytes = b"") -> bytes:
        if len(payload) > 0xFFFF:
            raise ValueError("AudioSocket payload longer than 65535 bytes")
        return HEADER.pack(kind, len(payload)) + payload

    def feed(self, data: bytes) -> list[Frame]:
        """Whole frames so far. On a broken header the frames before it are returned and `error`
        is set; the next feed() raises it."""
        if self.error is not None:
            raise self.error
        self._buf += data
        frames: list[Frame] = []
        while len(self._buf) >= HEADER.size:
            kind, length = HEADER.unpack_from(self._buf)
            if kind not in KNOWN_KINDS:
                self.error = ProtocolError(f"unknown AudioSocket frame type 0x{kind:02x}")
                if not frames:
                    raise self.error
                break
            if len(self._buf) < HEADER.size + length:
                break
            payload = bytes(self._buf[HEADER.size : HEADER.size + length])
            del self._buf[: HEADER.size + length]
            frames.append(Frame(kind, payload))
        return frames

    @property
    def pending(self) -> int:
        return len(self._buf)

    @staticmethod
    def to_event(frame: Frame) -> TransportEvent | None:
        if frame.kind == KIND_UUID:
            if len(frame.payload) != 16:
                raise ProtocolError(f"UUID frame must carry 16 bytes, got {len(frame.payload)}")
            call_uuid = uuid.UUID(bytes=frame.payload)
            return Start(call_id=call_uuid.hex, params={"uuid": str(call_uuid)})
        if frame.kind == KIND_AUDIO:
            if len(frame.payload) % 2 or len(frame.payload) > MAX_AUDIO_PAYLOAD:
                raise ProtocolError(f"audio frame of {len(frame.payload)} bytes is not whole 16-bit samples (<= 1 s)")
            return AudioIn(pcm=np.frombuffer(frame.payload, dtype="<i2").astype(np.int16), sample_rate=RATE)
        if frame.kind == KIND_DTMF:
            digit = frame.payload[:1].decode("ascii", "replace")
            if digit not in DTMF_DIGITS:
                raise ProtocolError(f"DTMF frame with invalid digit {frame.payload!r}")
            return DtmfIn(digit=digit)
        if frame.kind == KIND_HANGUP:
            return Hangup(reason="hangup")
        if frame.kind == KIND_ERROR:
            code = frame.payload.hex() if frame.payload else "none"
            return Hangup(reason="error", error=f"Asterisk sent an AudioSocket error frame (code {code})")
        return None


class AudioSocketTransport(PacedTransport):
    """One AudioSocket connection (one channel)."""

    inbound_rate = RATE
    wire_rate = RATE
    bytes_per_sample = 2
    local_marks = True

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, lead_s: float = 0.06,
                 on_transfer: TransferHook | None = None) -> None:
        super().__init__(lead_s=lead_s)
        self.on_transfer = on_transfer  # the app records the transfer where the dialplan reads it
        self.reader = reader
        self.writer = writer
        self.serializer = AudioSocketSerializer()
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
            await self._fail("no UUID frame")
            return None
        return Start(call_id=self.call_id, params={"uuid": call_uuid(self.call_id)}) if self.call_id else None

    async def _read_loop(self) -> None:
        try:
            while self._ended is None:
                data = await self.reader.read(4096)
                if not data:
                    self._end("hangup", "socket closed by Asterisk")
                    break
                for frame in self.serializer.feed(data):
                    self._on_frame(frame)
                    if self._ended is not None:
                        break
                if self.serializer.error is not None and self._ended is None:
                    raise self.serializer.error
        except ProtocolError as exc:
            log.warning("audiosocket %s: %s", self.call_id, exc)
            self._end("error", str(exc))
            await self._fail(str(exc))
        except (ConnectionError, OSError) as exc:
            self._end("hangup", f"socket failed: {exc}")
        finally:
            self._started.set()

    def _on_frame(self, frame: Frame) -> None:
        event = self.serializer.to_event(frame)
        if isinstance(event, Start):
            if self.call_id is None:
                self.call_id = event.call_id
                self._emit(event)
                self._started.set()
            return  # a repeated UUID changes nothing
        if self.call_id is None:
            if isinstance(event, Hangup):
                self._end(event.reason, event.error)
                return
            raise ProtocolError("AudioSocket stream must start with a UUID frame (0x01)")
        if isinstance(event, Hangup):
            self._end(event.reason, event.error)
        elif event is not None:
            self._emit(event)

    async def _fail(self, message: str) -> None:
        """Tell Asterisk about our error (0xff), then close."""
        await self._pacer.close()
        try:
            self.writer.write(AudioSocketSerializer.encode(KIND_ERROR, b"\x01"))
            await self.writer.drain()
        except (ConnectionError, OSError):
            pass
        await self._close_socket()

    async def _write_frame(self, frame: bytes) -> None:
        try:
            self.writer.write(AudioSocketSerializer.encode(KIND_AUDIO, frame))
            await self.writer.drain()
        except (ConnectionError, OSError) as exc:
            self._end("hangup", f"socket failed: {exc}")

    async def _close_wire(self, reason: str) -> None:
        if not self._wrote_hangup and not self.writer.is_closing():
            self._wrote_hangup = True
            try:  # 0x00: Asterisk leaves AudioSocket() and continues in the dialplan
                self.writer.write(AudioSocketSerializer.encode(KIND_HANGUP))
                await self.writer.drain()
            except (ConnectionError, OSError):
                pass
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
        await transport._fail(str(exc))
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
    writer.write(AudioSocketSerializer.encode(KIND_UUID, uuid.uuid4().bytes))
    await writer.drain()
    parser, arrivals, t0 = AudioSocketSerializer(), [], time.monotonic()
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
