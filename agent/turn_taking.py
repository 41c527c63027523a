"""When to take the turn: the complete-answer endpointer's decision, shared by the live call
(agent/call_listener.py) and `dialwise bench turns` (agent/bench_turns.py), so the bench measures the code
the calls run.

After the callee's short pause (`pause_ms`, ~200 ms; or `early_asr_ms` when set and an ASR worker is
free) the speculative transcript goes through the NLU with
the node's expectation and `nlu.complete.judge` says complete / incomplete / unsure. The turn is then
taken once the silence after the end of voice reaches:

- complete:   the node's `min_wait_ms` (at once, if the verdict came later than that);
- incomplete: the node's `max_wait_ms` (a number read in pieces, "I can pay…", a trailing "然后");
- unsure:     the node's `eos_silence_ms` (today's fixed silence), moved by the prosody of the end
              (also when every reading was the ASR prompt read back, nlu/prompt_echo.py: on dev such a
              reading sat mostly on a filler before more speech, and without the unsure extra wait zh
              cut-ins with the words at once went 8.9 % -> 13.3 %, en 0 -> 2.2 %):
              English: a clear final fall and a fading voice -> sooner; a rise -> later.
              Mandarin: the last syllable's lexical tone sets its pitch, so only the energy counts.
While the verdict is pending the wait is `max_wait_ms` (never end before the words are read).

A turn taken before the node's fixed silence would have ended it is an *early* answer; if the callee
speaks again within `cut_in_window_ms` of it, the agent stops and listens: a **cut-in**.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from nlu.complete import COMPLETE, INCOMPLETE, Verdict
from nlu.prompt_echo import first_reading
from speech.prosody import Tail


@dataclass(frozen=True)
class TurnSettings:
    complete_answers: bool = True  # False: today's fixed silence at every node (the baseline)
    pause_ms: int = 200  # silence that starts the speculative transcript and the verdict
    # > 0: the speculative transcript starts earlier, at this much silence after the end of voice (the words
    # are read sooner; `pause_ms` still applies to speech over the agent). If speech comes back the decode is
    # wasted; at most one runs per call, and only on a spare ASR worker, else the reading waits for `pause_ms`.
    # Off by default: on dev (bench turns' early_asr_sweep) 100 ms took complete answers 11 % sooner but
    # cut in on 13 % of paused turns (3 % reading at the pause): the words of a first part ("Yes, and" heard
    # as "Yes.") are ready before the callee goes on. Session 8: on for English (`per_lang`), whose first
    # parts the verdict now catches. None: the language's value in PER_LANG. TURN_EARLY_ASR_MS sets it for all.
    early_asr_ms: int | None = None
    # default per-node minimum: earliest answer to a complete answer (capped at the node's eos_silence_ms).
    # 400 and unsure_extra_ms 150 were chosen on dev once the faster ASR (session 7) had the words ready
    # ~200 ms sooner: at 200 / 0 the words of a first part ("Yes, and" heard "Yes.") were ready before the
    # callee went on, and 23 % of dev's paused turns were cut in on; 400 / 150 cut in on 14 % (p50 +100 ms)
    min_wait_ms: int = 400
    max_wait_ms: int = 1000  # default per-node maximum: wait on an incomplete answer
    cut_in_window_ms: int = 600
    backchannels: bool = True  # short acknowledgements over the agent do not take the turn
    # voiced speech longer than this over the agent is a real interruption. 800 -> 1000 (session 8, dev): the
    # longest dev backchannel (espeak "mm-hmm") is 840 ms voiced; 850-1000 took none of dev's 40 as a barge-in
    # and missed the same 1 of 18 interruptions as 800; 1200 missed 2
    backchannel_max_ms: int = 1000
    prosody: bool = True
    # prosody thresholds (tuned on the dev half of the turn set)
    fall_semitones: float = -1.5  # en: tail median this far under the utterance median = a final fall
    rise_semitones: float = 1.5  # en: this far above = a continuation rise
    fade_db_per_s: float = -20.0  # energy falling this fast over the tail = trailing off
    prosody_shift_ms: int = 150  # how far the prosody moves an unsure wait
    unsure_extra_ms: int | None = None  # added to the node's silence when the verdict is unsure (None: PER_LANG)

    def with_(self, **changes) -> TurnSettings:
        return replace(self, **changes)

    def for_lang(self, lang: str) -> TurnSettings:
        """These settings with `lang`'s value (PER_LANG) for each setting left unset (None)."""
        table = PER_LANG.get(lang, PER_LANG["en"])
        unset = {f.name: table[f.name] for f in fields(self) if getattr(self, f.name) is None and f.name in table}
        return replace(self, **unset) if unset else self


# The per-language values of the settings left None above (session 8, chosen on dev with the ASR timed as on a
# quiet machine). Mandarin waits longer when unsure: its misread first parts ("对，但是" heard "对上去。") are
# unsure readings (cut-ins 13 % -> 4 % of dev's paused turns, p50 +30 ms). English reads early: its first parts
# are caught by the words and by nlu.complete's repeat / missing-word rules (p50 508 -> 451 ms, no dev cut-in).
PER_LANG: dict[str, dict[str, int]] = {"zh": {"early_asr_ms": 0, "unsure_extra_ms": 300},
                                       "en": {"early_asr_ms": 100, "unsure_extra_ms": 150}}


@dataclass(frozen=True)
class NodeWaits:
    """A node's waits (ms of silence after the end of voice)."""

    eos_ms: int
    min_ms: int
    max_ms: int

    @classmethod
    def of(cls, decision, settings: TurnSettings, default_eos_ms: int) -> NodeWaits:
        eos = getattr(decision, "eos_silence_ms", None) or default_eos_ms
        lo = getattr(decision, "min_wait_ms", None) or settings.min_wait_ms
        hi = getattr(decision, "max_wait_ms", None) or max(settings.max_wait_ms, eos)
        return cls(eos, min(lo, eos), max(hi, eos))


def prosody_shift(tail: Tail | None, lang: str, s: TurnSettings) -> tuple[int, str]:
    """(ms added to an unsure wait, why): negative = the voice sounds finished."""
    s = s.for_lang(lang)
    if tail is None or not s.prosody:
        return 0, ""
    fading = tail.energy_slope <= s.fade_db_per_s
    if lang == "en" and tail.pitch_drop is not None:
        if tail.pitch_drop <= s.fall_semitones and fading:
            return -s.prosody_shift_ms, "falling pitch, fading voice"
        if tail.pitch_drop >= s.rise_semitones:
            return s.prosody_shift_ms, "rising pitch"
        return 0, ""
    if lang == "zh" and fading:  # tone-neutral: a fading voice only
        return -s.prosody_shift_ms, "fading voice"
    return 0, ""


def wait_ms(verdict: Verdict | None, tail: Tail | None, lang: str, waits: NodeWaits,
            s: TurnSettings) -> tuple[int, str]:
    """(silence after the end of voice at which to take the turn, reason)."""
    s = s.for_lang(lang)
    if not s.complete_answers:
        return waits.eos_ms, "fixed silence"
    if verdict is None:
        return waits.max_ms, "verdict pending"
    if verdict.state == COMPLETE:
        return waits.min_ms, f"complete: {verdict.reason}"
    if verdict.state == INCOMPLETE:
        return waits.max_ms, f"incomplete: {verdict.reason}"
    shift, why = prosody_shift(tail, lang, s)
    w = min(waits.max_ms, max(waits.min_ms, waits.eos_ms + (s.unsure_extra_ms or 0) + shift))
    return w, f"unsure: {verdict.reason}" + (f"; {why}" if why else "")


def pause_reading(readings: list[str], prompt: str | None, voiced_ms: int | None) -> tuple[str | None, int | None]:
    """(reading, voiced ms) to judge at a pause (the transcript, then any other beams, best first): the first
    reading that is not the ASR prompt read back, without its echoed clauses, or None when all were echoes;
    the voiced ms is dropped with echoed clauses (they stand for voice, so voice per word tells nothing)."""
    text = first_reading(readings, prompt)
    return text, (voiced_ms if text in readings else None)


def verdict_of(readings: list[str], lang: str, expect: str | None, classify, prompt: str | None, today,
               voiced_ms: int | None) -> tuple[Verdict, Any]:
    """(verdict, understanding) of a pause's readings (`pause_reading`); when all were echoes, an unsure
    verdict that leaves the wait to the node's silence and the prosody. The live call does the same with the
    NLU awaited (agent/call_listener.py)."""
    from nlu.complete import echo_verdict, judge

    text, voiced_ms = pause_reading(readings, prompt, voiced_ms)
    if text is None:
        return echo_verdict(), None
    understanding = classify(text, lang, expect, today) if text else None
    return judge(text, lang, expect, understanding, voiced_ms=voiced_ms), understanding


def is_backchannel_turn(text: str, lang: str, voiced_ms: int, s: TurnSettings, understanding=None) -> bool:
    """Speech that began over the agent's audio: short (<= `backchannel_max_ms` voiced) and not a bid for the
    floor (a refusal, a must-not-miss request) is a backchannel ('嗯', 'uh-huh', '对') or a breath; anything
    longer, or a bid, is a real interruption. The length decides first: Whisper reads a lone '嗯' poorly."""
    from nlu.complete import is_backchannel, is_bid

    if not s.backchannels or voiced_ms > s.backchannel_max_ms:
        return False
    return is_backchannel(text, lang, understanding) or not is_bid(understanding)
