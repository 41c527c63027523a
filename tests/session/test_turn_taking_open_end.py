"""Issue 19: a complete reading after which Whisper expected a comma waits like one the ASR doubts
(agent.turn_taking.open_end, from speech/asr/end_probe.py's `pause_mark_prob`)."""
from __future__ import annotations

from datetime import date

import pytest

from agent.turn_taking import NodeWaits, TurnSettings, pause_reading, verdict_of, wait_ms
from nlu.complete import Confidence

TODAY = date(2026, 11, 23)
WAITS = NodeWaits(eos_ms=600, min_ms=400, max_ms=700)


@pytest.fixture(scope="module")
def classify():
    import nlu

    nlu.load_model()
    return nlu.classify


def _verdict(classify, text: str, lang: str, expect: str, p: float | None, s: TurnSettings | None = None):
    conf = Confidence(-0.2, 0.01, pause_mark_prob=p)
    return verdict_of([text], lang, expect, classify, None, TODAY, 900, conf, s or TurnSettings(prosody=False))[0]


def test_an_english_reading_whisper_expected_to_go_on_waits_like_a_doubted_one(classify):
    s = TurnSettings(prosody=False)
    assert s.for_lang("en").pause_mark_doubt and s.for_lang("zh").pause_mark_doubt  # both (session 14, dev)
    limit = s.for_lang("en").pause_mark_doubt
    sure = _verdict(classify, "No, I'm fine.", "en", "offer", limit - 0.05)
    open_ = _verdict(classify, "No, I'm fine.", "en", "offer", limit + 0.05)
    assert sure.state == "complete" and wait_ms(sure, None, "en", WAITS, s)[0] == WAITS.min_ms
    assert open_.state == "unsure" and open_.asr_doubt and "expected more" in open_.reason
    w, why = wait_ms(open_, None, "en", WAITS, s)
    assert w == WAITS.clamp(WAITS.eos_ms + s.for_lang("en").unsure_extra_ms) > WAITS.min_ms and "expected more" in why
    assert _verdict(classify, "No, I'm fine.", "en", "offer", None).state == "complete"  # not weighed
    off = s.with_(pause_mark_doubt=0.0)
    assert _verdict(classify, "No, I'm fine.", "en", "offer", 0.9, off).state == "complete"
    no_doubt = s.with_(asr_doubt=False)  # the ASR's doubt off: this one too
    assert _verdict(classify, "No, I'm fine.", "en", "offer", 0.9, no_doubt).state == "complete"


def test_a_mandarin_reading_whisper_expected_to_go_on_waits_too_unless_turned_off(classify):
    limit = TurnSettings().for_lang("zh").pause_mark_doubt
    assert _verdict(classify, "不用了。", "zh", "offer", limit - 0.03).state == "complete"
    assert _verdict(classify, "不用了。", "zh", "offer", limit + 0.03).state == "unsure"
    off = TurnSettings(prosody=False, pause_mark_doubt=0.0)
    assert _verdict(classify, "不用了。", "zh", "offer", 0.9, off).state == "complete"


@pytest.mark.parametrize("lang,expect,text", [("en", "id_last4", "It's 4 3 2 1."), ("zh", "id_last4", "四三二一。")])
def test_the_nodes_whole_answer_is_never_held_back(classify, lang, expect, text):
    s = TurnSettings(prosody=False, pause_mark_doubt=0.1)
    v = _verdict(classify, text, lang, expect, 0.95, s)
    assert v.state == "complete" and v.whole, v


def test_a_must_not_miss_request_is_only_delayed(classify):
    s = TurnSettings(prosody=False)
    v = _verdict(classify, "Stop calling me.", "en", "offer", 0.9, s)
    assert v.firm and v.state == "unsure"
    assert wait_ms(v, None, "en", WAITS, s)[0] <= WAITS.max_ms


def test_the_probability_counts_only_for_the_text_it_was_weighed_at():
    conf = Confidence(-0.2, 0.01, pause_mark_prob=0.6)
    prompt = "This is Bright Credit about your payment and balance."
    assert pause_reading(["Yes."], prompt, 900, conf).confidence == conf
    echoed = pause_reading(["Yes. Payment, balance."], prompt, 900, conf)  # judged as "Yes.": weighed elsewhere
    assert echoed.text == "Yes." and echoed.confidence.pause_mark_prob is None
    other = pause_reading(["Payment, balance.", "Yes."], prompt, 900, conf)  # another beam is judged
    assert other.text == "Yes." and other.confidence.pause_mark_prob is None


def test_a_complete_reading_whose_last_word_was_half_heard_waits_when_turned_on(classify):
    def verdict(p: float | None, s: TurnSettings):
        conf = Confidence(-0.2, 0.01, pause_mark_prob=0.01, last_word_prob=p)
        return verdict_of(["Yeah, Bart."], "en", "offer", classify, None, TODAY, 900, conf, s)[0]

    on = TurnSettings(prosody=False, last_word_doubt=0.3)
    assert verdict(0.9, on).state == verdict(None, on).state == "complete"
    doubted = verdict(0.1, on)
    assert doubted.state == "unsure" and doubted.asr_doubt and "half heard its last word" in doubted.reason
    assert verdict(0.1, on.with_(last_word_doubt=0.0)).state == "complete"  # 0: off
    assert verdict(0.1, on.with_(asr_doubt=False)).state == "complete"
    whole = verdict_of(["四三二一。"], "zh", "id_last4", classify, None, TODAY, 900,
                       Confidence(-0.2, 0.01, last_word_prob=0.01), on)[0]
    assert whole.state == "complete" and whole.whole  # the node's whole answer is never held back
    conf = Confidence(-0.2, 0.01, last_word_prob=0.1)
    assert pause_reading(["Payment, balance.", "Yes."], "This is Bright Credit about your payment and balance.",
                         900, conf).confidence.last_word_prob is None  # weighed on another text
