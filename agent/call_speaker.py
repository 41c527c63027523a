"""The speaking part of a CallSession: lines to audio (prompt cache or TTS, clause by clause), a mark after
each chunk, and only what the marks confirm was played is recorded as said.

Speech over the agent stops it at once (`interrupt`, within one frame of the VAD onset). The unplayed rest
is held: if the callee only said "嗯" / "uh-huh" (`resume`), the agent picks up again at the clause it was
cut in, and its turn is not marked interrupted; a real interruption (`confirm_interrupt`) drops it.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

from agent.recording import RATE as REC_RATE
from dialogs.types import Line


def chunks_of(lines: list[Line], split) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for line in lines:
        if line.line_id is not None:
            out.append((line.text, line.line_id))  # cached as a whole line
        else:
            out.extend((clause, None) for clause in split(line.text))
    return out


class Speaker:
    def __init__(self, session: Any, split) -> None:
        self.s = session
        self.split = split  # text -> clauses
        self.task: asyncio.Task[Any] | None = None
        self.marks: dict[str, str] = {}  # mark name -> clause text
        self.played: list[str] = []
        self.agent_turn: asyncio.Future[int] | None = None
        self.all_played = asyncio.Event()
        self.all_played.set()
        self._seq = 0
        self._node = ""
        self._chunks: list[tuple[str, str | None]] = []
        self.held = False  # stopped by speech that may be only a backchannel

    @property
    def speaking(self) -> bool:
        return not self.all_played.is_set()

    def cancel(self) -> None:
        if self.task and not self.task.done():
            self.task.cancel()

    def start(self, coro) -> None:
        self.cancel()
        self.task = asyncio.create_task(coro, name="speaker")

    async def stop(self) -> None:
        """Drop whatever is queued on the line (a new decision, a cut-in, a machine)."""
        await self.s.transport.clear()
        self.s.recorder.cut_agent()
        self.marks.clear()
        self.all_played.set()

    # ------------------------------------------------------------------ barge-in
    async def interrupt(self, onset: float, hold: bool) -> None:
        """The callee speaks over the agent: stop now. With `hold`, keep the rest for `resume`."""
        await self.s.transport.clear()
        self.cancel()
        self.s.recorder.cut_agent()
        self.marks.clear()
        self.all_played.set()
        self.s.result.barge_ins.append(round((time.monotonic() - onset) * 1000, 1))
        self.held = hold and self.agent_turn is not None and len(self.played) < len(self._chunks)
        if not self.held:
            await self.confirm_interrupt()

    async def confirm_interrupt(self) -> None:
        """A real interruption: the agent's turn ends at what was played."""
        self.held = False
        if self.agent_turn is not None:
            turn, text, end_ms = self.agent_turn, " ".join(self.played), self.s.recorder.now_ms
            await self.s._write(lambda: self.s.store.update_turn(turn.result(), text=text, interrupted=True,
                                                                 end_ms=end_ms))
        self.agent_turn = None

    def resume(self) -> None:
        """Only a backchannel: say the rest, from the clause that was cut."""
        if not self.held:
            return
        self.held = False
        rest = self._chunks[len(self.played):]
        self.s.result.backchannels += 1
        self.start(self._play_rest(rest))

    async def _play_rest(self, rest: list[tuple[str, str | None]]) -> None:
        try:
            self.all_played.clear()
            await self._send(rest, first_turn=False)
            await self.all_played.wait()
            self.s._last_activity = time.monotonic()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # never let one call's failure escape
            self.s._fail("speaking", exc)

    # ------------------------------------------------------------------ playing
    async def play(self, node: str, lines: list[Line]) -> None:
        self.played = []
        self.agent_turn = None
        self.held = False
        self.all_played.clear()
        self._node = node
        self._chunks = chunks_of(lines, self.split)
        await self._send(self._chunks, first_turn=True)

    async def _send(self, chunks: list[tuple[str, str | None]], first_turn: bool) -> None:
        from speech.audio import resample

        s = self.s
        # synthesise ahead: chunk i+1 is prepared while chunk i is being sent
        pending = [asyncio.ensure_future(s.deps.synthesize(t, s.lang, lid)) for t, lid in chunks[:2]]
        try:
            for i, (text, _lid) in enumerate(chunks):
                speech = await pending[i]
                if i == 0:  # the caller hears the first chunk's leading silence as delay
                    speech = speech.without_lead()
                if i + 2 < len(chunks):
                    t, lid = chunks[i + 2]
                    pending.append(asyncio.ensure_future(s.deps.synthesize(t, s.lang, lid)))
                await s.transport.send_audio(speech.pcm, speech.sample_rate)
                start_ms = s.recorder.add_agent(resample(speech.pcm, speech.sample_rate, REC_RATE))
                if i == 0 and first_turn:
                    self.agent_turn = s.book.first_audio(self._node, start_ms)
                self._seq += 1
                name = f"m{self._seq}"
                self.marks[name] = text
                await s.transport.mark(name)
        finally:
            for p in pending:
                p.cancel()

    def on_mark(self, name: str) -> None:
        text = self.marks.pop(name, None)
        if text is None:
            return
        self.played.append(text)
        self.s._last_activity = time.monotonic()
        if self.agent_turn is not None:
            turn, played, end_ms = self.agent_turn, " ".join(self.played), self.s.recorder.now_ms
            self.s._write(lambda: self.s.store.update_turn(turn.result(), text=played, end_ms=end_ms))
        if not self.marks:
            self.all_played.set()
