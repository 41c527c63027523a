"""Session 9: the ASR's own doubt about a pause's reading (no word list): a complete reading decoded with a low
log-probability or a high no-speech probability waits like an unsure one, and Whisper's next beam can
cross-check a complete verdict. Both languages; the real NLU."""
from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from agent.turn_taking import (
    NodeWaits,
    PauseReading,
    TurnSettings,
    confidence_of,
    cross_check,
    pause_reading,
    readings_of,
    verdict_of,
    wait_ms,
)
from nlu import complete as C
from speech.asr.base import Transcript

TODAY = date(2026, 11, 23)
WAITS = NodeWaits(eos_ms=450, min_ms=400, max_ms=1000)
SURE = C.Confidence(avg_logprob=-0.3, no_speech_prob=0.02)


@pytest.fixture(scope="module")
def classify():
    import nlu

    nlu.load_model()
    return nlu.classify


CASES = [("en", "identity", "Yes, this is Emily."), ("zh", "identity", "对，我是王芳。"),
         ("en", "yes_no", "Yes."), ("zh", "yes_no", "好的。")]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_unsure_reading_names_the_asr_doubt(lang):
    low = C.LOW_LOGPROB[lang]
    high = C.HIGH_NO_SPEECH[lang]
    assert low is not None and high is not None
    assert C.unsure_reading(None, lang) is None
    assert C.unsure_reading(SURE, lang) is None
    assert "log-probability" in (C.unsure_reading(C.Confidence(low - 0.1, 0.0), lang) or "")
    assert C.unsure_reading(C.Confidence(low + 0.1, 0.0), lang) is None
    assert "no-speech" in (C.unsure_reading(C.Confidence(-0.2, high + 0.05), lang) or "")
    assert "next beam" in (C.unsure_reading(C.Confidence(-0.2, 0.0, beam_complete=False), lang) or "")


@pytest.mark.parametrize("lang,expect,text", CASES)
def test_a_complete_reading_the_asr_doubts_waits_like_an_unsure_one(classify, lang, expect, text):
    u = classify(text, lang, expect, TODAY)
    assert C.judge(text, lang, expect, u, confidence=SURE).state == C.COMPLETE
    doubt = C.judge(text, lang, expect, u, confidence=C.Confidence(avg_logprob=-1.4, no_speech_prob=0.02))
    assert doubt.state == C.UNSURE and doubt.asr_doubt and "ASR is unsure" in doubt.reason
    s = TurnSettings(prosody=False)
    sure_wait = wait_ms(C.judge(text, lang, expect, u, confidence=SURE), None, lang, WAITS, s)[0]
    doubt_wait = wait_ms(doubt, None, lang, WAITS, s)[0]
    assert sure_wait == WAITS.min_ms < doubt_wait == WAITS.eos_ms + s.for_lang(lang).unsure_extra_ms
    # the rule can be switched off: the same reading is then taken at once
    off = verdict_of([text], lang, expect, classify, None, TODAY, None, C.Confidence(-1.4, 0.02),
                     s.with_(asr_doubt=False))[0]
    assert off.state == C.COMPLETE


@pytest.mark.parametrize("lang,text,digits", [("zh", "幺二三四。", "1234"), ("en", "One two three four.", "1234")])
def test_all_four_id_digits_are_taken_however_the_voice_stops(lang, text, digits):
    """The ID's last four, all heard: the node's whole answer. A level ending (Mandarin's continuation cue) cannot
    add to it, so it does not hold the answer back; two of four digits still wait."""
    from types import SimpleNamespace

    from speech.prosody import Tail

    s = TurnSettings(level_end_db=-11.0)
    level = Tail(None, None, 0.0, 200, end_level_db=-4.0)
    heard = SimpleNamespace(intent="provide_info", confidence=0.9, entities={"last4": digits})
    whole = C.judge(text, lang, "id_last4", heard)
    assert whole.state == C.COMPLETE and whole.whole
    w, why = wait_ms(whole, level, lang, WAITS, s)
    assert w == WAITS.min_ms and why == "complete: four digits"
    part = C.judge(text.replace("三四", "").replace(" three four", ""), lang, "id_last4",
                   SimpleNamespace(intent="provide_info", confidence=0.9, entities={}))
    assert part.state == C.INCOMPLETE and not part.whole
    assert wait_ms(part, level, lang, WAITS, s)[0] == WAITS.max_ms
    affirm = C.judge("对。" if lang == "zh" else "Yes.", lang, "identity",
                     SimpleNamespace(intent="affirm", confidence=0.95, entities={}))
    assert affirm.state == C.COMPLETE and not affirm.whole  # a yes can still go on: the level ending applies
    assert wait_ms(affirm, level, lang, WAITS, s)[0] > WAITS.min_ms


@pytest.mark.parametrize("lang,text", [("en", "No, stop calling me."), ("zh", "不要再打了。")])
def test_a_must_not_miss_request_is_not_doubted_by_the_asr(classify, lang, text):
    u = classify(text, lang, "yes_no", TODAY)
    assert C.is_must_not_miss(u), u
    v = C.judge(text, lang, "yes_no", u, confidence=C.Confidence(-2.0, 0.9))
    assert v.state == C.COMPLETE


@pytest.mark.parametrize("lang,text,beams,nxt", [
    ("en", "Yes.", [("Yes.", -0.5), ("Payment, balance.", -0.6), ("Yes, and", -0.7)], "Yes, and"),
    ("zh", "对。", [("对", -0.5), ("滞纳金、罚息。", -0.6), ("对，可是", -0.7)], "对，可是"),
])
def test_the_next_beam_is_the_next_different_echo_free_reading(lang, text, beams, nxt):
    prompt = "Payment, balance, account, due date." if lang == "en" else "关于还款、逾期、罚息、滞纳金。"
    tr = Transcript(text=text, language=lang, avg_logprob=-0.4, no_speech_prob=0.1, alternatives=beams)
    readings = readings_of(tr)
    assert readings[0] == text and len(readings) == 4
    r = pause_reading(readings, prompt, 900, confidence_of(tr))
    assert (r.text, r.voiced_ms, r.next_text) == (text, 900, nxt)
    assert r.confidence == C.Confidence(-0.4, 0.1)
    assert pause_reading([text], prompt, 900).next_text is None


@pytest.mark.parametrize("lang,expect,text,other", [("en", "identity", "Yes, it's me.", "Yes, and"),
                                                    ("zh", "identity", "是我。", "是我，然后")])
def test_the_next_beam_cross_checks_a_complete_verdict(classify, lang, expect, text, other):
    s = TurnSettings(beam_check=True)
    v, _ = verdict_of([text, other], lang, expect, classify, None, TODAY, None, SURE, s)
    assert v.state == C.UNSURE and v.asr_doubt and "next beam" in v.reason
    agree, _ = verdict_of([text, text.rstrip("。.") + "!"], lang, expect, classify, None, TODAY, None, SURE, s)
    assert agree.state == C.COMPLETE  # the same words: nothing to cross-check
    off, _ = verdict_of([text, other], lang, expect, classify, None, TODAY, None, SURE, s.with_(beam_check=False))
    assert off.state == C.COMPLETE
    assert cross_check(C.Verdict(C.UNSURE, "x"), C.Verdict(C.INCOMPLETE, "y")).state == C.UNSURE
    assert PauseReading("a", None).next_text is None


def test_other_beams_leave_the_chosen_one_out_best_first_and_normalised():
    from speech.asr.faster import other_beams

    out = other_beams([" Yes.", " Yes, and", "", " Yes. Yes. Yes. Yes. Yes. Yes."], [-0.2, -0.5, -0.9, -0.3], 0, "en")
    assert [t for t, _ in out][0].startswith("Yes") and [s for _, s in out] == [-0.3, -0.5, -0.9][:len(out)]
    assert all(t.strip() for t, _ in out) and "Yes, and" in [t for t, _ in out]
    zh = other_beams(["对。", "對，可是"], [-0.1, -0.4], 0, "zh")
    assert zh == [("对，可是", -0.4)]  # traditional characters normalised to simplified


# ------------------------------------------------------------------ a level ending (prosody, no words)
def _tone(seconds: float, fade_to: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * 16000)) / 16000
    amp = np.linspace(1.0, fade_to, len(t))
    return (0.3 * amp * np.sin(2 * np.pi * 180 * t)).astype(np.float32)


def test_end_level_tells_a_voice_that_stops_level_from_one_that_dies_away():
    from speech.prosody import tail

    quiet = np.zeros(3200, dtype=np.float32)
    level = tail(np.concatenate([_tone(0.8), quiet]))
    dying = tail(np.concatenate([_tone(0.5), _tone(0.3, fade_to=0.05), quiet]))
    assert level.end_level_db is not None and dying.end_level_db is not None
    assert level.end_level_db > -3 > -11 > dying.end_level_db


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_complete_reading_whose_voice_stops_level_waits_like_an_unsure_one(lang):
    from speech.prosody import Tail

    s = TurnSettings(level_end_db=-11.0)
    level, dying = Tail(None, None, 0.0, 200, end_level_db=-4.0), Tail(None, None, 0.0, 200, end_level_db=-15.0)
    complete = C.Verdict(C.COMPLETE, "affirm")
    w, why = wait_ms(complete, level, lang, WAITS, s)
    assert w > WAITS.min_ms and why.startswith("unsure") and "stops level" in why
    assert wait_ms(complete, dying, lang, WAITS, s)[0] == WAITS.min_ms
    assert wait_ms(complete, None, lang, WAITS, s)[0] == WAITS.min_ms  # no audio measure: the words alone
    assert wait_ms(complete, level, lang, WAITS, s.with_(prosody=False))[0] == WAITS.min_ms
    firm = C.Verdict(C.COMPLETE, "stop_calling", firm=True)  # a must-not-miss request goes at once
    assert wait_ms(firm, level, lang, WAITS, s)[0] == WAITS.min_ms


def test_the_level_ending_is_off_by_default_and_on_when_set():
    from speech.prosody import Tail

    level = Tail(None, None, 0.0, 200, end_level_db=-4.0)
    complete = C.Verdict(C.COMPLETE, "affirm")
    for lang in ("zh", "en"):  # session 13: real recordings stop level too
        assert wait_ms(complete, level, lang, WAITS, TurnSettings())[0] == WAITS.min_ms
        assert wait_ms(complete, level, lang, WAITS, TurnSettings(level_end_db=-11.0))[0] > WAITS.min_ms


@pytest.mark.parametrize("name", ["zh_007.wav", "zh_016.wav", "en_047.wav", "en_056.wav"])
def test_a_recorded_whole_answer_judged_complete_is_taken_at_the_minimum(name):
    """The Twilio bench's recorded answers (agreement, promise), through the phone channel and the session's
    Endpointer: the voice does not hold back a complete reading (the level ending held them 700 ms, session 13)."""
    from pathlib import Path
    from types import SimpleNamespace

    from agent.bench_turns import stream
    from speech.audio import read_audio, to_int16
    from speech.bench import over_the_wire
    from speech.prosody import tail

    voices = Path(__file__).resolve().parents[2] / "telephony_adapter/sim/voices"
    pcm, _ = read_audio(voices / name, 8000)
    line = over_the_wire(to_int16(pcm), "ulaw")
    rep = stream(SimpleNamespace(audio=np.concatenate([line, np.zeros(16000, dtype=np.float32)])), 60)
    end = tail(rep._audio[-1][-16000:])
    assert end.end_level_db is not None and end.end_level_db > -11.0  # it does stop level, like most speech
    lang = name[:2]
    assert wait_ms(C.Verdict(C.COMPLETE, "affirm"), end, lang, WAITS, TurnSettings())[0] == WAITS.min_ms


@pytest.mark.parametrize("lang,text", [("en", "No, stop calling me."), ("zh", "不要再打了。")])
def test_a_must_not_miss_verdict_is_firm(classify, lang, text):
    v = C.judge(text, lang, "yes_no", classify(text, lang, "yes_no", TODAY))
    assert v.state == C.COMPLETE and v.firm
    assert not C.judge("Yes." if lang == "en" else "好的。", lang, "yes_no",
                       classify("Yes." if lang == "en" else "好的。", lang, "yes_no", TODAY)).firm


@pytest.mark.parametrize("lang,readings,bare", [
    ("en", ["Yes. Payment, balance.", "Yes.", "Yes, and"], "Yes."),
    ("zh", ["是我。关于还款、逾期。", "是我。", "是我，然后"], "是我。"),
])
def test_an_echo_stripped_reading_drops_its_voice_even_when_another_beam_reads_the_same(lang, readings, bare):
    prompt = "Payment, balance, account, due date." if lang == "en" else "关于还款、逾期、罚息、滞纳金。"
    r = pause_reading(readings, prompt, 1900)
    assert r.text is not None and r.text.rstrip("。.") == bare.rstrip("。.")
    assert r.voiced_ms is None  # the echoed clause stood for voice: voice per word tells nothing
    assert r.next_text == readings[2]  # the next beam that reads differently
    assert pause_reading([bare], prompt, 1900).voiced_ms == 1900
