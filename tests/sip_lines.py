"""Several baresip callees in calls at once, each driven turn by turn from what it hears.

One baresip process holds one account per callee (the request-URI user picks it). A `Line` is one
callee's side of a call: it answers when its account rings (one answer at a time, so each call's
`sndfile` dumps, named by the second they open, are told apart), follows what it hears by tailing its
decoder dump (the agent's audio as it arrives over RTP), and speaks by switching its account's
microphone WAV (`ausrc`) or keys RFC 4733 DTMF. A callee whose WAV ends hangs up.
"""
from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np

from tests.sip_peer import Baresip, read_wav, write_wav8k

LOUD = 1500  # int16 peak of a 20 ms frame that counts as the agent speaking
FRAME = 160


class HeardTail:
    """What a callee hears, read from the growing decoder dump while the call lasts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset: int | None = None  # of the next unread byte
        self.rest = b""
        self.loud_frames = 0
        self.last_loud = 0.0  # monotonic time the last loud frame was read

    def poll(self) -> None:
        data = self.path.read_bytes()
        if self.offset is None:
            at = data.find(b"data", 12)
            if at < 0 or len(data) < at + 8:
                return
            self.offset = at + 8
        new, self.offset = self.rest + data[self.offset:], len(data)
        usable = len(new) // (2 * FRAME) * 2 * FRAME
        self.rest = new[usable:]
        pcm = np.frombuffer(new[:usable], dtype="<i2").reshape(-1, FRAME)
        loud = int((np.abs(pcm.astype(np.int32)).max(axis=1) > LOUD).sum()) if len(pcm) else 0
        if loud:
            self.loud_frames += loud
            self.last_loud = time.monotonic()


class Line:
    """One callee account of `br` in one call."""

    def __init__(self, br: Baresip, user: str, folder: Path) -> None:
        self.br, self.user, self.folder = br, user, folder
        self.aor = br.uri(user)
        self.tail: HeardTail | None = None
        self.dec: Path | None = None
        self.seen = 0  # loud frames heard before the callee's last action
        self.turns = 0

    async def ring(self, timeout: float = 180) -> dict:
        return await asyncio.to_thread(self.br.wait_event, "CALL_INCOMING", timeout, self.aor)

    async def answer(self, gate: asyncio.Lock, timeout: float = 180) -> None:
        """Wait for our account to ring, then pick up (alone: no other callee opens its dumps this second)."""
        await self.ring(timeout)
        async with gate:
            before = set(self.br.dump.glob("*-dec.wav"))
            self.br.on(self.aor, "accept")
            await asyncio.to_thread(self.br.wait_event, "CALL_ESTABLISHED", 10, self.aor)
            deadline = time.monotonic() + 10
            while not (new := set(self.br.dump.glob("*-dec.wav")) - before):
                assert time.monotonic() < deadline, "baresip opened no dump for the call"
                await asyncio.sleep(0.05)
            self.dec = new.pop()
            self.tail = HeardTail(self.dec)
            await asyncio.sleep(1.1)  # the next call's dumps get another second in their names

    async def reject(self, timeout: float = 180) -> None:
        """Refuse the call while it rings (baresip answers 486)."""
        await self.ring(timeout)
        await asyncio.to_thread(self.br.on, self.aor, "hangup")

    async def agent_done(self, timeout: float = 90, quiet_s: float = 1.2) -> None:
        """Until the agent has spoken since our last action and then been quiet for `quiet_s`."""
        assert self.tail is not None, "answer first"
        deadline = time.monotonic() + timeout
        while True:
            self.tail.poll()
            if self.tail.loud_frames > self.seen and time.monotonic() > self.tail.last_loud + quiet_s:
                return
            assert time.monotonic() < deadline, f"{self.user}: the agent never finished speaking"
            await asyncio.sleep(0.05)

    def _act(self) -> None:
        assert self.tail is not None
        self.tail.poll()
        self.seen = self.tail.loud_frames

    def say(self, pcm: np.ndarray, tail_s: float = 90.0) -> None:
        """Speak `pcm` (8 kHz) and then stay quiet for `tail_s`; 0: hang up at its end."""
        self._act()
        self.turns += 1
        wav = write_wav8k(self.folder / f"{self.user.strip('+')}_{self.turns}.wav",
                          np.concatenate([pcm, np.zeros(int(tail_s * 8000), np.int16)]))
        self.br.on(self.aor, "ausrc", f"aufile,{wav}")

    async def press(self, keys: str) -> None:
        self._act()
        await asyncio.to_thread(self.br.keys_on, self.aor, keys)

    def dumps(self) -> tuple[np.ndarray, np.ndarray]:
        """(said, heard) of the call, once it is over."""
        assert self.dec is not None
        return read_wav(self.dec.with_name(self.dec.name.replace("-dec.", "-enc."))), read_wav(self.dec)
