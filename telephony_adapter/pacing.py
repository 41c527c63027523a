"""Outbound audio pacing shared by the network transports.

A transport turns agent PCM into fixed 20 ms wire frames and pushes them here, with marks
in between. The pacer writes frames against a monotonic play-out clock: never more than
`lead_s` of audio ahead of real time, so a `clear` (barge-in) drops almost everything the
callee has not heard yet. Marks are either forwarded to the network (Twilio echoes them when
played) or, for protocols without marks, reported locally when the play-out clock reaches them.
"""
from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

FRAME_S = 0.020


@dataclass
class _Mark:
    name: str


class FrameBuffer:
    """Cuts a byte stream into fixed-size frames; the tail waits for more or is padded on flush."""

    def __init__(self, frame_bytes: int, silence_byte: bytes = b"\x00") -> None:
        self.frame_bytes = frame_bytes
        self._silence = silence_byte
        self._rest = b""

    def push(self, data: bytes) -> list[bytes]:
        data = self._rest + data
        n = len(data) // self.frame_bytes * self.frame_bytes
        self._rest = data[n:]
        return [data[i : i + self.frame_bytes] for i in range(0, n, self.frame_bytes)]

    def flush(self) -> list[bytes]:
        if not self._rest:
            return []
        frame = self._rest + self._silence * (self.frame_bytes - len(self._rest))
        self._rest = b""
        return [frame]

    def drop(self) -> None:
        self._rest = b""

    @property
    def pending(self) -> int:
        """Bytes waiting for the rest of their frame."""
        return len(self._rest)


class OutboundPacer:
    """Writes 20 ms frames in real time; marks travel in order with the audio."""

    def __init__(
        self,
        write_frame: Callable[[bytes], Awaitable[None]],
        on_mark: Callable[[str], Awaitable[None]],
        *,
        local_marks: bool,
        lead_s: float = 0.12,
        frame_s: float = FRAME_S,
    ) -> None:
        self._write = write_frame
        self._on_mark = on_mark
        self.local_marks = local_marks
        self.lead_s = lead_s
        self.frame_s = frame_s
        self._queue: deque[bytes | _Mark] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._clock = 0.0  # monotonic time at which the next frame starts playing
        self._task: asyncio.Task | None = None
        self._closed = False
        self.frames_sent = 0
        self.max_ahead_s = 0.0  # largest observed lead of sent audio over real time

    # --- producer side ---------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="outbound-pacer")

    def push_frames(self, frames: list[bytes]) -> None:
        if self._closed or not frames:
            return
        self._queue.extend(frames)
        self._kick()

    def push_mark(self, name: str) -> None:
        if self._closed:
            return
        self._queue.append(_Mark(name))
        self._kick()

    def clear(self, reset_clock: bool) -> list[str]:
        """Drop everything queued; returns the names of the marks that will never play."""
        dropped = [item.name for item in self._queue if isinstance(item, _Mark)]
        self._queue.clear()
        self._idle.set()
        if reset_clock:
            self._clock = time.monotonic()
        return dropped

    @property
    def queued_frames(self) -> int:
        return sum(1 for item in self._queue if not isinstance(item, _Mark))

    @property
    def queued_s(self) -> float:
        return self.queued_frames * self.frame_s

    @property
    def unplayed_s(self) -> float:
        """Audio already written but (by our clock) not yet played, plus what is queued."""
        return max(0.0, self._clock - time.monotonic()) + self.queued_s

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until the queue is empty (everything written). False on timeout, and at once when
        the consumer task is gone (cancelled, e.g. at shutdown): nothing would ever be written."""
        if self._queue and (self._task is None or self._task.done()):
            return False
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except TimeoutError:
            return False

    def stop(self) -> None:
        """Stop for good without waiting: the consumer task sees it and returns on its own."""
        self._closed = True
        self._queue.clear()
        self._idle.set()
        self._wake.set()

    async def close(self) -> None:
        self.stop()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None

    # --- consumer loop ----------------------------------------------------------------
    def _kick(self) -> None:
        self._idle.clear()
        self._wake.set()

    async def _run(self) -> None:
        while not self._closed:
            if not self._queue:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            now = time.monotonic()
            if self._clock < now:  # under-run: play-out restarts now
                self._clock = now
            item = self._queue[0]
            if isinstance(item, _Mark):
                if self.local_marks and self._clock - now > 0.001:
                    await asyncio.sleep(self._clock - now)
                    continue  # re-check: a clear may have dropped the mark meanwhile
                self._queue.popleft()
                await self._on_mark(item.name)
                continue
            ahead = self._clock - now
            if ahead > self.lead_s:
                await asyncio.sleep(ahead - self.lead_s)
                continue
            self._queue.popleft()
            await self._write(item)
            self._clock += self.frame_s
            self.frames_sent += 1
            self.max_ahead_s = max(self.max_ahead_s, self._clock - time.monotonic())
