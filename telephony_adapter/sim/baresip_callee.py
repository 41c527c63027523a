"""A recorded callee on baresip, turn by turn, measured at baresip (`dialwise bench networks`, baresip arm).

It behaves as the test carriers' callees do (`callee_turns.CallerBehaviour`: the same clips, the same
pauses): it waits until the agent has spoken and then been quiet for `end_of_prompt_s`, pauses
`human_delay_s`, and speaks the next clip by switching its baresip account's microphone (`Line.say`).

Voice-to-voice is measured afterwards from baresip's own recordings, on baresip's clock: the encoder dump
holds what it said, the decoder dump what it heard (RTP out of baresip's jitter buffer, as a phone hears it).
Each clip is found sample-exactly in what was said; its words end at its last voiced 20 ms frame
(`callee_turns.speech_end`, as the carriers cut it); the reply is the first voiced frame heard after
that. Both dumps are placed on time.monotonic() by their polls (`HeardTail.at`), so a turn's end and its
reply line up with the session's own timestamps as the carriers' reports do (`turn_end_at`,
`reply_heard_at`). The thresholds are the carriers' (`VOICED_RMS`, `OVERLAP_S`), and a turn ends when its last
voiced frame is handed over, as in `CalleeTurns.talk` (until session 15: 20 ms after, which put the end of the words
after the audio that carried it had left, and made every latency 20 ms shorter than a caller lives it).
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from telephony_adapter.sim.baresip_line import Line
from telephony_adapter.sim.callee_turns import (
    FRAME_S,
    OVERLAP_S,
    VOICED_RMS,
    VOICES_DIR,
    CallerBehaviour,
    CallerReport,
    pcm_rms,
    speech_end,
)

RATE = 8000
FRAME = 160
Clock = Callable[[int], "float | None"]  # a dump's sample -> time.monotonic() it was written
KEY = 64  # samples of a clip's first voiced frame that must match exactly where it was said


def find_clip(said: np.ndarray, clip: np.ndarray, start: int = 0) -> int | None:
    """Where `clip` begins in `said` at or after `start` (baresip's file source passes samples through
    unchanged at 8 kHz, so the match is exact), or None."""
    loud = np.flatnonzero(np.abs(clip.astype(np.int32)) > 1000)
    v = int(loud[0]) if len(loud) else 0
    key = clip[v: v + KEY]
    if len(key) == 0:
        return None
    cand = np.flatnonzero(said[start + v:] == key[0]) + start + v
    for i in range(1, len(key)):
        cand = cand[cand + i < len(said)]
        cand = cand[said[cand + i] == key[i]]
        if len(cand) == 0:
            return None
    for c in cand:  # the whole clip, where the dump holds it
        begin = int(c) - v
        n = min(len(clip), len(said) - begin)
        if begin >= 0 and np.array_equal(said[begin: begin + n], clip[:n]):
            return begin
    return None


def measure(said: np.ndarray, heard: np.ndarray, clips: list[np.ndarray], *, said_at: Clock, heard_at: Clock,
            answered_at: float | None = None) -> dict[str, Any]:
    """Voice-to-voice per clip as baresip lived it. `said_at`/`heard_at`: time.monotonic() at which a sample
    of each dump was written (HeardTail.at). Returns the report fields the carriers fill (CallerReport)."""
    out: dict[str, Any] = {"v2v_ms": [], "turn_end_at": [], "reply_heard_at": [], "overlaps": 0, "no_reply": 0,
                           "unfound_clips": 0, "greeting_ms": None}
    frames = len(heard) // FRAME
    voiced = [pcm_rms(heard[i * FRAME:(i + 1) * FRAME].astype("<i2").tobytes()) > VOICED_RMS for i in range(frames)]
    # each frame is handed over complete: when its last sample is written
    at = [heard_at((i + 1) * FRAME - 1) for i in range(frames)]
    times = [t if t is not None else float("inf") for t in at]
    if answered_at is not None:
        first = next((t for t, v in zip(times, voiced, strict=True) if v), None)
        out["greeting_ms"] = None if first is None else round((first - answered_at) * 1000, 1)
    pos = 0
    for clip in clips:
        begin = find_clip(said, clip, pos)
        if begin is None:
            out["unfound_clips"] += 1
            continue
        words = speech_end(clip.astype("<i2").tobytes(), "pcm16") // 2
        pos = begin + len(clip)
        written = said_at(begin + words - 1)
        if written is None:
            out["unfound_clips"] += 1
            continue
        end = written  # the last voiced frame handed over once said: the words have ended (as CalleeTurns.talk)
        if any(v and end - OVERLAP_S - FRAME_S <= t <= end for t, v in zip(times, voiced, strict=True)):
            out["overlaps"] += 1  # the agent talked over our words' end: nothing to measure
            continue
        reply = next((t for t, v in zip(times, voiced, strict=True) if v and t > end), None)
        if reply is None:
            out["no_reply"] += 1
            continue
        out["v2v_ms"].append(round((reply - end) * 1000, 1))
        out["turn_end_at"].append(round(end, 4))
        out["reply_heard_at"].append(round(reply, 4))
    return out


async def run_callee(line: Line, behaviour: CallerBehaviour, gate: asyncio.Lock, *,
                     voices_dir: Path = VOICES_DIR, ring_timeout_s: float = 300.0) -> dict[str, Any]:
    """Answer `line`'s next call, speak `behaviour`'s items turn by turn, hang up after the agent's last
    reply; the report as the carriers give it (`CallerReport.as_dict()`), measured at baresip."""
    report = CallerReport()
    try:
        await line.answer(gate, timeout=ring_timeout_s)
    except AssertionError as exc:
        report.error, report.ended_by = str(exc), "error"
        return {**report.as_dict(), "call_id": line.call_id}
    answered_at = line.answered_at
    clips: list[np.ndarray] = []
    for kind, value in behaviour.items(voices_dir, "pcm16"):
        await line.quiet_after_agent(behaviour.end_of_prompt_s, behaviour.reply_timeout_s)
        await asyncio.sleep(behaviour.human_delay_s)
        if kind == "clip":
            path, data = value
            pcm = np.frombuffer(data, dtype="<i2")
            line.say(pcm)
            clips.append(pcm)
            report.clips_played.append(Path(path).name)
        elif kind == "dtmf":
            await line.press(str(value))
        else:
            await asyncio.sleep(float(value))
    await line.quiet_after_agent(behaviour.end_of_prompt_s, behaviour.reply_timeout_s)  # the last reply
    closed = line.br.find_event("CALL_CLOSED", line.aor, line.rang_at) is not None
    if behaviour.hang_up_at_end and not closed:
        await asyncio.to_thread(line.br.on, line.aor, "hangup")
        report.ended_by = "caller"
    else:
        report.ended_by = "agent"
    try:
        await asyncio.to_thread(line.br.wait_event, "CALL_CLOSED", 10, line.aor, line.rang_at)
    except AssertionError:
        pass
    assert line.tail is not None and line.said is not None
    line.tail.poll()
    line.said.poll()
    said, heard = line.dumps()
    if line.said.t0 is None or line.tail.t0 is None:
        report.error = "baresip recorded nothing of the call"
        return {**report.as_dict(), "call_id": line.call_id}
    if answered_at is not None:  # baresip starts its audio as it answers, a moment before it reports it
        answered_at = min(answered_at, line.said.t0, line.tail.t0)
    found = measure(said, heard, clips, said_at=line.said.at, heard_at=line.tail.at, answered_at=answered_at)
    report.v2v_ms, report.turn_end_at, report.reply_heard_at = (
        found["v2v_ms"], found["turn_end_at"], found["reply_heard_at"])
    report.greeting_ms, report.overlaps, report.no_reply = found["greeting_ms"], found["overlaps"], found["no_reply"]
    report.heard_s = round(len(heard) / RATE, 2)
    out = report.as_dict()
    out["call_id"] = line.call_id
    out["unfound_clips"] = found["unfound_clips"]
    out["dump_clock_s"] = {"said_t0": round(line.said.t0, 4), "heard_t0": round(line.tail.t0, 4)}
    return out
