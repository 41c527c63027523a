"""Several baresip callees in calls at once, each driven turn by turn from what it hears.

One baresip process holds one account per callee (the request-URI user picks it). A `Line` is one
callee's side of a call: it answers when its account rings (one answer at a time, so each call's
`sndfile` dumps, named by the second they open, are told apart), follows what it hears by tailing its
decoder dump (the agent's audio as it arrives over RTP), and speaks by switching its account's
microphone WAV (`ausrc`) or keys RFC 4733 DTMF. A callee whose WAV ends hangs up.
"""
from __future__ import annotations

import asyncio
import bisect
import time
from pathlib import Path

import numpy as np

from telephony_adapter.sim.baresip import Baresip, read_wav, write_wav8k

LOUD = 1500  # int16 peak of a 20 ms frame that counts as the agent speaking
FRAME = 160


class HeardTail:
    """What a callee hears (or says), read from a growing sndfile dump while the call lasts.

    It also keeps the dump's clock. sndfile writes each 20 ms frame as it passes, so every poll bounds the
    write time of each sample it has seen: sample k of S seen at time T was written by T - (S - k) / 8000.
    The least of these bounds over the polls shortly after k was first seen places k on time.monotonic()
    (`at`). The bound is taken locally, not over the whole call: baresip's encoder runs some frames ahead
    each time its microphone is switched (`ausrc`), so one offset for the whole dump would place the early
    clips of a call up to ~50 ms too early (seen here: steps of about 16 ms at each switch, and none on
    the decoder side)."""

    WINDOW_S = 0.5  # polls this long after a sample was first seen bound its write time

    def __init__(self, path: Path, rate: int = 8000) -> None:
        self.path = path
        self.rate = rate
        self.offset: int | None = None  # of the next unread byte
        self.rest = b""
        self.samples = 0
        self.loud_frames = 0
        self.last_loud = 0.0  # monotonic time the last loud frame was read
        self.t0: float | None = None  # the least bound over all polls: time.monotonic() of sample 0
        self.polls: list[tuple[float, int]] = []  # (time.monotonic(), samples seen by then)

    def poll(self) -> None:
        now = time.monotonic()
        with open(self.path, "rb") as f:
            if self.offset is None:
                head = f.read(4096)
                at = head.find(b"data", 12)
                if at < 0 or len(head) < at + 8:
                    return
                self.offset = at + 8
            f.seek(self.offset)
            data = f.read()
        self.offset += len(data)
        new = self.rest + data
        usable = len(new) // (2 * FRAME) * 2 * FRAME
        self.rest = new[usable:]
        self.samples += usable // 2
        if self.samples:
            bound = now - self.samples / self.rate
            self.t0 = bound if self.t0 is None else min(self.t0, bound)
            if not self.polls or self.polls[-1][1] != self.samples:
                self.polls.append((now, self.samples))
        pcm = np.frombuffer(new[:usable], dtype="<i2").reshape(-1, FRAME)
        loud = int((np.abs(pcm.astype(np.int32)).max(axis=1) > LOUD).sum()) if len(pcm) else 0
        if loud:
            self.loud_frames += loud
            self.last_loud = now

    def at(self, sample: int) -> float | None:
        """time.monotonic() by which `sample` of the dump was written: the least bound of the polls within
        WINDOW_S of the first one that saw it (None if no poll saw it)."""
        i = bisect.bisect_left(self.polls, sample + 1, key=lambda p: p[1])
        if i >= len(self.polls):
            return None
        first = self.polls[i][0]
        best = first - (self.polls[i][1] - sample) / self.rate
        for t, seen in self.polls[i + 1:]:
            if t > first + self.WINDOW_S:
                break
            best = min(best, t - (seen - sample) / self.rate)
        return best


class Line:
    """One callee account of `br` in one call."""

    def __init__(self, br: Baresip, user: str, folder: Path) -> None:
        self.br, self.user, self.folder = br, user, folder
        self.aor = br.uri(user)
        self.tail: HeardTail | None = None
        self.said: HeardTail | None = None  # the encoder dump: what the callee says, on the same clock
        self.dec: Path | None = None
        self.call_id = ""  # the SIP Call-ID baresip reported when the call came in
        self.rang_at = 0.0
        self.answered_at: float | None = None  # time.monotonic() when baresip reported the call established
        self.seen = 0  # loud frames heard before the callee's last action
        self.turns = 0

    async def ring(self, timeout: float = 180, since: float = 0.0) -> dict:
        event = await asyncio.to_thread(self.br.wait_event, "CALL_INCOMING", timeout, self.aor, since)
        self.rang_at = float(event["at"])
        self.call_id = str(event.get("id", ""))
        return event

    async def answer(self, gate: asyncio.Lock, timeout: float = 180, since: float = 0.0) -> None:
        """Wait for our account to ring, then pick up (alone: no other callee opens its dumps this second)."""
        await self.ring(timeout, since)
        async with gate:
            before = set(self.br.dump.glob("*-dec.wav"))
            self.br.on(self.aor, "accept")
            event = await asyncio.to_thread(self.br.wait_event, "CALL_ESTABLISHED", 10, self.aor, self.rang_at)
            self.answered_at = float(event["at"])
            deadline = time.monotonic() + 10
            while not (new := set(self.br.dump.glob("*-dec.wav")) - before):
                assert time.monotonic() < deadline, "baresip opened no dump for the call"
                await asyncio.sleep(0.05)
            self.dec = new.pop()
            self.tail = HeardTail(self.dec)
            self.said = HeardTail(self.dec.with_name(self.dec.name.replace("-dec.", "-enc.")))
            await asyncio.sleep(1.1)  # the next call's dumps get another second in their names

    async def reject(self, timeout: float = 180) -> None:
        """Refuse the call while it rings (baresip answers 486)."""
        await self.ring(timeout)
        await asyncio.to_thread(self.br.on, self.aor, "hangup")

    async def agent_done(self, timeout: float = 90, quiet_s: float = 1.2) -> None:
        """Until the agent has spoken since our last action and then been quiet for `quiet_s`."""
        assert await self.quiet_after_agent(quiet_s, timeout), f"{self.user}: the agent never spoke"

    async def quiet_after_agent(self, quiet_s: float, reply_timeout_s: float, poll_s: float = 0.02) -> bool:
        """Until the agent has spoken since our last action and then been quiet for `quiet_s` (True), or
        `reply_timeout_s` passed without a word from it (False). Both dumps are polled as they grow, which
        places them on our clock (HeardTail.at)."""
        assert self.tail is not None, "answer first"
        since = time.monotonic()
        while True:
            self.tail.poll()
            if self.said is not None:
                self.said.poll()
            now = time.monotonic()
            if self.tail.loud_frames > self.seen:
                if now > self.tail.last_loud + quiet_s:
                    return True
            elif now - since > reply_timeout_s:
                return False
            await asyncio.sleep(poll_s)

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
