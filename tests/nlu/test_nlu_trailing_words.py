"""The general trailing words (nlu/trailing_words.py): conjunctions, prepositions and articles from two public
part-of-speech lexicons (tools/trailing_lexicon.py), less the words the NLU's training answers end with."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nlu import complete as C
from nlu.corpus import load_heldout, load_train
from nlu.text import bare_zh, words_en
from nlu.trailing_words import LEXICON, trailing_en, trailing_zh
from tests.tool_support import load_tool

ROOT = Path(__file__).resolve().parents[2]


def _tool():
    return load_tool("trailing_lexicon")


def test_the_lexicon_file_is_the_tools_output_and_names_its_sources():
    data = yaml.safe_load(LEXICON.read_text("utf-8"))
    assert "jieba" in data["source"]["zh"] and "textblob" in data["source"]["en"]
    assert all(isinstance(w, str) for lang in ("zh", "en") for w in data[lang])  # "on" / "off" stay words
    assert {"而且", "所以", "可是", "或者"} <= set(data["zh"]) and {"or", "the", "because"} <= set(data["en"])
    assert LEXICON.read_text("utf-8") == _tool().render(data["zh"], data["en"])  # written by the tool, not by hand


def test_the_tool_keeps_conjunctions_of_two_characters_and_function_words_only():
    tool = _tool()
    dict_txt = "和 555815 c\n而且 22638 c\n罕用 10 c\n然后 16239 c\n可以 70958 v\n"
    assert tool.zh_words(dict_txt) == ["然后", "而且"]  # one character, too rare, not a conjunction: left out
    lexicon = ";;; header\nand CC\nAnd CC\non IN\nto TO\nmy PRP$\nsome DT\nw IN\nrun VB\nout-of IN\n"
    assert tool.en_words(lexicon) == ["an", "and", "my", "on", "the", "to"]


def test_no_kept_word_ends_a_training_answer():
    train = load_train()
    zh_answers = [bare_zh(e.text) for e in train if e.lang == "zh"]
    en_last = {words_en(e.text)[-1] for e in train if e.lang == "en" and words_en(e.text)}
    assert trailing_zh() and trailing_en()
    assert not [w for w in trailing_zh() if any(a.endswith(w) for a in zh_answers)]
    assert not trailing_en() & en_last
    assert list(trailing_zh()) == sorted(trailing_zh(), key=len, reverse=True)  # 只不过 before 不过
    assert "可以" not in trailing_zh() and "about" not in trailing_en()  # in the lexicons, but answers end so


@pytest.mark.parametrize("text,lang,cue", [
    ("我有空，而且", "zh", "ends with 而且 (a conjunction)"),
    ("是我所以", "zh", "ends with 所以 (a conjunction)"),
    ("我下周可以还，可是", "zh", "ends with 可是 (a conjunction)"),
    ("Yes, or", "en", "ends with or (a function word)"),
    ("I can pay the", "en", "ends with the (a function word)"),
    ("I'll call you back after my", "en", "ends with my (a function word)"),
    ("我可以", "zh", None),  # a lexicon word that answers end with
    ("我就是，不过", "zh", "ends with 不过"),  # the hand list first
    ("What is this about?", "en", None),
    ("Hold on.", "en", None),
    ("I get paid on the 20th.", "en", None),
    ("而且", "zh", None),  # the whole turn is not a trailing word
])
def test_a_reading_that_ends_in_a_lexicon_word_is_unfinished(text, lang, cue):
    assert C.trailing_cue(text, lang) == cue


def test_an_identity_answer_with_a_trailing_conjunction_waits():
    assert C.judge("对，是我，所以", "zh", "identity", None).state == C.INCOMPLETE
    assert C.judge("Yes, that's me, or", "en", "identity", None).state == C.INCOMPLETE


def test_held_out_answers_are_seldom_held():
    """Whole answers the NLU never trained on: at most 1 in 200 ends in a kept lexicon word (session 18: 1 of 842,
    "what's the account to pay into")."""
    texts = [e for f in ("heldout.yaml", "blind.yaml", "mnm_stress.yaml", "identity_denials.yaml")
             for e in load_heldout(ROOT / "nlu" / "data" / f)]
    held = [e.text for e in texts if (C.trailing_cue(e.text, e.lang) or "").endswith(("conjunction)", "word)"))]
    assert len(texts) > 500 and len(held) <= len(texts) / 200, held


@pytest.mark.parametrize("text,cue", [
    ("No, I don't think so.", None), ("I don't think so", None), ("Very well.", None),  # trained answers, whole
    ("Okay, so", "ends with so"), ("I think so", "ends with so"),  # no trained answer ends with all these words
    ("Yes, I can pay", "ends with pay"), ("I can pay", "ends with pay"),  # the issue's own example still waits
    ("So um yeah like uh", "ends with uh"),  # a hesitation (out_of_scope) is no answer
])
def test_a_reading_that_ends_with_a_whole_trained_answer_is_not_held_by_its_last_word(text, cue):
    """Session 19: "No, I don't think so." waited the maximum on dev because "so" ends it."""
    assert C.trailing_cue(text, "en") == cue


def test_the_trained_answers_that_end_in_a_trailing_word_are_answers():
    tails = C.whole_answers_en()
    assert ("i", "don't", "think", "so") in tails and all(len(t) >= 2 and t[-1] in C.TRAILING_EN for t in tails)
    assert not any(t[-2:] == ("can", "pay") and len(t) == 2 for t in tails)
