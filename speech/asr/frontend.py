"""The acoustic front end for phone-band audio, before Whisper's log-mel features.

A phone line carries 0-4 kHz (8 kHz sampling); upsampled to Whisper's 16 kHz, the top half of the log-mel
(4-8 kHz) holds nothing but the resampler's floor, which Whisper, trained on wideband audio, seldom saw.
`fold_band` fills it the cheapest way a phone codec's band extension does: spectral folding. Multiplying
the 16 kHz signal by (-1)^n mirrors every frequency f to 8 kHz - f, so the line's 0-4 kHz band reappears,
mirrored, in 4-8 kHz; `gain` of it is added back. Fricatives and bursts then carry energy above 4 kHz, as
in wideband speech. It is applied only to phone-band audio (`is_phone_band`): on wideband audio the mirror
would fold the real high band down onto the speech band.

The gain is per language and chosen on the dev split only (BENCHMARKS.md, "Session 9"): English reads
better with it; Mandarin did not, and keeps 0 (off).
"""
from __future__ import annotations

import numpy as np

RATE = 16000
PHONE_BAND_HZ = 4000.0
# a clip is phone-band when less than this share of its energy lies above PHONE_BAND_HZ (a phone line
# upsampled to 16 kHz by a band-limited resampler: under 0.001 %; the piper voice at 22 kHz, before the
# channel: 0.1-0.2 %; the recorded fixtures: 0.6-2 %)
MAX_HIGH_SHARE = 0.0005


def high_band_share(audio: np.ndarray, rate: int = RATE, cutoff_hz: float = PHONE_BAND_HZ) -> float:
    """The share of the clip's energy above `cutoff_hz` (0.0 for silence)."""
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    if len(x) < 2:
        return 0.0
    power = np.abs(np.fft.rfft(x)) ** 2
    total = float(power.sum())
    if total <= 0.0:
        return 0.0
    freqs = np.fft.rfftfreq(len(x), 1.0 / rate)
    return float(power[freqs > cutoff_hz].sum()) / total


def is_phone_band(audio: np.ndarray, rate: int = RATE) -> bool:
    """True when the clip carries (almost) nothing above 4 kHz: audio from an 8 kHz line."""
    return high_band_share(audio, rate) < MAX_HIGH_SHARE


def fold_band(audio: np.ndarray, gain: float) -> np.ndarray:
    """Phone-band 16 kHz audio with its 0-4 kHz band mirrored into 4-8 kHz at `gain` (amplitude); the
    clip unchanged (a copy) when `gain` is 0 or the clip is not phone-band."""
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    if gain <= 0.0 or len(x) == 0 or not is_phone_band(x):
        return x.copy()
    sign = np.ones(len(x), dtype=np.float32)
    sign[1::2] = -1.0
    return (x + np.float32(gain) * x * sign).astype(np.float32)


def band_limit(audio: np.ndarray, cutoff_hz: float = PHONE_BAND_HZ, rate: int = RATE) -> np.ndarray:
    """The clip with everything above `cutoff_hz` removed (whole-clip FFT). A live call upsamples its 8 kHz
    line with a short, low-latency filter (speech.audio.StreamResampler, soxr "QQ") whose images leave
    0.07-0.35 % of the energy above 4 kHz: too much for `is_phone_band`, and not what the benches' band-limited
    channel gives the recogniser. The session hands the recogniser an 8 kHz line's utterance through this."""
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    if len(x) < 2:
        return x.copy()
    pad = min(len(x) - 1, 1024)  # mirrored ends: no step where the FFT wraps the clip around
    padded = np.pad(x, pad, mode="reflect")
    spectrum = np.fft.rfft(padded)
    spectrum[np.fft.rfftfreq(len(padded), 1.0 / rate) > cutoff_hz] = 0.0
    return np.fft.irfft(spectrum, n=len(padded))[pad:pad + len(x)].astype(np.float32)
