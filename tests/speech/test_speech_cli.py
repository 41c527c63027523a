"""CLI contract of `dialwise asr transcribe`, plus piper, doctor checks and `dialwise --help` speed."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from speech.audio import read_audio, resample, to_int16, write_g711_wav

ROOT = Path(__file__).resolve().parents[2]
VOICES = ROOT / "telephony_adapter/sim/voices"
DIALWISE = [sys.executable, "-c", "from agent.cli import main; main()"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*DIALWISE, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_asr_transcribe_json_contract(tmp_path):
    audio, _ = read_audio(VOICES / "en_041.wav", 16000)
    ulaw = write_g711_wav(tmp_path / "call.wav", to_int16(resample(audio, 16000, 8000)), 8000)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    proc = run("asr", "transcribe", str(VOICES / "zh_007.wav"), str(ulaw), str(bad), "--json")
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "bad.wav: not a WAV file" in proc.stderr
    assert [set(r) for r in lines] == [{"file", "text", "language", "duration_s", "elapsed_s"}] * 2
    zh, en = lines
    assert zh["language"] == "zh" and "没问题" in zh["text"]
    assert en["language"] == "en" and "that's me" in en["text"].lower()
    assert en["duration_s"] == pytest.approx(len(audio) / 16000, abs=0.01)


@pytest.mark.slow
def test_bench_asr_reports_dev_and_test_apart_and_compares_with_the_reference(tmp_path):
    details = tmp_path / "clips.jsonl"
    proc = run("bench", "asr", "--set", "fixtures", "--engines", "faster,faster-full", "--reference", "faster-full",
               "--limit", "1", "--threads", "1", "--details", str(details), "--draws", "2")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["draws"] == 2 and set(out["splits"]) == {"dev", "test"}
    rows = [json.loads(line) for line in details.read_text(encoding="utf-8").splitlines()]
    assert {r["split"] for r in rows} == {"dev", "test"}
    for split in out["splits"].values():
        assert split["utterances"] == {"en": 1, "zh": 1}
        assert split["reference"] == "faster-full" and set(split["engines"]) == {"faster", "faster-full"}
        for row in split["engines"].values():
            assert 0 <= row["wer_en"] <= 1 and 0 <= row["cer_zh"] <= 1 and row["total_s"] > 0
            for key in ("wer_en", "cer_zh"):  # the pooled rate lies between the two draws' rates
                assert min(row["per_draw"][key]) - 1e-4 <= row[key] <= max(row["per_draw"][key]) + 1e-4
    out = out["splits"]["test"]
    versus = out["vs_reference"]["faster"]
    engines = out["engines"]
    assert versus["speedup"] == pytest.approx(engines["faster-full"]["total_s"] / engines["faster"]["total_s"],
                                              rel=0.02)
    assert versus["speedup"] > 1.5  # the encoder runs on ~3 s, not on 30 s
    clips = [json.loads(line) for line in details.read_text(encoding="utf-8").splitlines()]
    # one clip per language and split (2 x 2), two draws, two engines
    assert len(clips) == 16 and {c["engine"] for c in clips} == {"faster", "faster-full"}
    assert {c["draw"] for c in clips} == {0, 1}
    assert {c["lang"] for c in clips} == {"zh", "en"} and all(c["ref"] and c["s"] > 0 for c in clips)


def test_bad_options_are_one_line_errors():
    proc = run("asr", "transcribe", str(VOICES / "zh_007.wav"), "--language", "fr", "--json")
    assert proc.returncode == 2 and proc.stderr.strip().startswith("error:") and "Traceback" not in proc.stderr
    proc = run("bench", "asr", "--engines", "kaldi")
    assert proc.returncode == 2 and "unknown engine" in proc.stderr


def test_help_is_fast_and_lists_speech_commands():
    t0 = time.perf_counter()
    proc = run("--help")
    assert proc.returncode == 0 and time.perf_counter() - t0 < 20
    for name in ("asr", "models", "prompts"):
        assert name in proc.stdout


def test_piper_english_voice():
    from speech.tts import create_tts

    tts = create_tts("en", engine="piper")
    speech = tts.synthesize("Your payment is due on Friday.", "en")
    assert speech.sample_rate == 22050 and 1.0 < speech.duration_s < 5.0 and np.abs(speech.pcm).max() > 2000
    assert len(list(tts.stream("Hello Emily, this is Acme. Your payment is due on Friday.", "en"))) == 3


def test_doctor_checks_report_speech_prerequisites():
    from speech.doctor import doctor_checks

    checks = {name: (ok, detail, fix) for name, ok, detail, fix in doctor_checks()}
    assert checks["whisper base weights"][0]
    assert checks["VAD (silero onnx)"][0]
    assert checks["TTS voice zh (espeak cmn-latn-pinyin)"][0]
    assert all(fix for ok, _, fix in checks.values() if not ok)


@pytest.mark.slow
def test_models_convert_writes_a_checkpoint_whisper_loads(tmp_path):
    out = tmp_path / "base.pt"
    proc = run("models", "convert", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    assert info["checkpoint"] == str(out) and out.stat().st_size > 100_000_000
    import whisper

    model = whisper.load_model(str(out), device="cpu")
    assert model.dims.n_audio_layer == 6 and model.is_multilingual


def test_domain_prompt_both_languages():
    from speech.asr.prompts import domain_prompt

    assert (domain_prompt("zh", "诚信金融", ["王芳"], ["两千元"])
            == "喂，您好。这里是诚信金融。嗯，是我。关于还款、逾期、滞纳金、罚息、分期、结清的事，你说吧。"
               "王芳，是我本人。还款两千元。")
    assert domain_prompt("en", "Acme Finance", ["Emily"]) == (
        "Hello. This is Acme Finance. Payment, balance, late fee, interest, installment plan, account, due date. "
        "Yes, this is Emily.")
