"""openai-whisper engine: lossless conversion from the CTranslate2 weights, cut encoder context, both languages."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from speech.asr.ct2_convert import ct2_to_openai_state, read_ct2_model
from speech.asr.faster import trim_repeats
from speech.asr.openai_whisper import _repeating
from speech.audio import read_audio

VOICES = Path(__file__).resolve().parents[2] / "telephony_adapter/sim/voices"
MANIFEST = {r["file"]: r for r in map(json.loads, (VOICES / "manifest.jsonl").read_text().splitlines())}


@pytest.fixture(scope="module")
def engine():
    from speech.asr import create_asr

    return create_asr("openai")


@pytest.fixture(scope="module")
def ct2_dir():
    from speech.asr.resolve import resolve_whisper_model

    return resolve_whisper_model("base")


def test_reader_and_mapping_cover_the_model(ct2_dir):
    variables = read_ct2_model(ct2_dir / "model.bin")
    assert variables["decoder/projection/weight"] is variables["decoder/embeddings/weight"]  # alias
    dims, state = ct2_to_openai_state(variables)
    assert dims["n_audio_layer"] == 6 and dims["n_text_head"] == 8 and dims["n_vocab"] == 51865
    assert state["encoder.blocks.0.attn.query.weight"].shape == (512, 512)
    assert "encoder.blocks.0.attn.key.bias" not in state


@pytest.mark.slow
def test_converted_checkpoint_matches_ctranslate2_encoder(engine, ct2_dir):
    import ctranslate2
    import torch
    from whisper.audio import log_mel_spectrogram

    audio, _ = read_audio(VOICES / "en_040.wav", 16000)
    padded = np.zeros(16000 * 30, np.float32)
    padded[: len(audio)] = audio
    mel = log_mel_spectrogram(torch.from_numpy(padded))[:, :3000][None]
    with torch.inference_mode():
        ours = engine.model.encoder(mel).numpy()
    ct2 = ctranslate2.models.Whisper(str(ct2_dir), device="cpu", compute_type="float32")
    theirs = np.array(ct2.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(mel.numpy())), to_cpu=True))
    assert ours.shape == theirs.shape == (1, 1500, 512)
    assert np.abs(ours - theirs).max() < 1e-2 * np.abs(theirs).max() / 10


@pytest.mark.slow
@pytest.mark.parametrize("name", ["zh_011.wav", "en_048.wav"])
def test_openai_engine_transcribes_with_cut_context(engine, name):
    import jiwer

    row = MANIFEST[name]
    audio, _ = read_audio(VOICES / name, 16000)
    result = engine.transcribe(audio, language=row["lang"])
    assert result.language == row["lang"]
    if row["lang"] == "zh":
        strip = lambda s: "".join(ch for ch in s if ch.isalnum())  # noqa: E731
        assert jiwer.cer(strip(row["text"]), strip(result.text)) <= 0.2, result.text
    else:
        assert result.text.lower().startswith("no, that's not right"), result.text
        assert result.text.lower().count("not right") == 1  # no decoding loop
    # the encoder ran on the utterance, not on 30 s
    assert engine.encode(audio).shape[1] <= (len(audio) / 16000 + engine.tail_s + engine.pad_s) * 50


@pytest.mark.slow
def test_openai_engine_detects_language_and_silence(engine):
    zh, _ = read_audio(VOICES / "zh_005.wav", 16000)
    assert engine.transcribe(zh).language == "zh"
    assert engine.transcribe(np.zeros(16000, np.float32), "en").text == ""


def test_loop_guards():
    assert _repeating([1, 2, 3, 4, 1, 2, 3, 4])
    assert not _repeating([1, 2, 3, 4, 5, 6, 7, 8])
    assert trim_repeats([9, 1, 2, 3, 1, 2, 3, 1]) == [9, 1, 2, 3]
    assert trim_repeats([5, 5, 6, 7]) == [5, 5, 6, 7]


@pytest.mark.slow
def test_openai_full_is_the_stock_pipeline_on_a_30_s_window():
    """The reference engine: openai-whisper's own transcribe(), unchanged, on both languages."""
    from speech.asr import create_asr

    ref = create_asr("openai-full")
    assert ref.name == "openai-full" and ref.full_context and not ref.quantized
    en, _ = read_audio(VOICES / "en_040.wav", 16000)
    result = ref.transcribe(en)  # language detected
    assert result.language == "en"
    assert "emily" in result.text.lower(), result.text
    zh, _ = read_audio(VOICES / "zh_010.wav", 16000)
    out = ref.transcribe(zh, language="zh")
    assert out.language == "zh" and "人工" in out.text, out.text
    assert ref.transcribe(np.zeros(16000, np.float32), "en").text == ""
