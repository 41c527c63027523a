"""AudioSocket conformance over a real TCP socket, with a client written from the protocol definition
(type 1 byte | length 2 bytes big-endian | payload; 0x01 UUID, 0x10 slin16 8 kHz, 0x03 DTMF, 0x00, 0xff)."""
from __future__ import annotations

import asyncio
import struct
import time
import uuid

import numpy as np
import pytest

from telephony_adapter.audiosocket import call_uuid, serve
from tests.tel_support import RESULTS, echo_runner, tone


class AsteriskPeer:
    """What Asterisk's AudioSocket() does: UUID first, then 20 ms slin frames; reads ours."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.frames: list[tuple[float, int, bytes]] = []
        self.closed = asyncio.Event()
        self._buf = b""
        self._task = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, port: int, call_id: str | None) -> AsteriskPeer:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        peer = cls(reader, writer)
        if call_id is not None:
            await peer.send(0x01, uuid.UUID(call_uuid(call_id)).bytes)
        return peer

    async def send(self, kind: int, payload: bytes = b"") -> None:
        self.writer.write(struct.pack(">BH", kind, len(payload)) + payload)
        await self.writer.drain()

    async def audio(self, pcm: np.ndarray, realtime: bool = True) -> None:
        for i in range(0, len(pcm) - 159, 160):
            await self.send(0x10, pcm[i : i + 160].astype("<i2").tobytes())
            if realtime:
                await asyncio.sleep(0.02)

    async def _read(self) -> None:
        try:
            while True:
                chunk = await self.reader.read(4096)
                if not chunk:
                    break
                self._buf += chunk
                while len(self._buf) >= 3:
                    kind, n = struct.unpack(">BH", self._buf[:3])
                    if len(self._buf) < 3 + n:
                        break
                    self.frames.append((time.monotonic(), kind, self._buf[3 : 3 + n]))
                    self._buf = self._buf[3 + n :]
        except (ConnectionError, OSError):
            pass
        finally:
            self.closed.set()

    def kinds(self) -> list[int]:
        return [k for _, k, _ in self.frames]

    def audio_frames(self) -> list[tuple[float, bytes]]:
        return [(t, p) for t, k, p in self.frames if k == 0x10]

    async def wait_closed(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self.closed.wait(), timeout)


@pytest.fixture
async def port():
    server = await serve("127.0.0.1", 0, runner=echo_runner)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


def cid(tag: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_DNS, tag).hex


async def wait_for(pred, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_full_call_dtmf_marks_and_pacing(port):
    call_id = cid("as-full")
    peer = await AsteriskPeer.connect(port, call_id)
    await peer.audio(np.zeros(8000 * 2 // 1, dtype=np.int16)[: int(8000 * 1.4)])
    await wait_for(lambda: call_id in RESULTS and len(RESULTS[call_id].marks_played) == 3)
    await peer.send(0x03, b"3")
    await peer.audio(np.zeros(int(8000 * 0.4), dtype=np.int16))
    await wait_for(lambda: "dtmf1" in RESULTS[call_id].marks_played)
    await peer.send(0x03, b"#")
    await peer.wait_closed()
    rec = RESULTS[call_id]
    assert rec.digits == ["3", "#"]
    assert rec.marks_played == ["greet1", "greet2", "greet3", "dtmf1"]
    assert rec.audio_in_s == pytest.approx(1.8, abs=0.05)
    frames = peer.audio_frames()
    assert all(len(p) == 320 for _, p in frames)  # 20 ms of slin16 at 8 kHz
    assert len(frames) == (1.2 + 0.3) / 0.02
    assert peer.kinds()[-1] == 0x00  # we end with a hang-up frame
    first = frames[0][0]
    ahead = max((i + 1) * 0.02 - (t - first) for i, (t, _) in enumerate(frames[:60]))
    assert ahead < 0.3, f"agent audio ran {ahead:.2f} s ahead of real time"
    pcm = np.frombuffer(b"".join(p for _, p in frames[:20]), "<i2").astype(np.float32)
    assert abs(np.argmax(np.abs(np.fft.rfft(pcm))) * 8000 / len(pcm) - 440) < 10


async def test_barge_in_stops_sending(port):
    call_id = cid("as-barge")
    peer = await AsteriskPeer.connect(port, call_id)
    await peer.audio(np.zeros(int(8000 * 0.5), dtype=np.int16))
    await peer.audio(tone(300, 0.3, 8000, amp=0.5))
    await wait_for(lambda: RESULTS[call_id].barge_ins == 1)
    n_after_clear = len(peer.audio_frames())
    await peer.audio(np.zeros(int(8000 * 0.4), dtype=np.int16))
    assert len(peer.audio_frames()) - n_after_clear <= 4  # at most the ~60 ms already in flight
    assert len(peer.audio_frames()) < 1.2 / 0.02
    assert RESULTS[call_id].marks_played == ["greet1"]
    await peer.send(0x00)
    await peer.wait_closed()
    assert RESULTS[call_id].hangup.reason == "hangup"


async def test_abrupt_disconnect_and_error_frame(port):
    call_id = cid("as-drop")
    peer = await AsteriskPeer.connect(port, call_id)
    await peer.audio(np.zeros(1600, dtype=np.int16))
    peer.writer.transport.abort()
    await wait_for(lambda: RESULTS[call_id].hangup is not None)
    assert RESULTS[call_id].hangup.reason == "hangup"
    call_id = cid("as-err")
    peer = await AsteriskPeer.connect(port, call_id)
    await peer.send(0xFF, b"\x02")
    await peer.wait_closed()
    assert RESULTS[call_id].hangup.reason == "error" and "error frame" in RESULTS[call_id].hangup.error


async def test_malformed_frames_close_cleanly_and_neighbours_continue(port):
    good_id = cid("as-neighbour")
    good = await AsteriskPeer.connect(port, good_id)
    bad_id = cid("as-bad")
    bad = await AsteriskPeer.connect(port, bad_id)
    bad.writer.write(b"\x42\x00\x01Z")  # unknown frame type
    await bad.writer.drain()
    await bad.wait_closed()
    assert bad.kinds()[-1] == 0xFF  # an error frame, then the socket is closed
    assert RESULTS[bad_id].hangup.reason == "protocol_error" and "0x42" in RESULTS[bad_id].hangup.error
    odd = await AsteriskPeer.connect(port, cid("as-odd"))
    await odd.send(0x10, b"\x01\x02\x03")  # not whole 16-bit samples
    await odd.wait_closed()
    assert odd.kinds()[-1] == 0xFF
    noid = await AsteriskPeer.connect(port, None)
    await noid.send(0x10, b"\x00" * 320)  # audio before the UUID
    await noid.wait_closed()
    assert noid.kinds() == [0xFF]
    await good.audio(np.zeros(int(8000 * 1.4), dtype=np.int16))
    await wait_for(lambda: len(RESULTS[good_id].marks_played) == 3)
    await good.send(0x03, b"#")
    await good.wait_closed()
    assert RESULTS[good_id].hangup.reason == "completed"


async def test_transfer_records_disposition(tmp_path, monkeypatch):
    """Transfer: the socket ends with a hang-up frame and /audiosocket/next says 'transfer'."""
    from agent.config import get_settings
    from agent.server.audiosocket import next_action, on_transfer
    from agent.store import init_db, session_scope
    from agent.store.models import Account, Call

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/as.sqlite3")
    get_settings.cache_clear()
    try:
        init_db()
        with session_scope() as s:
            acc = Account(name="Wang Fang", phone="+8613900000000")
            s.add(acc)
            s.flush()
            call = Call(account_id=acc.id, script_id="collections_m1_zh", language="zh", transport="audiosocket")
            s.add(call)
            s.flush()
            call_id = call.id
        assert next_action(call_id) == "hangup"
        server = await serve("127.0.0.1", 0, runner=echo_runner, on_transfer=on_transfer)
        peer = await AsteriskPeer.connect(server.sockets[0].getsockname()[1], call_id)
        await peer.send(0x03, b"0")
        await peer.wait_closed()
        server.close()
        assert RESULTS[call_id].transferred is True
        assert peer.kinds()[-1] == 0x00
        assert next_action(call_id) == "transfer"
        from fastapi import FastAPI
        from fastapi.testclient import TestClient

        from agent.server.audiosocket import router

        app = FastAPI()
        app.include_router(router)
        assert TestClient(app).get(f"/audiosocket/next/{call_uuid(call_id)}").text == "transfer"
    finally:
        get_settings.cache_clear()


async def test_a_bad_dtmf_frame_is_dropped_and_the_call_goes_on(port):
    call_id = cid("as-bad-dtmf")
    peer = await AsteriskPeer.connect(port, call_id)
    await peer.send(0x03, "五".encode())  # 3 bytes, not a key
    await peer.send(0x03, b"x")
    await peer.send(0x10, b"")  # an empty audio frame
    await peer.audio(np.zeros(1600, dtype=np.int16))
    await peer.send(0x03, b"#")  # the echo session hangs up: the call was alive
    await peer.wait_closed()
    assert RESULTS[call_id].digits == ["#"] and RESULTS[call_id].hangup.reason == "completed"
    assert RESULTS[call_id].audio_in_s == pytest.approx(0.2)
    assert peer.kinds()[-1] == 0x00  # a clean hang-up frame, not an error
