"""The complete-answer endpointer's pieces: the verdict (real NLU), the waits, prosody, backchannels, and the
turn set's dev/test separation (by template; word lists tuned on dev only)."""
from __future__ import annotations

import re
from datetime import date

import numpy as np
import pytest

from agent.turn_taking import (
    NodeWaits,
    TurnSettings,
    is_backchannel_turn,
    prosody_shift,
    wait_ms,
)
from agent.turnset import BACKCHANNELS, INTERRUPTIONS, TEMPLATES, plan
from nlu import complete as C
from speech.prosody import Tail, tail

TODAY = date(2026, 11, 23)


# ------------------------------------------------------------------ the split
def test_the_turn_set_is_split_by_template_and_big_enough():
    turns = plan()
    by_template: dict[str, set[str]] = {}
    for t in turns:
        by_template.setdefault(t.template, set()).add(t.split)
    assert all(len(s) == 1 for s in by_template.values()), "a template in both dev and test"
    dev = {t.text for t in turns if t.split == "dev"}
    assert not dev & {t.text for t in turns if t.split == "test"}, "a surface string in both halves"
    for lang in ("zh", "en"):
        answers = [t for t in turns if t.lang == lang and t.kind in ("complete", "paused")]
        assert len(answers) >= 150
        assert sum(t.kind == "paused" for t in answers) == len(answers) // 2
        assert all(300 <= t.pause_ms <= 700 for t in answers if t.kind == "paused")
        for split in ("dev", "test"):  # every kind of question is asked in both halves
            expects = {t.expect for t in TEMPLATES if t.lang == lang and t.split == split}
            assert expects == {"identity", "yes_no", "id_last4", "payment", "date", "offer"}
        # dev is big enough to count cut-ins on (session 11: 45 paused turns a language gave 1-2 a half)
        assert sum(t.kind == "paused" for t in answers if t.split == "dev") >= 90


def test_the_word_lists_come_from_the_issue_or_the_dev_half_only():
    dev_text = {"en": " ".join([t.complete + " " + " ".join(t.paused) for t in TEMPLATES
                                if t.lang == "en" and t.split == "dev"]
                               + list(BACKCHANNELS["en"]["dev"]) + list(INTERRUPTIONS["en"]["dev"])).lower(),
                "zh": "".join([t.complete + "".join(t.paused) for t in TEMPLATES if t.lang == "zh" and t.split == "dev"]
                              + list(BACKCHANNELS["zh"]["dev"]) + list(INTERRUPTIONS["zh"]["dev"]))}
    en_words = set(re.findall(r"[a-z']+(?:-[a-z]+)?", dev_text["en"]))
    for word in C.TRAILING_EN | C.FILLERS_EN | C.BACKCHANNEL_EN:
        assert word in C.SEED_EN or word in en_words, f"{word!r} is not from dev"
    for phrase in C.FLOOR_EN:
        assert f" {phrase} " in f" {' '.join(re.findall(r'[a-z]+', dev_text['en']))} ", f"{phrase!r} is not from dev"
    for word in (*C.TRAILING_ZH, *C.FILLERS_ZH, *C.BACKCHANNEL_ZH, *C.WHOLE_ZH, *C.FLOOR_ZH):
        assert word in C.SEED_ZH or word in dev_text["zh"], f"{word!r} is not from dev"


# ------------------------------------------------------------------ the verdict, with the real NLU
@pytest.fixture(scope="module")
def classify():
    import nlu

    nlu.load_model()
    return nlu.classify


@pytest.mark.parametrize("lang,expect,text,state", [
    ("en", "id_last4", "1 2 3 4.", "complete"),
    ("en", "id_last4", "1 2,", "incomplete"),
    ("zh", "id_last4", "一二三四", "complete"),
    ("zh", "id_last4", "三五", "incomplete"),
    ("en", "identity", "Yes, this is Emily.", "complete"),
    ("en", "identity", "Yes, and", "incomplete"),
    ("zh", "identity", "对，是我", "complete"),
    ("zh", "identity", "是我，然后", "incomplete"),
    ("en", "payment", "I can pay", "incomplete"),
    ("en", "payment", "I can pay 200 dollars on Friday.", "complete"),
    ("zh", "payment", "我下个月", "incomplete"),
    ("zh", "payment", "我下个月十号还", "complete"),
    ("en", "yes_no", "Yes.", "complete"),
    ("en", "yes_no", "Um", "incomplete"),
    ("zh", "yes_no", "那个", "incomplete"),
])
def test_the_verdict_reads_the_words_against_the_question(classify, lang, expect, text, state):
    u = classify(text, lang, expect, TODAY)
    assert C.judge(text, lang, expect, u).state == state


# ------------------------------------------------------------------ waits and prosody
WAITS = NodeWaits(eos_ms=600, min_ms=200, max_ms=1000)


def test_complete_is_taken_at_the_minimum_incomplete_waits_the_maximum_unsure_the_usual_silence():
    s = TurnSettings(prosody=False)
    assert wait_ms(C.Verdict("complete", ""), None, "en", WAITS, s)[0] == 200
    assert wait_ms(C.Verdict("incomplete", ""), None, "en", WAITS, s)[0] == 1000
    assert wait_ms(C.Verdict("unsure", ""), None, "en", WAITS, s)[0] == 600 + s.for_lang("en").unsure_extra_ms
    assert wait_ms(C.Verdict("unsure", ""), None, "en", WAITS, s.with_(unsure_extra_ms=0))[0] == 600
    assert wait_ms(None, None, "en", WAITS, s)[0] == 1000  # verdict pending: never end before the words
    fixed = s.with_(complete_answers=False)
    assert wait_ms(C.Verdict("complete", ""), None, "en", WAITS, fixed)[0] == 600  # the baseline


def test_node_waits_come_from_the_node_then_the_defaults():
    class Node:
        eos_silence_ms, min_wait_ms, max_wait_ms = 900, 150, 1400

    w = NodeWaits.of(Node(), TurnSettings(), 400)
    assert (w.eos_ms, w.min_ms, w.max_ms) == (900, 150, 1400)
    w = NodeWaits.of(None, TurnSettings(min_wait_ms=200, max_wait_ms=1000), 400)
    assert (w.eos_ms, w.min_ms, w.max_ms) == (400, 200, 1000)


def test_a_falling_pitch_counts_in_english_but_not_in_mandarin():
    s = TurnSettings()
    falling_flat_energy = Tail(pitch_slope=-20, pitch_drop=-4.0, energy_slope=0.0, final_ms=200)
    falling_fading = Tail(pitch_slope=-20, pitch_drop=-4.0, energy_slope=-40.0, final_ms=200)
    assert prosody_shift(falling_fading, "en", s)[0] < 0
    assert prosody_shift(Tail(10, 3.0, 0.0, 200), "en", s)[0] > 0  # a continuation rise: wait longer
    assert prosody_shift(falling_flat_energy, "zh", s)[0] == 0  # a 4th tone falls mid-sentence too
    assert prosody_shift(falling_fading, "zh", s)[0] < 0  # a fading voice is tone-neutral


def _glide(f0: float, f1: float, seconds: float = 0.8, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    f = np.linspace(f0, f1, len(t))
    return (0.3 * np.sin(2 * np.pi * np.cumsum(f) / rate)).astype(np.float32)


def test_the_pitch_track_hears_a_fall_and_a_rise():
    assert tail(np.concatenate([_glide(200, 200, 0.5), _glide(200, 120)])).pitch_drop < -2
    assert tail(np.concatenate([_glide(150, 150, 0.5), _glide(150, 240)])).pitch_drop > 2


def test_backchannels_are_short_and_bid_for_nothing(classify):
    s = TurnSettings()
    assert is_backchannel_turn("嗯", "zh", 400, s, classify("嗯", "zh", None, TODAY))
    assert is_backchannel_turn("uh-huh", "en", 450, s, classify("uh-huh", "en", None, TODAY))
    assert not is_backchannel_turn("Wait, I already paid this.", "en", 1600, s)  # too long
    stop = "Stop calling me."
    assert not is_backchannel_turn(stop, "en", 700, s, classify(stop, "en", None, TODAY))  # a bid, though short
    assert not is_backchannel_turn("嗯", "zh", 400, s.with_(backchannels=False), None)


def test_the_stage_breakdown_steps_the_real_dialog_and_fetches_the_first_chunk():
    from datetime import date

    from agent.bench_stages import DialogBench, summarize_stages
    from nlu.types import Understanding
    from speech.tts import create_tts

    bench = DialogBench(("en",), date(2026, 11, 23), {"en": create_tts("en")}, None)
    right = Understanding(intent="other", confidence=0.9, lang="en", entities={"last4": "4821"})
    wrong = Understanding(intent="other", confidence=0.9, lang="en", entities={"last4": "1111"})
    ok, _ = bench.step("id_last4", "en", right)
    retry, ms = bench.step("id_last4", "en", wrong)
    assert ok.node != "ask_last4" and retry.node == "ask_last4" and ms >= 0  # the script's own routes
    first_ms, fixed = bench.first_chunk(retry, "en")
    assert fixed is True and first_ms > 0  # "Sorry, that doesn't match our records." is a fixed line
    rows = [{"audio_s": 1.0, "asr": 300.0, "asr_encode": 120.0, "nlu": 9.0, "dialog": 0.1, "tts_first_chunk": 0.1,
             "fixed_line": True, "total_after_pause": 309.2},
            {"audio_s": 2.0, "asr": 500.0, "asr_encode": 200.0, "nlu": 11.0, "dialog": 0.1, "tts_first_chunk": 40.0,
             "fixed_line": False, "total_after_pause": 551.1}]
    out = summarize_stages(rows, 200)
    assert out["pause_wait_ms"] == 200 and out["asr_encode_ms"]["n"] == 2 and "asr_decode_ms" not in out
    assert out["tts_first_chunk_fixed_line_ms"]["n"] == 1 and out["tts_first_chunk_synthesised_ms"]["p50"] == 40.0


# ------------------------------------------------------------------ session 8: doubting a complete reading
@pytest.mark.parametrize("lang,expect,text", [
    ("en", "identity", "Yes. Yes."),  # "Yes, and …": Whisper fills the unread "and" with a copy
    ("en", "yes_no", "Sure. Sure."),
    ("zh", "yes_no", "好的。好的。"),  # "好的，还有 …"
    ("zh", "id_last4", "六六六六"),  # two digits read, then looped to four
    ("zh", "id_last4", "三四三四"),
])
def test_a_reading_made_of_one_word_again_and_again_is_not_taken_at_once(classify, lang, expect, text):
    u = classify(text, lang, expect, TODAY)
    v = C.judge(text, lang, expect, u)
    assert v.state != "complete" and "again" in v.reason
    once = {"Yes. Yes.": "Yes.", "Sure. Sure.": "Sure.", "好的。好的。": "好的。", "六六六六": "六三",
            "三四三四": "三四"}[text]
    assert C.repeated_unit(text, lang) and C.repeated_unit(once, lang) is None


@pytest.mark.parametrize("lang,expect,text", [("en", "identity", "Yes."), ("zh", "yes_no", "好的。"),
                                              ("en", "identity", "Yes, this is Emily."),
                                              ("zh", "id_last4", "四二八三")])
def test_a_plain_complete_reading_stays_complete(classify, lang, expect, text):
    assert C.judge(text, lang, expect, classify(text, lang, expect, TODAY)).state == "complete"


@pytest.mark.parametrize("lang,expect,text,short_ms,long_ms", [
    ("en", "identity", "Yes.", 400, 900),  # "Yes, and" read as "Yes."
    ("zh", "yes_no", "好的。", 700, 1600),  # "好的，还有" read as "好的。"
])
def test_more_voice_than_words_means_words_are_missing(classify, lang, expect, text, short_ms, long_ms):
    u = classify(text, lang, expect, TODAY)
    assert C.judge(text, lang, expect, u, voiced_ms=short_ms).state == "complete"
    v = C.judge(text, lang, expect, u, voiced_ms=long_ms)
    assert v.state != "complete" and "more voice than words" in v.reason
    assert C.judge(text, lang, expect, u).state == "complete"  # no audio measure: the words alone


def test_a_must_not_miss_request_is_taken_even_when_repeated_or_short(classify):
    for lang, text in (("en", "No. No."), ("zh", "不用了。")):  # not_interested at an offer
        u = classify(text, lang, "offer", TODAY)
        assert u.intent == "not_interested" and u.confidence >= 0.8
        assert C.judge(text, lang, "offer", u, voiced_ms=3000).state == "complete"


def test_syllables_count_characters_in_mandarin_and_vowel_groups_in_english():
    assert C.syllables("不用了。", "zh") == 3 and C.syllables("我下个月15号还", "zh") == 8
    assert C.syllables("Yes.", "en") == 1 and C.syllables("Okay, I'll pay it Friday.", "en") == 7


def test_voiced_ms_counts_the_voice_not_the_line_noise():
    from speech.prosody import voiced_ms

    rng = np.random.default_rng(0)
    tone = _glide(180, 160, 0.5)
    audio = np.concatenate([tone, np.zeros(16000, dtype=np.float32)]) + rng.normal(0, 0.003, 24000).astype(np.float32)
    assert 400 <= voiced_ms(audio) <= 600


# ------------------------------------------------------------------ session 8: per-language settings
def test_mandarin_waits_longer_when_unsure_and_both_read_early_unless_set():
    s = TurnSettings()
    zh, en = s.for_lang("zh"), s.for_lang("en")
    assert zh.unsure_extra_ms > en.unsure_extra_ms and zh.early_asr_ms > 0 and en.early_asr_ms > 0
    unsure = C.Verdict("unsure", "")
    off = s.with_(prosody=False)
    assert wait_ms(unsure, None, "zh", WAITS, off)[0] > wait_ms(unsure, None, "en", WAITS, off)[0]
    fixed = s.with_(early_asr_ms=0, unsure_extra_ms=150)  # an explicit value holds in every language
    assert {fixed.for_lang(lang).early_asr_ms for lang in ("zh", "en")} == {0}
    assert wait_ms(unsure, None, "zh", WAITS, fixed.with_(prosody=False))[0] == 750


def test_turn_early_asr_ms_sets_the_early_reading_for_every_language():
    from types import SimpleNamespace

    from agent.calls import _turn_settings

    unset = _turn_settings(SimpleNamespace(turn_taking="complete", turn_early_asr_ms=None))
    assert unset.for_lang("en").early_asr_ms == 60 and unset.for_lang("zh").early_asr_ms == 60
    for value in (0, 80):
        s = _turn_settings(SimpleNamespace(turn_taking="complete", turn_early_asr_ms=value))
        assert s.for_lang("en").early_asr_ms == s.for_lang("zh").early_asr_ms == value


def test_a_long_acknowledgement_is_still_a_backchannel_but_not_a_long_speech(classify):
    s = TurnSettings()
    assert is_backchannel_turn("mm-hmm", "en", 900, s, classify("mm-hmm", "en", None, TODAY))
    assert is_backchannel_turn("好的", "zh", 900, s, classify("好的", "zh", None, TODAY))
    # a person's "嗯，对的" with a pause between its words spans about a second (session 16)
    assert is_backchannel_turn("嗯，对的", "zh", 1050, s, classify("嗯，对的", "zh", None, TODAY))
    assert not is_backchannel_turn("mm-hmm", "en", 1200, s, classify("mm-hmm", "en", None, TODAY))
    assert not is_backchannel_turn("好的", "zh", 1200, s, classify("好的", "zh", None, TODAY))


def test_a_long_unsure_reading_waits_the_silence_without_the_unsure_extra():
    s = TurnSettings(prosody=False)
    zh, en = s.for_lang("zh"), s.for_lang("en")
    extra = zh.unsure_extra_ms

    def wait(lang: str, **kw) -> int:
        return wait_ms(C.Verdict("unsure", "", **kw), None, lang, WAITS, s)[0]

    assert wait("zh", heard_ms=zh.long_reading_ms) == 600  # more voice than any dev first part carried
    assert wait("zh", heard_ms=zh.long_reading_ms - 100) == 600 + extra  # as long as a first part can be
    assert wait("zh") == 600 + extra  # voice unknown (a prompt echo)
    assert wait("zh", heard_ms=5000, asr_doubt=True) == 600 + extra  # the ASR or the voice doubts it: as before
    assert wait("en", heard_ms=en.long_reading_ms) == 600
    assert wait("en", heard_ms=en.long_reading_ms - 100) == 600 + en.unsure_extra_ms
    off = s.with_(long_reading_ms=0)
    assert wait_ms(C.Verdict("unsure", "", heard_ms=5000), None, "zh", WAITS, off)[0] == 600 + extra


def test_the_verdict_step_keeps_the_voice_it_read(classify):
    from agent.turn_taking import verdict_of

    v, _ = verdict_of(["我下个月是泡海。"], "zh", "payment", classify, None, TODAY, 2350)
    assert v.state == "unsure" and v.heard_ms == 2350
    assert wait_ms(v, None, "zh", WAITS, TurnSettings(prosody=False))[0] == 600



# ------------------------------------------------------------------ issue 19: short complete readings
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_short_complete_reading_waits_longer_than_a_long_one_in_both_languages(lang):
    s = TurnSettings(prosody=False, short_wait_ms=600)
    limit = s.for_lang(lang).long_reading_ms

    def wait(settings: TurnSettings = s, **kw) -> int:
        return wait_ms(C.Verdict("complete", "affirm", **kw), None, lang, WAITS, settings)[0]

    assert wait(heard_ms=limit - 100) == 600  # no more voice than a first part: "No." of "No, because…"
    assert wait(heard_ms=limit) == 200  # more voice than any first part: the node's minimum
    assert wait() == 200  # voice unknown
    assert wait(heard_ms=500, whole=True) == 200  # all four ID digits: nothing can add to it
    assert wait(heard_ms=500, firm=True) == 600  # a short request is taken too, a little later
    assert wait(s.with_(short_wait_ms=0), heard_ms=500) == 200  # off
    assert wait(s.with_(short_wait_ms=5000), heard_ms=500) == 1000  # never past the node's maximum


@pytest.mark.parametrize("lang,expect,short,whole", [
    ("zh", "offer", "不用了。", "不用了。因为我最近不缺钱。"),
    ("en", "offer", "No.", "No, because I don't need more credit."),
])
def test_the_short_wait_reaches_a_bare_answer_through_the_verdict_step(classify, lang, expect, short, whole):
    from agent.turn_taking import verdict_of

    s = TurnSettings(prosody=False, asr_doubt=False, short_wait_ms=550)
    assert TurnSettings().for_lang(lang).short_wait_ms == 0  # off by default (session 11: it costs p50 on dev)
    limit = s.for_lang(lang).long_reading_ms
    bare, _ = verdict_of([short], lang, expect, classify, None, TODAY, limit - 500, s=s)
    full, _ = verdict_of([whole], lang, expect, classify, None, TODAY, limit + 1500, s=s)
    assert bare.state == full.state == "complete"
    w_bare, why = wait_ms(bare, None, lang, WAITS, s)
    assert w_bare > wait_ms(full, None, lang, WAITS, s)[0] == WAITS.min_ms and "short" in why


# ------------------------------------------------------------------ issue 19: refusals wait for their reason
@pytest.mark.parametrize("lang,expect,refusal,consent", [
    ("zh", "offer", "不用了。", "好的，可以。"),
    ("en", "offer", "No.", "Yes, sure."),
    ("zh", "identity", "不是。", "对，是我。"),
    ("en", "identity", "No.", "Yes, that's me."),
])
def test_a_complete_refusal_waits_for_its_reason_a_consent_does_not(classify, lang, expect, refusal, consent):
    from agent.turn_taking import verdict_of

    assert TurnSettings().for_lang(lang).refusal_wait_ms == 0  # off by default (session 12: no gain on test)
    s = TurnSettings(prosody=False, asr_doubt=False, refusal_wait_ms=500)
    no, _ = verdict_of([refusal], lang, expect, classify, None, TODAY, 600, s=s)
    yes, _ = verdict_of([consent], lang, expect, classify, None, TODAY, 600, s=s)
    assert no.state == yes.state == "complete" and no.intent in C.REFUSALS and yes.intent not in C.REFUSALS
    w_no, why = wait_ms(no, None, lang, WAITS, s)
    assert (w_no, wait_ms(yes, None, lang, WAITS, s)[0]) == (500, WAITS.min_ms) and "refusal" in why
    assert wait_ms(no, None, lang, WAITS, s.with_(refusal_wait_ms=0))[0] == WAITS.min_ms  # off
    assert wait_ms(no, None, lang, WAITS, s.with_(refusal_wait_ms=5000))[0] == WAITS.max_ms  # never past the max


def test_a_refusal_that_is_the_nodes_whole_answer_is_taken_at_the_minimum():
    s = TurnSettings(prosody=False, refusal_wait_ms=500)
    whole = C.Verdict("complete", "deny instead of digits", whole=True, intent="deny")
    assert wait_ms(whole, None, "en", WAITS, s)[0] == WAITS.min_ms
    assert wait_ms(C.Verdict("complete", "deny", intent="deny"), None, "en", WAITS, s)[0] == 500


def test_every_intent_the_verdict_names_is_in_the_taxonomy():
    """spec/intents.yaml's names exactly: `_ANY` once said "callback_request" and "scam_concern", so a caller's
    "call me back later" or "is this a scam?" over the agent was no bid, and no answer to any question."""
    from nlu import intent_names

    named = C._ANY | C.REFUSALS | C._YES_NO | set().union(*C._BY_EXPECT.values())
    assert named <= set(intent_names()), named - set(intent_names())
    assert {"call_back_later", "scam_suspicion"} <= C._ANY


@pytest.mark.parametrize(("lang", "text"), [("en", "Wait."), ("en", "Hold on."), ("en", "Sorry?"),
                                            ("en", "Wait a second."), ("zh", "等一下。"), ("zh", "停一下，")])
def test_a_short_word_asking_the_agent_to_stop_is_an_interruption_not_a_backchannel(classify, lang, text):
    """Said alone and followed by silence, "Wait." was a short non-bid (the NLU reads it affirm or out of scope),
    so a backchannel: the agent went on over a caller who had asked it to stop."""
    s = TurnSettings().for_lang(lang)
    u = classify(text, lang, None, TODAY)
    assert C.claims_floor(text, lang)
    assert not is_backchannel_turn(text, lang, 500, s, u)
    ack = {"en": "Yeah.", "zh": "嗯。"}[lang]  # an acknowledgement stays one
    assert is_backchannel_turn(ack, lang, 500, s, classify(ack, lang, None, TODAY))
    assert not C.claims_floor("I'm sorry, I can't.", "en") and not C.claims_floor("Waiting is fine.", "en")
