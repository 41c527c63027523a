"""Answering-machine detection on recorded fixtures: espeak-ng voicemail greetings (+ sox beeps)
against the human answers of telephony_adapter/sim/voices, in both languages."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from speech.amd import (
    FIXTURES_DIR,
    HUMAN,
    MACHINE,
    UNKNOWN,
    AnsweringMachineDetector,
    detect_file,
    match_voicemail_phrase,
)

VOICES = Path(__file__).resolve().parents[2] / "telephony_adapter" / "sim" / "voices"
MACHINES = [json.loads(line) for line in (FIXTURES_DIR / "manifest.jsonl").read_text().splitlines() if line]
HUMANS = [json.loads(line) for line in (VOICES / "manifest.jsonl").read_text().splitlines() if line]


@pytest.mark.parametrize("fixture", MACHINES, ids=[m["file"] for m in MACHINES])
def test_voicemail_greetings_are_machines(fixture):
    r = detect_file(FIXTURES_DIR / fixture["file"])
    assert r.verdict == MACHINE, r
    if fixture["beep_at_ms"] is None:
        assert r.beep_at_ms is None  # no beep invented in a carrier message
    else:
        assert r.beep_at_ms == pytest.approx(fixture["beep_at_ms"], abs=60)


def test_human_answers_are_humans_in_both_languages():
    wrong = [h["file"] for h in HUMANS if detect_file(VOICES / h["file"]).verdict != HUMAN]
    assert not wrong, wrong
    assert {h["lang"] for h in HUMANS} == {"zh", "en"}


def test_machine_verdict_comes_before_the_beep_on_long_greetings():
    fixture = next(m for m in MACHINES if m["file"] == "vm_zh_beep.wav")
    r = detect_file(FIXTURES_DIR / fixture["file"])
    assert r.decided_at_ms < fixture["beep_at_ms"]  # decided on greeting length, then the beep is found
    assert r.beep_at_ms is not None


@pytest.mark.parametrize("text", ["请在提示音后留言", "您拨打的电话暂时无人接听，请稍后再拨",
                                  "Please leave a message after the tone.",
                                  "The person you are calling is not available", "您好，请留言。"])
def test_voicemail_phrases(text):
    assert match_voicemail_phrase(text)
    det = AnsweringMachineDetector()
    assert det.feed_text(text) == MACHINE and det.decided


@pytest.mark.parametrize("text", ["喂，我是王芳，请问什么事", "Hello? Who is this?", "对，就是我本人",
                                  "Yes, speaking."])
def test_ordinary_answers_have_no_voicemail_phrase(text):
    assert match_voicemail_phrase(text) is None


def test_beep_detection_ignores_noise_and_finds_a_pure_tone():
    rate = 8000
    det = AnsweringMachineDetector()
    rng = np.random.default_rng(1)
    noise = (rng.normal(0, 0.2, rate) * 32767).astype(np.int16)
    for i in range(0, len(noise), 160):
        det.feed(noise[i : i + 160], rate)
    assert det.beep_at_ms is None
    t = np.arange(int(0.3 * rate)) / rate
    beep = (np.sin(2 * np.pi * 1000 * t) * 0.4 * 32767).astype(np.int16)
    for i in range(0, len(beep), 160):
        det.feed(beep[i : i + 160], rate)
    assert det.beep_at_ms == pytest.approx(1000, abs=40)
    assert det.verdict == MACHINE


def test_silence_is_unknown_not_human():
    det = AnsweringMachineDetector(max_initial_silence_ms=2000)
    for _ in range(150):
        det.feed(np.zeros(320, dtype=np.int16), 16000)
    assert det.verdict == UNKNOWN and det.decided


def test_amd_bench_reads_the_transcript_from_asr_not_the_reference():
    """The AMD bench's "machine recall with transcript" is fed what the ASR heard (issue 16), one call per
    greeting: an ASR that hears nothing leaves only the audio cues, one that hears a voicemail phrase adds it."""
    from speech.amd import benchmark
    from tests.fakes import FakeAsr

    deaf = FakeAsr("")
    silent = benchmark(asr=deaf)
    assert deaf.calls == len(MACHINES) and silent["transcript_source"] == "asr"
    assert silent["early_transcripts"] == [""] * len(MACHINES)
    assert silent["machine_recall_with_transcript"] == silent["machine_recall_audio_only"]
    heard = FakeAsr("请在提示音后留言")
    phrase = benchmark(asr=heard)
    assert phrase["early_transcripts"] == ["请在提示音后留言"] * len(MACHINES) and heard.calls == len(MACHINES)
    assert phrase["machine_recall_with_transcript"] == 1.0
