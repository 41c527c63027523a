"""The faster engine's acoustic front end: spectral folding of phone-band audio into the empty 4-8 kHz band."""
from __future__ import annotations

import numpy as np
import pytest

from speech.asr.frontend import fold_band, high_band_share, is_phone_band
from speech.audio import read_audio
from speech.bench import VOICES_DIR, telephone_channel

# one recorded fixture per language (wideband microphone audio), and the same through the phone channel
CLIPS = {"zh": "zh_002.wav", "en": "en_040.wav"}


def _clip(lang: str) -> tuple[np.ndarray, np.ndarray]:
    wide, _ = read_audio(VOICES_DIR / CLIPS[lang], 16000)
    wide = np.asarray(wide, dtype=np.float32)
    return wide, telephone_channel(wide, snr_db=20, seed=3)


def _band_energy(x: np.ndarray, lo: float, hi: float) -> float:
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / 16000)
    return float(power[(freqs >= lo) & (freqs < hi)].sum())


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_phone_band_audio_is_told_from_wideband(lang):
    wide, phone = _clip(lang)
    assert is_phone_band(phone) and high_band_share(phone) < 1e-5
    assert not is_phone_band(wide) and high_band_share(wide) > 1e-3
    assert high_band_share(np.zeros(1600, np.float32)) == 0.0  # silence: nothing to measure, no error


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_folding_mirrors_the_line_band_into_the_empty_high_band(lang):
    _, phone = _clip(lang)
    folded = fold_band(phone, 0.2)
    assert folded.dtype == np.float32 and len(folded) == len(phone)
    low_before, high_before = _band_energy(phone, 0, 4000), _band_energy(phone, 4000, 8000)
    low_after, high_after = _band_energy(folded, 0, 4000), _band_energy(folded, 4000, 8000)
    assert high_before < 1e-4 * low_before  # the phone line left 4-8 kHz empty
    assert high_after == pytest.approx(0.04 * low_before, rel=0.05)  # gain 0.2 in amplitude = 0.04 in power
    assert low_after == pytest.approx(low_before, rel=0.01)  # the speech band itself is kept
    # a mirror: energy at f in the line band reappears at 8 kHz - f
    peak = np.fft.rfftfreq(len(phone), 1 / 16000)[int(np.argmax(np.abs(np.fft.rfft(phone))))]
    mirrored = np.fft.rfftfreq(len(folded), 1 / 16000)[int(np.argmax(
        np.abs(np.fft.rfft(folded)) * (np.fft.rfftfreq(len(folded), 1 / 16000) > 4000)))]
    assert mirrored == pytest.approx(8000 - peak, abs=2.0)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_folding_leaves_wideband_audio_and_gain_zero_alone(lang):
    wide, phone = _clip(lang)
    assert np.array_equal(fold_band(wide, 0.2), wide)  # folding would put the real high band onto speech
    assert np.array_equal(fold_band(phone, 0.0), phone)
    out = fold_band(phone, 0.0)
    out[0] += 1.0
    assert not np.array_equal(out, phone)  # a copy, never the caller's buffer


class _Spy:
    """Stands in for the encoder: records what audio the cut path would encode, then stops it."""

    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []

    def __call__(self, audio, clock=None, language=None):
        self.seen.append(np.asarray(audio).copy())
        raise _Stop


class _Stop(Exception):
    pass


@pytest.mark.slow
def test_the_faster_engine_folds_per_language_in_transcribe_and_nbest(monkeypatch):
    from speech.asr import create_asr
    from speech.options import AsrOptions

    asr = create_asr("faster", options=AsrOptions(band_fold_en=0.3, band_fold_zh=0.0))
    assert asr.band_folds == {"en": 0.3, "zh": 0.0}
    for lang, folds in (("en", True), ("zh", False)):
        _, phone = _clip(lang)
        spy = _Spy()
        monkeypatch.setattr(asr, "_encode_cut", spy)
        with pytest.raises(_Stop):
            asr.transcribe(phone, language=lang)
        with pytest.raises(_Stop):
            asr.nbest(phone, lang)
        for seen in spy.seen:  # denoised, so compare shares, not samples
            assert (high_band_share(seen) > 0.01) is folds, lang
        assert np.allclose(spy.seen[0], spy.seen[1])  # transcribe and nbest encode the same audio


def test_the_fold_gain_is_a_setting_per_language():
    from agent.config import Settings
    from agent.speech_options import asr_options
    from speech.asr import _engine_options

    opts = asr_options(Settings(asr_band_fold_en=0.0, asr_band_fold_zh=0.25))
    assert (opts.band_fold_en, opts.band_fold_zh) == (0.0, 0.25)
    assert _engine_options("faster", opts)["band_fold"] == {"zh": 0.25, "en": 0.0}
    assert "band_fold" not in _engine_options("faster-full", opts)  # the stock reference keeps its own front end


def _live_line(wide: np.ndarray) -> np.ndarray:
    """The clip as a live call's listener gets it: 8 kHz μ-law upsampled frame by frame (soxr "QQ")."""
    from speech.audio import StreamResampler, resample, to_float32, to_int16, ulaw_decode, ulaw_encode

    line = ulaw_decode(ulaw_encode(to_int16(resample(wide, 16000, 8000))))
    up = StreamResampler(8000, 16000)
    return to_float32(np.concatenate([up.process(line[i:i + 160]) for i in range(0, len(line), 160)]))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_live_line_band_limited_reads_as_the_bench_s_phone_channel(lang):
    from speech.asr.frontend import band_limit

    wide, phone = _clip(lang)
    live = _live_line(wide)
    assert not is_phone_band(live)  # the live resampler's images: the fold would never apply
    limited = band_limit(live)
    assert is_phone_band(limited) and len(limited) == len(live) and limited.dtype == np.float32
    assert _band_energy(limited, 300, 3400) > 0.98 * _band_energy(live, 300, 3400)  # the speech band kept
    # the bench's channel is already band-limited: unchanged but for the first and last few samples
    assert np.abs(band_limit(phone) - phone)[64:-64].max() < 1e-3
    assert not np.allclose(fold_band(limited, 0.3), limited)  # so the engine's fold now applies live too


@pytest.mark.parametrize("rate, limited", [(8000, True), (16000, False)])
def test_the_listener_hands_the_recogniser_a_phone_line_s_band(rate, limited):
    from types import SimpleNamespace

    from agent.call_listener import Listener
    from agent.turn_taking import TurnSettings

    session = SimpleNamespace(lang="en", recorder=SimpleNamespace(add_callee=lambda pcm: None, now_ms=0))
    listener = Listener(session, TurnSettings(), 700)
    listener.line_rate = rate  # as on_audio sets it from the first frame
    live = _live_line(_clip("en")[0])
    out = listener.asr_audio(live)
    assert is_phone_band(out) is limited
    assert (out is live) is not limited
