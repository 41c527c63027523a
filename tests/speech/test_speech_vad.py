"""speech/vad.py + speech/endpoint.py on real fixtures with leading/trailing silence and noise."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from speech.audio import read_audio
from speech.endpoint import Endpointer, SpeechEnded, SpeechPartial, SpeechPaused, SpeechResumed, SpeechStarted
from speech.vad import SileroVad, WebrtcVad, create_vad

VOICES = Path(__file__).resolve().parents[2] / "telephony_adapter/sim/voices"
FRAME = 320


def fixture(name: str) -> np.ndarray:
    return read_audio(VOICES / name, 16000)[0]


def noisy(x: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    power = np.mean(x ** 2)
    noise = rng.normal(0, np.sqrt(power / 10 ** (snr_db / 10)), len(x))
    return (x + noise).astype(np.float32)


def run(ep: Endpointer, stream: np.ndarray, frame: int = FRAME) -> list:
    events = []
    for i in range(0, len(stream) - frame + 1, frame):
        events.extend(ep.feed(stream[i:i + frame]))
    return events


@pytest.fixture(scope="module", params=["silero", "webrtc"])
def vad(request):
    return create_vad(request.param)


def test_create_vad_defaults_to_silero():
    assert isinstance(create_vad(), SileroVad)
    assert isinstance(create_vad("webrtc"), WebrtcVad)


def test_silero_probabilities_separate_speech_from_silence_and_noise():
    v = SileroVad()
    speech = fixture("en_040.wav")
    probs = [v.speech_prob(speech[i:i + FRAME]) for i in range(0, len(speech) - FRAME, FRAME)]
    assert max(probs) > 0.9
    v.reset()
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 0.01, 16000 * 2).astype(np.float32)
    probs = [v.speech_prob(noise[i:i + FRAME]) for i in range(0, len(noise) - FRAME, FRAME)]
    assert max(probs) < 0.3
    # any frame length works (buffered to 512-sample windows)
    v.reset()
    assert v.speech_prob(speech[:100]) == 0.0
    assert 0.0 <= v.speech_prob(speech[100:5000]) <= 1.0


@pytest.mark.parametrize("name", ["zh_002.wav", "en_042.wav"])
def test_one_utterance_between_silences_with_noise(vad, name):
    x = fixture(name)
    pad = np.zeros(16000, dtype=np.float32)
    stream = noisy(np.concatenate([pad, x, pad]), snr_db=25)
    ep = Endpointer(vad, eos_silence_ms=600)  # longer than the pauses inside the fixture
    events = run(ep, stream)
    kinds = [type(e) for e in events]
    assert kinds.count(SpeechStarted) == 1 and kinds.count(SpeechEnded) == 1
    end = next(e for e in events if isinstance(e, SpeechEnded))
    start = next(e for e in events if isinstance(e, SpeechStarted))
    # the speech sits within [1000 ms, 1000 ms + len]; the endpoint is near its end, not at the stream end
    speech_ms = len(x) * 1000 // 16000
    assert 1000 <= start.at_ms <= 1000 + 700
    assert 1000 + speech_ms - 900 <= end.end_ms <= 1000 + speech_ms + 100
    assert len(end.audio) == (end.end_ms - end.start_ms) * 16
    assert start.at_ms - end.start_ms == 200  # pre-roll
    assert not ep.in_utterance


def test_pause_audio_equals_final_audio_when_speech_does_not_resume():
    x = fixture("en_041.wav")
    stream = np.concatenate([np.zeros(8000, np.float32), x, np.zeros(16000, np.float32)])
    events = run(Endpointer(SileroVad(), eos_silence_ms=700, pause_ms=200), stream)
    pause_at = [i for i, e in enumerate(events) if isinstance(e, SpeechPaused)]
    resume_at = [i for i, e in enumerate(events) if isinstance(e, SpeechResumed)]
    end = next(e for e in events if isinstance(e, SpeechEnded))
    assert pause_at and pause_at[-1] > max(resume_at, default=-1)
    last_pause = events[pause_at[-1]]
    assert np.array_equal(last_pause.audio, end.audio)
    assert (last_pause.start_ms, last_pause.end_ms) == (end.start_ms, end.end_ms)


def test_pause_then_resume_then_end_and_per_node_eos():
    x = fixture("zh_000.wav")
    gap = np.zeros(int(16000 * 0.1), np.float32)
    stream = np.concatenate([np.zeros(8000, np.float32), x, gap, x, np.zeros(16000, np.float32)])
    ep = Endpointer(SileroVad(), pause_ms=200)
    ep.set_eos_silence_ms(1100)  # the 100 ms gap (+ the fixture's own silences) must not end the turn
    events = run(ep, stream)
    kinds = [type(e) for e in events]
    assert kinds.count(SpeechEnded) == 1
    assert SpeechPaused in kinds and SpeechResumed in kinds
    assert kinds.index(SpeechPaused) < kinds.index(SpeechResumed) < kinds.index(SpeechEnded)
    # the same stream with a short endpoint splits into two utterances
    ep.reset()
    ep.set_eos_silence_ms(300)
    assert [type(e) for e in run(ep, stream)].count(SpeechEnded) >= 2


def test_partials_on_long_speech_and_max_length():
    x = fixture("en_045.wav")
    long_speech = np.concatenate([x, x, x])
    ep = Endpointer(SileroVad(), eos_silence_ms=2000, max_utterance_ms=4000)
    events = run(ep, np.concatenate([long_speech, np.zeros(48000, np.float32)]))
    partials = [e for e in events if isinstance(e, SpeechPartial)]
    assert len(partials) >= 2
    assert all(len(p.audio) > 0 for p in partials)
    assert [p.end_ms for p in partials] == sorted(p.end_ms for p in partials)
    ends = [e for e in events if isinstance(e, SpeechEnded)]
    assert ends[0].forced and ends[0].duration_ms <= 4000 + 20


def test_silence_and_noise_alone_never_start_speech(vad):
    rng = np.random.default_rng(3)
    stream = np.concatenate([np.zeros(16000, np.float32), rng.normal(0, 0.005, 32000).astype(np.float32)])
    assert run(Endpointer(vad), stream) == []


def test_short_click_is_not_speech():
    # a 60 ms burst is shorter than min_speech_ms
    rng = np.random.default_rng(4)
    burst = np.concatenate([np.zeros(8000), rng.normal(0, 0.3, 960), np.zeros(16000)]).astype(np.float32)
    assert not any(isinstance(e, SpeechEnded) for e in run(Endpointer(WebrtcVad()), burst))


def test_manifest_is_present():
    rows = [json.loads(line) for line in (VOICES / "manifest.jsonl").read_text().splitlines() if line.strip()]
    assert {r["lang"] for r in rows} == {"zh", "en"}


def test_each_vad_sets_its_own_shortest_speech_and_rejects_a_click():
    """Silero starts speech sooner (a faster barge-in) than webrtc, whose smoothing stretches a
    60 ms click to ~140 ms; with its own minimum, neither takes the click for speech."""
    rng = np.random.default_rng(4)
    burst = np.concatenate([np.zeros(8000), rng.normal(0, 0.3, 960), np.zeros(16000)]).astype(np.float32)
    silero, webrtc = Endpointer(SileroVad()), Endpointer(WebrtcVad())
    assert silero.min_speech_ms < webrtc.min_speech_ms
    assert run(silero, burst) == [] and run(webrtc, burst) == []
    assert run(Endpointer(WebrtcVad(), min_speech_ms=silero.min_speech_ms), burst)  # why webrtc needs more
