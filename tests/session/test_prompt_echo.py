"""Prompt echoes (nlu/prompt_echo.py): Whisper reading its initial prompt back is no reading, in both scripts,
and the turn-taker judges the next reading (or, with none, waits as when unsure). Readings below are the
dev replay's (bench turns, dev split) or the prompts themselves."""
from __future__ import annotations

from datetime import date

import pytest

from agent.speech_options import asr_prompt_for
from agent.turn_taking import NodeWaits, TurnSettings, verdict_of, wait_ms
from nlu import complete as C
from nlu.prompt_echo import echo_share, first_reading, is_echo, strip_echo
from speech.asr.prompts import DIGIT_PROMPTS, TOPIC, domain_prompt

TODAY = date(2026, 11, 23)
EN = domain_prompt("en", lender="Bright Credit")
ZH = domain_prompt("zh", lender="明信金融")


@pytest.mark.parametrize("text,prompt", [
    ("Payment, balance, account, due date.", EN),  # the example
    ("Payment, late fee work.", EN),  # "late fee work": 2 of 3 words from the prompt
    (TOPIC["en"], EN),
    ("滞纳金、罚息。", ZH),
    ("关于还款、罚息、分期、结清。", ZH),
    ("喂，罚息。", ZH),  # 喂 is a one-character clause of the prompt
    ("您好。", ZH),
])
def test_a_prompt_read_back_is_no_reading(text, prompt):
    assert is_echo(text, prompt)
    assert strip_echo(text, prompt) == ""


@pytest.mark.parametrize("text,prompt,rest", [
    ("Yes. Payment, balance.", EN, "Yes."),
    ("Okay, I'll pay it next, due date.", EN, "Okay, I'll pay it next"),  # no comma left at the end
    ("试试，滞纳。", ZH, "试试"),
    ("好。我下周一开。", ZH, "好。我下周一开。"),  # 好 alone is no clause of the prompt (您好 is)
    ("Yes, this is Linda.", EN, "Yes, this is Linda."),  # "this is" alone does not make an echo
    ("不用了，谢谢。", ZH, "不用了，谢谢。"),
    ("Yes, this is Linda.", domain_prompt("en", "Bright Credit", names=["Linda"]), "Yes, this is Linda."),
    ("是我，什么事？", domain_prompt("zh", "明信金融", names=["王芳"]), "是我，什么事？"),  # 是我本人 in the prompt
])
def test_only_the_echoed_clauses_are_dropped(text, prompt, rest):
    assert strip_echo(text, prompt) == rest


@pytest.mark.parametrize("lang,text", [("en", "Nine eight four three."), ("zh", "三零，三零。"), ("zh", "幺五七"),
                                       ("zh", "尾号是幺五七九八。"), ("en", "Five seven nine."), ("zh", "一二三四")])
def test_digits_are_no_echo_of_the_digits_prompt_unless_they_are_one_of_its_groups(lang, text):
    prompt = asr_prompt_for(lang, "id_last4", None)
    assert prompt == DIGIT_PROMPTS[lang]
    assert echo_share(text, prompt) == 0.0 and strip_echo(text, prompt) == text


@pytest.mark.parametrize("lang,text,rest", [
    ("zh", "后四位二四六八。", ""), ("zh", "尾号是幺五七九。", ""), ("zh", "幺五七九", ""), ("zh", "后四位2468", ""),
    ("zh", "尾号是一二三四。后四位二四六八。", "尾号是一二三四。"),  # only the clause read back goes
    ("en", "Five seven nine two.", ""), ("en", "It's 3086.", ""),
])
def test_a_group_of_the_digits_prompt_read_back_whole_is_an_echo(lang, text, rest):
    """Session 19: Whisper reads the digits prompt's own group back ("后四位二四六八。"; on dev "尾号是幺五七九。"
    for 尾号是五一四一), and a first part so read passed for all four digits."""
    assert strip_echo(text, asr_prompt_for(lang, "id_last4", None)) == rest


def test_digits_of_a_domain_prompt_are_the_callees_to_say():
    """A call's domain prompt names amounts; a callee who says one is answering, not reading the prompt back."""
    prompt = domain_prompt("zh", "明信金融", amounts=["3,000"])
    assert strip_echo("我还3000。", prompt) == "我还3000。"
    assert strip_echo("后四位二四六八。", str(DIGIT_PROMPTS["zh"])) == "后四位二四六八。"  # a plain string: no groups


@pytest.mark.parametrize("text", ["后四位三三八七。", "尾号是一六九三。", "尾号是五，",
                                  "The last four are one seven seven nine."])
def test_the_digits_prompts_cue_words_are_the_answers_own_and_never_an_echo(text):
    """The Mandarin digits prompt frames its digits as callers do (尾号是…, 后四位…): an answer framed the same
    way is the answer, not the prompt read back (session 19)."""
    lang = "zh" if any("\u4e00" <= c <= "\u9fff" for c in text) else "en"
    prompt = asr_prompt_for(lang, "id_last4", None)
    assert strip_echo(text, prompt) == text
    assert strip_echo(text, "Payment, the last four digits. 尾号，后四位。") == text


def test_without_a_prompt_nothing_is_an_echo():
    assert strip_echo("Payment, balance.", None) == "Payment, balance."
    assert not is_echo("", EN)


def test_the_next_reading_is_used_when_the_first_is_an_echo():
    assert first_reading(["Payment, balance, account, due date.", "No thanks, not now."], EN) == \
        "No thanks, not now."
    assert first_reading(["滞纳金、罚息。", "不用了，谢谢。"], ZH) == "不用了，谢谢。"
    assert first_reading(["Payment.", "Due date."], EN) is None  # all echoes
    assert first_reading([""], EN) == ""  # nothing heard is not an echo


def _classify(text, lang, expect, today):
    import nlu
    return nlu.classify(text, lang, expect, today)


@pytest.mark.parametrize("lang,readings,expect", [
    ("en", ["Payment, balance, account, due date.", "No thanks, not now."], "offer"),
    ("zh", ["滞纳金、罚息。", "不用了，谢谢。"], "offer"),
    ("en", ["Yes. Payment, balance."], "identity"),
    ("zh", ["对。罚息。"], "identity"),
])
def test_an_answer_behind_an_echo_is_complete(lang, readings, expect):
    prompt = ZH if lang == "zh" else EN
    # a long voiced stretch: the echoed clause stood for voice, so the missing-words rule must not fire
    v, u = verdict_of(readings, lang, expect, _classify, prompt, TODAY, voiced_ms=3000)
    assert v.state == C.COMPLETE, (v, u)


@pytest.mark.parametrize("lang,text", [("en", "Payment, balance, account, due date."), ("zh", "关于还款、罚息。")])
def test_an_echo_alone_waits_as_an_unsure_reading_never_complete(lang, text):
    def no_nlu(*_):
        raise AssertionError("an echo must not reach the NLU")
    prompt = ZH if lang == "zh" else EN
    v, u = verdict_of([text], lang, "yes_no", no_nlu, prompt, TODAY, voiced_ms=800)
    assert (v.state, v.reason, u) == (C.UNSURE, C.ECHO_REASON, None)
    waits, s = NodeWaits(600, 400, 1000), TurnSettings()
    w, why = wait_ms(v, None, lang, waits, s)
    assert w == wait_ms(C.Verdict(C.UNSURE, "x"), None, lang, waits, s)[0] < waits.max_ms
    assert "prompt echo" in why


@pytest.mark.parametrize("lang,readings,digits", [
    ("zh", ["后四位二四六八。", "后四位二四六八。"], None),  # the first part read as the prompt's own group
    ("zh", ["后四位二四六八。", "后四位六一四四。"], "6144"),  # the next beam heard the callee
    ("en", ["Five seven nine two.", "Five seven nine three."], "5793"),
])
def test_the_digits_prompts_group_read_back_is_not_four_digits_heard(lang, readings, digits):
    prompt = asr_prompt_for(lang, "id_last4", None)
    v, u = verdict_of(readings, lang, "id_last4", _classify, prompt, TODAY, voiced_ms=1200)
    if digits is None:
        assert (v.state, v.reason, u) == (C.UNSURE, C.ECHO_REASON, None)
    else:
        assert v.state == C.COMPLETE and v.whole and u.entities["last4"] == digits
