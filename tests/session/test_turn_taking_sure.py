"""Issue 19: a complete reading that the NLU and Whisper are both sure of (or the node's whole answer) is taken at
`sure_wait_ms` instead of the minimum wait (agent.turn_taking.sure_reading); a must-not-miss request, a reading the
NLU is unsure of, a half-heard last word and a node's own minimum keep the minimum."""
from __future__ import annotations

from datetime import date

import pytest

from agent.turn_taking import NodeWaits, TurnSettings, verdict_of, wait_ms
from nlu.complete import Confidence, Verdict

TODAY = date(2026, 11, 23)
WAITS = NodeWaits(eos_ms=600, min_ms=400, max_ms=700)
ON = TurnSettings(prosody=False, sure_wait_ms=300)


@pytest.fixture(scope="module")
def classify():
    import nlu

    nlu.load_model()
    return nlu.classify


def _verdict(classify, text: str, lang: str, expect: str, last_word: float | None = 0.9,
             s: TurnSettings = ON) -> Verdict:
    conf = Confidence(-0.2, 0.01, pause_mark_prob=0.0, last_word_prob=last_word)
    return verdict_of([text], lang, expect, classify, None, TODAY, 900, conf, s)[0]


@pytest.mark.parametrize("lang,expect,text", [("en", "yes_no", "Yes, I agree."), ("zh", "yes_no", "好的，可以。"),
                                              ("en", "id_last4", "It's 4 3 2 1."), ("zh", "id_last4", "四三二一。")])
def test_a_sure_answer_is_taken_at_the_sure_wait(classify, lang, expect, text):
    v = _verdict(classify, text, lang, expect)
    assert v.state == "complete" and v.sure, v
    w, why = wait_ms(v, None, lang, WAITS, ON)
    assert w == 300 and why.endswith("; sure")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_sure_wait_is_off_by_default_in_both_languages(classify, lang):
    text = {"en": "Yes, I agree.", "zh": "好的，可以。"}[lang]
    default = TurnSettings(prosody=False)
    assert default.for_lang(lang).sure_wait_ms == 0  # session 20: it added cut-ins on test in every voice family
    v = _verdict(classify, text, lang, "yes_no", s=default)
    assert v.state == "complete" and not v.sure
    assert wait_ms(v, None, lang, WAITS, default)[0] == WAITS.min_ms
    on = default.with_(sure_wait_ms=350)
    v = _verdict(classify, text, lang, "yes_no", s=on)
    assert v.sure and wait_ms(v, None, lang, WAITS, on)[0] == 350


def test_a_half_heard_last_word_keeps_the_minimum(classify):
    v = _verdict(classify, "Yes, I agree.", "en", "yes_no", last_word=0.05)
    assert v.state == "complete" and not v.sure
    assert wait_ms(v, None, "en", WAITS, ON)[0] == WAITS.min_ms
    assert _verdict(classify, "Yes, I agree.", "en", "yes_no", last_word=None).sure  # not weighed: the NLU decides


def test_the_whole_answer_is_sure_even_with_a_half_heard_last_word(classify):
    v = _verdict(classify, "四三二一。", "zh", "id_last4", last_word=0.01, s=ON.with_(last_word_doubt=0.0))
    assert v.whole and v.sure


def test_a_must_not_miss_request_keeps_the_minimum(classify):
    v = _verdict(classify, "Stop calling me.", "en", "offer")
    assert v.state == "complete" and v.firm and not v.sure
    assert wait_ms(v, None, "en", WAITS, ON)[0] == WAITS.min_ms


def test_a_reading_the_nlu_is_unsure_of_keeps_the_minimum(classify):
    v = _verdict(classify, "Yes, I agree.", "en", "yes_no")
    assert v.sure
    strict = ON.with_(sure_confidence=1.01)  # no intent confidence reaches it
    assert not _verdict(classify, "Yes, I agree.", "en", "yes_no", s=strict).sure


def test_a_nodes_own_minimum_holds_for_a_sure_reading_too():
    class Node:
        eos_silence_ms, min_wait_ms, max_wait_ms = 600, 450, 700

    sure = Verdict("complete", "affirm", intent="affirm", sure=True)
    own = NodeWaits.of(Node(), ON, 400)
    assert wait_ms(sure, None, "en", own, ON)[0] == 450
    default = NodeWaits.of(None, ON, 600)
    assert wait_ms(sure, None, "en", default, ON)[0] == 300
    assert wait_ms(sure, None, "en", default, ON.with_(sure_wait_ms=500))[0] == 400  # never above the minimum
