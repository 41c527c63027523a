"""Turn bookkeeping of a CallSession: callee turns (ID answers masked), agent turns, and the per-turn
latency fields, written in order through the call's OrderedWrites.

Latency of a callee turn: `endpoint_ms` (end of voice -> turn taken), `asr_ms`, `asr_compute_ms`,
`asr_speculative`, `nlu_ms`, `policy_ms`, `tts_first_ms`, `voice_to_voice_ms`, and from the turn-taker
`endpoint_reason` (complete / incomplete / unsure / fixed silence) and `early` (taken before the node's
fixed silence). A cut-in adds `cut_in: true` to the turn it cut. `voice_end_mono_s` and `first_audio_mono_s`
are the two ends of `voice_to_voice_ms` on `time.monotonic()` (one clock for every process of a host): a bench
lines them up with what its test carrier's callee heard, to split the network's part into inbound and outbound.
"""
from __future__ import annotations

import asyncio
import time
from datetime import date
from typing import Any

from agent.call_store import TurnRecord
from agent.id_masking import ID_EXPECT, holds_id, mask_entities, mask_id_answer


def jsonable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


class TurnBook:
    def __init__(self, session: Any) -> None:
        self.s = session
        self.pending_latency: dict[str, Any] | None = None
        self.pending_turn: asyncio.Future[Any] | None = None
        self.last_callee: tuple[asyncio.Future[Any], dict[str, Any]] | None = None  # for a cut-in

    def callee(self, text, intent, confidence, entities, start_ms, end_ms, latency,
               masked: bool = False) -> asyncio.Future[Any]:
        s = self.s
        if not masked and (s._expect == ID_EXPECT or holds_id(entities)):  # an answer to the ID check
            text, entities = mask_id_answer(text), mask_entities(entities)
        rec = TurnRecord("callee", text, start_ms, end_ms, node=s.policy.node, intent=intent,
                         confidence=confidence, entities=jsonable(entities or {}), latency=latency)
        s.result.turns += 1
        return s._write(lambda: s.store.add_turn(rec))

    def answered(self, latency: dict[str, Any], turn: asyncio.Future[Any]) -> None:
        """A callee turn the agent is about to answer: its latency is completed at the first agent audio."""
        self.pending_latency, self.pending_turn = latency, turn

    def first_audio(self, node: str, start_ms: int) -> asyncio.Future[Any]:
        s = self.s
        now = time.monotonic()
        lat = self.pending_latency
        if lat is not None and self.pending_turn is not None:
            lat["tts_first_ms"] = round((now - lat.pop("_policy_wall")) * 1000, 1)
            lat["voice_to_voice_ms"] = round((now - lat.pop("_end_wall")) * 1000, 1)
            lat["first_audio_mono_s"] = round(now, 4)
            lat = {k: v for k, v in lat.items() if v is not None}
            s.result.latencies.append(lat)
            turn = self.pending_turn
            self.last_callee = (turn, lat)
            s._write(lambda: s.store.update_turn(turn.result(), latency=lat))
        self.pending_latency = None
        self.pending_turn = None
        rec = TurnRecord("agent", "", start_ms, start_ms, node=node)
        s.result.turns += 1
        return s._write(lambda: s.store.add_turn(rec))

    def cut_in(self, gap_ms: float) -> None:
        """The callee went on within the cut-in window after an early answer: note it on the turn."""
        s = self.s
        s.result.cut_ins += 1
        if self.pending_turn is not None and self.pending_latency is not None:  # cut before the reply began
            turn = self.pending_turn
            lat = {k: v for k, v in self.pending_latency.items() if not k.startswith("_")}
            lat.update(cut_in=True, cut_in_gap_ms=round(gap_ms, 1))
            s._write(lambda: s.store.update_turn(turn.result(), latency=lat))
            self.pending_latency = self.pending_turn = None
        elif self.last_callee is not None:
            turn, lat = self.last_callee
            lat["cut_in"] = True
            lat["cut_in_gap_ms"] = round(gap_ms, 1)
            s._write(lambda: s.store.update_turn(turn.result(), latency=dict(lat)))
        self.last_callee = None
