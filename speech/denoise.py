"""Stationary line-noise suppression before ASR (spectral subtraction with a gain floor).

Telephone hiss is close to stationary, and Whisper base loses several points of Mandarin CER at
20 dB SNR. The noise spectrum is estimated from the quietest 10 % of frames of the utterance
itself (an utterance from the endpointer always carries some pre-roll and pauses), subtracted with
over-subtraction `over`, and the gain is floored at `floor` to avoid musical noise.
"""
from __future__ import annotations

import numpy as np


def suppress_noise(audio: np.ndarray, n_fft: int = 512, hop: int = 128, over: float = 1.5,
                   floor: float = 0.1, quiet_share: float = 0.1) -> np.ndarray:
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    if len(x) < n_fft * 2:
        return x.copy()
    window = np.hanning(n_fft).astype(np.float32)
    padded = np.concatenate([np.zeros(n_fft, np.float32), x, np.zeros(n_fft, np.float32)])
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop] * window
    spectrum = np.fft.rfft(frames, axis=1)
    power = np.abs(spectrum) ** 2
    energy = power.sum(axis=1)
    quiet = np.argsort(energy)[: max(5, int(len(energy) * quiet_share))]
    noise = power[quiet].mean(axis=0)
    gain = np.sqrt(np.maximum(1.0 - over * noise / np.maximum(power, 1e-12), floor ** 2))
    frames_out = np.fft.irfft(spectrum * gain, n=n_fft, axis=1).astype(np.float32) * window
    out = np.zeros(len(padded), np.float32)
    norm = np.zeros(len(padded), np.float32)
    sq = window ** 2
    for i, frame in enumerate(frames_out):  # overlap-add
        out[i * hop:i * hop + n_fft] += frame
        norm[i * hop:i * hop + n_fft] += sq
    out /= np.maximum(norm, 1e-6)
    return out[n_fft:n_fft + len(x)]
