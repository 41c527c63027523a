"""The turn set spoken by real voices: the 80 recorded caller fixtures (telephony_adapter/sim/voices).

The other families (agent/turnset.py) synthesise each part of a paused turn as a sentence of its own, so the
first part ends like a whole answer: a final fall, a lengthened last word. A caller who stops mid-answer does not.
The recorded fixtures hold natural pauses inside whole answers ("不需要，[480 ms] 我现在不缺钱", "Sorry, [320 ms] you
have the wrong number."), spoken by people who meant to go on. So, per fixture:
- complete: the clip as recorded (its own pauses included: an answer there is a cut-in too);
- paused:   the same clip with its longest pause stretched to a 300-700 ms draw (the silence inserted in the
            middle of the recorded pause, whose breath and room sound stay), when the clip has a pause;
- backchannel: an agreement of one or two words ("嗯，对的", "Mm-hmm, right."), spoken over the agent;
- interruption: a request that must be heard (stop calling, a person, a dispute, ...), spoken over the agent.
A fixture is its own template, and its split is the evaluation protocol's (speech.evalset.material.fixture_rows).
The node each answer is heard at is the one where a callee says it (`NODE_FOR_INTENT`).
"""
from __future__ import annotations

import functools
import random
from pathlib import Path

import numpy as np

from agent.turnset_turn import Turn

VOICE = "recorded"
FOLDER = Path(__file__).resolve().parents[1] / "telephony_adapter" / "sim" / "voices"

# where in a call each intent of spec/intents.yaml is said (a bench node, agent.bench_stages.NODE_OF)
NODE_FOR_INTENT = {
    **dict.fromkeys(("confirm_identity", "wrong_number", "third_party", "ask_who_calling", "ask_if_robot",
                     "scam_suspicion", "call_back_later", "repeat_request"), "identity"),
    **dict.fromkeys(("promise_to_pay", "cannot_pay", "request_installment", "dispute_debt", "already_paid",
                     "ask_amount_due", "ask_due_date", "ask_payment_method", "stop_calling", "complaint",
                     "request_human"), "payment"),
    **dict.fromkeys(("interested", "not_interested", "ask_interest_rate", "ask_credit_limit", "how_to_apply",
                     "out_of_scope"), "offer"),
    **dict.fromkeys(("affirm", "deny"), "yes_no"),
}
# said over the agent, these take the floor (the listener must stop and hear them)
INTERRUPTING = frozenset(("stop_calling", "request_human", "wrong_number", "complaint", "dispute_debt",
                          "already_paid", "repeat_request"))
MIN_GAP_MS = 100  # a recorded pause shorter than this is a gap between words, not a place to stop


def is_recorded(turn: Turn) -> bool:
    """Is the turn one of this family's (its voice names a fixture clip)?"""
    return turn.voice.startswith(f"{VOICE}:")


def clip_of(turn: Turn) -> str:
    """The fixture file a recorded turn is spoken in."""
    return turn.voice.split(":", 1)[1]


def is_backchannel_text(text: str, lang: str) -> bool:
    """An agreement short enough to be said over the agent: up to 3 characters (zh) or 2 words (en)."""
    from speech.evalset.protocol import normalize

    return len(normalize(text)) <= 3 if lang == "zh" else len(text.split()) <= 2


def plan_recorded(langs: tuple[str, ...], splits: tuple[str, ...]) -> list[Turn]:
    """The recorded family's turns, without their audio (deterministic: the paused turns' pauses are drawn here;
    a clip with no pause of `MIN_GAP_MS` between its words gives no paused turn)."""
    from speech.evalset.material import fixture_rows

    out: list[Turn] = []
    for row in fixture_rows():
        lang, split, intent = row["lang"], row["split"], row["intent"]
        if lang not in langs or split not in splits:
            continue
        tpl = f"rec-{Path(row['file']).stem}"
        voice = f"{VOICE}:{row['file']}"
        node = NODE_FOR_INTENT[intent]
        pause = random.Random(f"{tpl}:pause").randrange(300, 701, 20)
        out.append(Turn(f"{tpl}/c", tpl, lang, split, "complete", node, row["text"], 0, voice))
        if pause_in(row["file"]) is not None:
            out.append(Turn(f"{tpl}/p", tpl, lang, split, "paused", node, row["text"], pause, voice))
        if intent in INTERRUPTING:
            out.append(Turn(f"{tpl}/i", tpl, lang, split, "interruption", None, row["text"], 0, voice))
        elif intent == "affirm" and is_backchannel_text(row["text"], lang):
            out.append(Turn(f"{tpl}/b", tpl, lang, split, "backchannel", None, row["text"], 0, voice))
    return out


def read_clip(name: str) -> np.ndarray:
    """A fixture's audio, 16 kHz float32 (speech.audio.read_audio); only files inside the fixtures folder."""
    from speech.audio import read_audio

    path = (FOLDER / name).resolve()
    if path.parent != FOLDER.resolve() or path.suffix != ".wav":
        raise ValueError(f"not a recorded fixture: {name!r}")
    audio, rate = read_audio(path)
    if rate != 16000:
        raise ValueError(f"{name}: expected 16 kHz audio, got {rate} Hz")
    return audio


@functools.cache
def pause_in(name: str) -> tuple[int, int] | None:
    """`longest_pause` of a fixture's clip (found once per process)."""
    return longest_pause(read_clip(name))


def longest_pause(clip: np.ndarray) -> tuple[int, int] | None:
    """(start, end) sample of the longest pause inside a clip as the session's VAD hears it, or None when no pause
    of `MIN_GAP_MS` or more lies between its words."""
    from speech.endpoint import Endpointer
    from speech.vad import create_vad

    lead = 8000
    x = np.concatenate([np.zeros(lead, np.float32), clip, np.zeros(16000, np.float32)])
    ep = Endpointer(create_vad(), eos_silence_ms=10_000, pause_ms=60)
    best: tuple[int, int] | None = None
    opened: int | None = None
    for i in range(0, len(x) - 320 + 1, 320):
        for ev in ep.feed(x[i:i + 320]):
            kind = type(ev).__name__
            if kind == "SpeechPaused":
                opened = ev.end_ms
            elif kind == "SpeechResumed" and opened is not None:
                gap = (opened * 16 - lead, ev.at_ms * 16 - lead)
                if gap[1] - gap[0] >= 16 * MIN_GAP_MS and (best is None or gap[1] - gap[0] > best[1] - best[0]):
                    best = gap
                opened = None
    return best


def load(turn: Turn) -> tuple[list[np.ndarray], int]:
    """(pieces of clean audio in order, ms of voice before the pause) for a recorded turn: the clip, and for a
    paused turn the clip with its longest recorded pause stretched to `turn.pause_ms` (silence inserted in the
    middle of the pause, never shortened)."""
    name = clip_of(turn)
    clip = read_clip(name)
    gap = pause_in(name) if turn.kind == "paused" else None
    if gap is None:
        return [clip], 0
    start, end = gap
    mid = (start + end) // 2
    extra = max(0, 16 * turn.pause_ms - (end - start))
    return [clip[:mid], np.zeros(extra, dtype=np.float32), clip[mid:]], start // 16
