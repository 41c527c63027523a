"""Whisper ASR: the resolver, the faster-whisper engine on real zh/en fixtures, and text clean-up."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from agent.config import Settings
from agent.speech_options import asr_options
from speech.asr import postprocess as pp
from speech.asr import resolve as R
from speech.asr.base import Segment
from speech.audio import read_audio
from speech.options import AsrOptions

VOICES = Path(__file__).resolve().parents[2] / "telephony_adapter/sim/voices"
MANIFEST = {r["file"]: r for r in map(json.loads, (VOICES / "manifest.jsonl").read_text().splitlines())}


def cer(ref: str, hyp: str) -> float:
    import jiwer

    strip = lambda s: "".join(ch for ch in s if ch.isalnum())  # noqa: E731
    return jiwer.cer(strip(ref), strip(hyp) or " ")


def wer(ref: str, hyp: str) -> float:
    import re

    import jiwer

    norm = lambda s: re.sub(r"[^a-z0-9' ]+", " ", s.lower()).split()  # noqa: E731
    return jiwer.wer(" ".join(norm(ref)), " ".join(norm(hyp)) or "x")


# ------------------------------------------------------------------ resolver
def _options(**kw) -> AsrOptions:
    """The resolver's options as the app builds them from its settings."""
    return asr_options(Settings(**kw))


def _fake_model(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.bin").write_bytes(b"weights")
    (folder / "config.json").write_text("{}")
    return folder


def test_resolver_explicit_then_configured_then_home(monkeypatch, tmp_path):
    explicit = _fake_model(tmp_path / "explicit")
    configured = _fake_model(tmp_path / "configured")
    home = tmp_path / "home"
    _fake_model(home / "base")
    opts = _options(var_dir=tmp_path / "var", whisper_model_dir=configured, whisper_models_home=home)
    assert R.resolve_whisper_model("base", explicit, opts) == explicit
    assert R.resolve_whisper_model("base", options=opts) == configured
    opts = _options(var_dir=tmp_path / "var", whisper_models_home=home)
    assert R.resolve_whisper_model("base", options=opts) == home / "base"
    with pytest.raises(R.ModelNotFound, match="not a CTranslate2 Whisper folder"):
        R.resolve_whisper_model("base", tmp_path / "nothing-here", opts)


def test_resolver_without_weights_names_the_packages(monkeypatch, tmp_path):
    opts = _options(var_dir=tmp_path / "var")
    monkeypatch.setattr(R, "SHIPPED", (R.ShippedModel("base", ("no_such_pkg_part1", "no_such_pkg_part2")),))
    with pytest.raises(R.ModelNotFound) as err:
        R.resolve_whisper_model("base", options=opts)
    assert "pip install no-such-pkg-part1 no-such-pkg-part2" in str(err.value)


def test_materialize_joins_parts_once_atomically(tmp_path):
    src = tmp_path / "pkg"
    src.mkdir()
    (src / "model.bin.part1").write_bytes(b"A" * 1000)
    (src / "model.bin.part2").write_bytes(b"B" * 500)
    (src / "config.json").write_text('{"x": 1}')
    (src / "vocabulary.txt").write_text("a\nb\n")
    target = tmp_path / "cache" / "whisper" / "base"
    parts = [src / "model.bin.part1", src / "model.bin.part2"]
    out = R.materialize(parts, src, target)
    assert (out / "model.bin").read_bytes() == b"A" * 1000 + b"B" * 500
    assert (out / "config.json").read_text() == '{"x": 1}' and (out / "vocabulary.txt").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left
    stamp = (out / "model.bin").stat().st_mtime_ns
    os.utime(out / "model.bin", ns=(stamp - 10**9, stamp - 10**9))
    R.materialize(parts, src, target)  # second call: already complete -> untouched
    assert (out / "model.bin").stat().st_mtime_ns == stamp - 10**9


def test_resolver_finds_the_installed_registry_weights():
    path = R.resolve_whisper_model("base")
    assert R.is_model_dir(path)
    assert (path / "model.bin").stat().st_size > 100_000_000


# ------------------------------------------------------------------ post-processing
def test_traditional_to_simplified_and_punctuation():
    assert pp.normalize_zh("這個月還款兩千元, 可以嗎?") == "这个月还款两千元，可以吗？"
    assert pp.normalize_zh("我 是 王 芳") == "我是王芳"
    assert pp.normalize_en("  hello ,  world  ") == "hello, world"


def test_a_character_whispers_tokens_left_unfinished_is_dropped():
    # session 20: a demo call stored "刘伟\ufffd是我本人。" (bytes of a character no token completed)
    assert pp.normalize_zh("刘伟\ufffd是我本人。") == "刘伟是我本人。"
    assert pp.normalize_en("Yes \ufffd, it's me.") == "Yes, it's me."
    t = pp.finish([Segment(0.0, 1.0, "刘伟\ufffd是我本人。", 0.01, -0.2)], "zh", 1.0)
    assert "\ufffd" not in t.text and t.text == "刘伟是我本人。"


def test_hallucination_guards():
    assert pp.is_junk("谢谢观看") and pp.is_junk("字幕由Amara.org社区提供") and pp.is_junk("Thanks for watching!")
    assert not pp.is_junk("好的，谢谢") and not pp.is_junk("I'm watching my budget")
    assert pp.collapse_loops("我没钱我没钱我没钱我没钱我没钱") == "我没钱"
    assert pp.collapse_loops("喂喂喂") == "喂喂喂"
    silent = Segment(0, 1, "谢谢", no_speech_prob=0.9, avg_logprob=-1.5)
    real = Segment(0, 1, "好的", no_speech_prob=0.1, avg_logprob=-0.3)
    out = pp.finish([silent, real], "zh", 1.0)
    assert out.text == "好的" and len(out.segments) == 1
    assert pp.finish([], "en", 1.0).text == ""
    # a doubtful segment survives only when the VAD hears speech in the audio
    doubtful = Segment(0, 1, " Mm-hmm, right.", no_speech_prob=0.75, avg_logprob=-1.2)
    speech, _ = read_audio(VOICES / "en_041.wav", 16000)
    noise = np.random.default_rng(0).normal(0, 0.01, 32000).astype(np.float32)
    assert pp.finish([doubtful], "en", 2.0, speech).text == "Mm-hmm, right."
    assert pp.finish([doubtful], "en", 2.0, noise).text == ""
    # a short reading is checked against the VAD however well scored: line noise decodes to "Thank you."
    confident = Segment(0, 1, " Thank you.", no_speech_prob=0.05, avg_logprob=-0.2)
    assert pp.finish([confident], "en", 2.0, noise).text == ""
    assert pp.finish([confident], "en", 2.0, speech).text == "Thank you."
    assert pp.finish([Segment(0, 1, "好的。", 0.05, -0.2)], "zh", 2.0, noise).text == ""
    longer = Segment(0, 1, " I can pay on Friday.", no_speech_prob=0.05, avg_logprob=-0.2)
    assert pp.finish([longer], "en", 2.0, noise).text == "I can pay on Friday."  # not short: no VAD pass
    assert pp.is_short("Thank you.") and pp.is_short("好的，谢谢") is False and not pp.is_short("I can pay now")


# ------------------------------------------------------------------ faster-whisper, real model
@pytest.fixture(scope="module")
def faster():
    from speech.asr import create_asr

    return create_asr("faster")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["zh_002.wav", "en_042.wav"])
def test_faster_whisper_transcribes_fixture(faster, name):
    row = MANIFEST[name]
    audio, _ = read_audio(VOICES / name, 16000)
    result = faster.transcribe(audio, language=row["lang"])
    assert result.language == row["lang"]
    if row["lang"] == "zh":
        assert cer(row["text"], result.text) <= 0.25, result.text
        assert pp.to_simplified(result.text) == result.text
    else:
        assert wer(row["text"], result.text) <= 0.25, result.text
    assert result.duration_s == pytest.approx(len(audio) / 16000)


@pytest.mark.slow
def test_faster_whisper_detects_language_and_returns_empty_on_silence(faster):
    zh, _ = read_audio(VOICES / "zh_001.wav", 16000)
    en, _ = read_audio(VOICES / "en_041.wav", 16000)
    assert faster.transcribe(zh).language == "zh"
    assert faster.transcribe(en).language == "en"
    rng = np.random.default_rng(0)
    assert faster.transcribe(np.zeros(32000, np.float32), language="zh").text == ""
    # line noise alone: Whisper may decode "I don't know." / "Yeah." from it; the VAD second opinion drops it
    for amp in (0.001, 0.003, 0.01, 0.03, 0.1):
        for lang in ("zh", "en"):
            assert faster.transcribe(rng.normal(0, amp, 32000).astype(np.float32), language=lang).text == ""


@pytest.mark.slow
def test_faster_full_reference_pipeline_and_cut_context_agree():
    from speech.asr import create_asr

    audio, _ = read_audio(VOICES / "en_040.wav", 16000)
    full = create_asr("faster-full").transcribe(audio, language="en")
    cut = create_asr("faster").transcribe(audio, language="en")
    # the same words; the punctuation follows the style of the cut path's prompt ("Hello. Yes, ..." or "Hello, yes")
    from speech.bench import normalize_en

    assert normalize_en(full.text) == normalize_en(cut.text) == "hello yes this is emily speaking"


def test_create_asr_is_cached_and_rejects_unknown_engine():
    from speech.asr import create_asr
    from speech.errors import SpeechError

    assert create_asr("faster") is create_asr("faster")
    with pytest.raises(SpeechError, match="unknown ASR engine"):
        create_asr("kaldi")


@pytest.mark.slow
def test_parallel_transcriptions_match_sequential(faster):
    from concurrent.futures import ThreadPoolExecutor

    clips = [(read_audio(VOICES / name, 16000)[0], MANIFEST[name]["lang"]) for name in ("zh_010.wav", "en_044.wav")]
    sequential = [faster.transcribe(a, language=lang).text for a, lang in clips]
    with ThreadPoolExecutor(max_workers=2) as pool:
        parallel = list(pool.map(lambda c: faster.transcribe(c[0], language=c[1]).text, clips))
    assert parallel == sequential and all(sequential)


@pytest.mark.slow
def test_the_encoder_runs_at_its_own_precision(faster):
    from pydantic import ValidationError

    from speech.asr.faster import FasterWhisperAsr

    assert Settings().asr_encoder_compute_type == "float32"
    assert faster._encoder is not None and faster._encoder.compute_type == "float32"
    assert faster.model.model.compute_type.startswith("int8")  # the decoder stays quantised
    # per language: Mandarin encodes on the decoder's int8 model, English on the float32 instance
    assert faster.encoder_types == {"zh": "int8", "en": "float32"}
    assert faster._encoder_for("zh") is faster.model.model and faster._encoder_for("en") is faster._encoder
    assert faster.beam_sizes == {"zh": 8, "en": 5}
    all_int8 = FasterWhisperAsr(faster.model_dir, cpu_threads=1, context="cut", encoder_compute_type="int8")
    assert all_int8._encoder is None
    audio, _ = read_audio(VOICES / "en_040.wav", 16000)
    for asr in (faster, all_int8):
        assert wer(MANIFEST["en_040.wav"]["text"], asr.transcribe(audio, language="en").text) <= 0.2
    with pytest.raises(ValidationError):
        Settings(asr_encoder_compute_type="float16")


@pytest.mark.slow
def test_the_decoder_precision_is_a_setting_and_all_float32_loads_one_model(monkeypatch, faster):
    from agent.config import get_settings
    from speech.asr import create_asr

    assert Settings().asr_decoder_compute_type == "int8"
    monkeypatch.setenv("ASR_DECODER_COMPUTE_TYPE", "float32")
    monkeypatch.setenv("ASR_ENCODER_COMPUTE_TYPE_ZH", "float32")  # Mandarin's encoder is int8 by default
    get_settings.cache_clear()
    try:
        all_fp32 = create_asr("faster", options=asr_options())
    finally:
        monkeypatch.delenv("ASR_DECODER_COMPUTE_TYPE")
        monkeypatch.delenv("ASR_ENCODER_COMPUTE_TYPE_ZH")
        get_settings.cache_clear()
    assert all_fp32 is not faster  # the engine cache keys on what the engine is built from
    assert all_fp32.model.model.compute_type == "float32" and all_fp32._encoder is None
    audio, _ = read_audio(VOICES / "zh_002.wav", 16000)
    assert cer(MANIFEST["zh_002.wav"]["text"], all_fp32.transcribe(audio, language="zh").text) <= 0.25
    assert create_asr("faster") is faster  # back to the defaults, back to the cached engine


@pytest.mark.slow
def test_nbest_decodes_with_the_prompt_transcribe_uses(faster, monkeypatch):
    """`bench asr-tune` tunes the LM on `nbest()`'s beams: they must come from the same prompt as the engine's
    own reading (the generic domain prompt when none is given), or the tune measures another decoder."""
    from speech.asr.prompts import domain_prompt

    audio, _ = read_audio(VOICES / "en_040.wav", 16000)
    seen: list[list[int]] = []
    decode = faster._decode

    def spy(encoded, prefix, *args, **kwargs):
        seen.append(list(prefix))
        return decode(encoded, prefix, *args, **kwargs)

    monkeypatch.setattr(faster, "_decode", spy)
    faster.transcribe(audio, language="en")
    beams = faster.nbest(audio, "en")
    faster.nbest(audio, "en", prompt="Yes, speaking.")
    assert seen[0] == seen[1] and seen[2] != seen[1]
    tokenizer = faster._tokenizer("en")
    assert seen[1] == faster._prefix(tokenizer, domain_prompt("en"))
    assert len(beams) == faster.beam_sizes["en"] and beams[0][0].strip()


@pytest.mark.slow
def test_patience_below_one_ends_the_beam_search_with_fewer_hypotheses(faster):
    """ASR_PATIENCE_ZH / _EN: the search stops once beams x patience hypotheses have ended, and the LM gets
    that many; the default waits for every beam."""
    from speech.asr import create_asr

    audio, _ = read_audio(VOICES / "zh_001.wav", 16000)
    assert len(faster.nbest(audio, "zh")) == faster.beam_sizes["zh"] == 8
    impatient = create_asr("faster", options=asr_options(Settings(asr_patience_zh=0.5, asr_patience_en=0.01)))
    assert impatient is not faster and impatient.patiences["zh"] == 0.5
    assert impatient.patiences["en"] == pytest.approx(1 / 5)  # never below one ended hypothesis
    beams = impatient.nbest(audio, "zh")
    assert 1 <= len(beams) <= 4 and beams[0][0].strip()
    assert impatient.transcribe(audio, language="zh").text
    with pytest.raises(ValueError):
        Settings(asr_patience_zh=0)
