"""Whisper's pause-mark probability where a reading's words end (speech/asr/end_probe.py), on the real model."""
from __future__ import annotations

from pathlib import Path

import pytest

from speech.asr.end_probe import end_probe, marks_for, words_of
from speech.audio import read_audio

VOICES = Path(__file__).resolve().parents[2] / "telephony_adapter/sim/voices"


@pytest.fixture(scope="module")
def faster():
    from speech.asr import create_asr

    return create_asr("faster")


def test_the_marks_are_read_off_the_real_vocabulary(faster):
    for lang in ("en", "zh"):
        tok = faster._tokenizer(lang)
        marks = marks_for(tok, lang)

        def ids(text: str, tok=tok) -> list[int]:
            return list(tok.encode(text))

        assert marks.comma == tuple(ids("," if lang == "en" else "，"))
        for stop in (".", "。", "?", "？", "!", "！"):
            assert words_of(ids("好" + stop), marks) == ids("好"), stop
        assert marks.stop[tok.eot]
        for word in (" and", "然后", " Yes", ",", "...", "，"):
            assert words_of(ids(word), marks) == ids(word), word
        yes = ids(" Yes")
        assert words_of([*yes, *ids("."), tok.eot], marks) == yes  # the final stop and the end of text go
        assert words_of([*yes, *ids(",")], marks) == [*yes, *ids(",")]  # a trailing comma stays: it is a word
        assert words_of(ids("."), marks) == []


@pytest.mark.slow
@pytest.mark.parametrize("name,first,whole", [("en_047.wav", " Yes", " Yes, that's fine."),
                                              ("en_048.wav", " No", " No, that's not right.")])
def test_whisper_expects_a_comma_where_it_heard_more_than_the_words(faster, name, first, whole):
    audio, _ = read_audio(VOICES / name, 16000)
    tok = faster._tokenizer("en")
    encoded = faster._encode_cut(faster._front_end(audio, "en"), language="en")
    prefix = faster._prefix(tok, faster._prompt(None, "en"))
    marks, frames = marks_for(tok, "en"), len(audio) // 160
    cut = end_probe(faster.model.model, encoded, prefix, list(tok.encode(first)), marks, frames).pause_mark_prob
    end = end_probe(faster.model.model, encoded, prefix, list(tok.encode(whole)), marks, frames).pause_mark_prob
    assert cut is not None and end is not None
    assert cut > 0.5 > end and end < 0.15, (cut, end)  # the audio goes on after "Yes"; it ends after "fine"
    assert end_probe(faster.model.model, encoded, prefix, list(tok.encode(".")), marks, frames).pause_mark_prob is None


@pytest.mark.slow
def test_the_engine_weighs_readings_in_both_languages_and_a_language_can_be_left_out(faster):
    en, _ = read_audio(VOICES / "en_047.wav", 16000)
    zh, _ = read_audio(VOICES / "zh_001.wav", 16000)
    stages: dict[str, float] = {}
    heard = faster.transcribe(en, "en", stages=stages)
    assert heard.text and heard.pause_mark_prob is not None and 0.0 <= heard.pause_mark_prob < 0.15
    assert stages["probe"] > 0  # timed as a stage of the reading (`bench turns` reports it)
    whole = faster.transcribe(zh, "zh")  # a whole recorded utterance: Whisper expects no comma after it
    assert whole.text and whole.pause_mark_prob is not None and 0.0 <= whole.pause_mark_prob < 0.15
    faster.end_probes["zh"] = False  # ASR_END_PROBE_ZH=false
    try:
        assert faster.transcribe(zh, "zh").pause_mark_prob is None
    finally:
        faster.end_probes["zh"] = True


def test_a_reading_too_long_for_the_text_context_is_not_weighed(faster):
    class NoModel:
        def align(self, *a, **kw):
            raise AssertionError("not called")

    tok = faster._tokenizer("en")
    marks = marks_for(tok, "en")
    prefix = faster._prefix(tok, faster._prompt(None, "en"))
    words = list(tok.encode(" yes" * 450))
    assert end_probe(NoModel(), None, prefix, words, marks, 3000).pause_mark_prob is None


@pytest.mark.parametrize("tokens,lang,k", [
    ([" Yeah", ",", " B", "art"], "en", 2),  # back to the token that starts the word
    ([" No", ",", " that"], "en", 1),
    ([" Yeah", ",", " that", "'s"], "en", 2),  # an apostrophe goes on the word before
    (["Yes"], "en", 1),  # the whole reading is one word
    ([" and", ","], "en", 1),  # a trailing comma stands alone
    (["对", "，", "就", "是我"], "zh", 1),  # two characters in one token
    (["对", "，", "就", "是", "我"], "zh", 2),
    (["收到", "了", "\ufffd", "\ufffd"], "zh", 3),  # a character cut between tokens is read whole
    (["好", "。"], "zh", 1),  # a mark ends it
])
def test_the_last_word_is_found_in_the_tokens(tokens, lang, k):
    from speech.asr.end_probe import last_word_tokens

    def decode(ids: list[int]) -> str:
        text = "".join(tokens[i] for i in ids)
        return text.replace("\ufffd\ufffd", "你")  # two byte tokens make a character

    assert last_word_tokens(list(range(len(tokens))), lang, decode) == k


@pytest.mark.slow
def test_whisper_is_less_sure_of_a_last_word_it_half_heard(faster):
    audio, _ = read_audio(VOICES / "en_047.wav", 16000)  # "Yes, that's fine."
    whole = faster.transcribe(audio, "en")
    cut = faster.transcribe(audio[: len(audio) // 2], "en")  # cut inside what follows "Yes"
    assert whole.last_word_prob is not None and cut.last_word_prob is not None
    assert whole.last_word_prob > 0.9 and cut.last_word_prob < whole.last_word_prob - 0.3, (whole, cut)
