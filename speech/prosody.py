"""A cheap prosody read of the end of an utterance: pitch and energy over its last voiced stretch.

No model: the pitch track is a normalised autocorrelation per 40 ms window (hop 10 ms, 70-400 Hz),
the energy an RMS contour in dB. `tail(audio)` describes how the utterance ends:

- `pitch_slope`: semitones per second over the last `tail_ms` of voiced frames (negative = falling);
- `pitch_drop`: median pitch of that tail minus the utterance's median, in semitones;
- `energy_slope`: dB per second over the tail (a trailing-off voice falls; a word cut short does not);
- `final_ms`: length of the last voiced run (final lengthening makes it longer at a real end);
- `end_level_db`: loudness of the last 100 ms of voice against the voice's median, in dB (a voice that stops
  at full strength, level, is mid-sentence more often than one that has died away; tone-neutral).

What the figures mean depends on the language: in English a fall at the end marks a finished
statement; in Mandarin the lexical tone of the last syllable sets the pitch (a 4th tone falls in the
middle of a sentence too), so only the energy contour is used there (agent/turn_taking.py decides).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

RATE = 16000
WIN = 640  # 40 ms
HOP = 160  # 10 ms
FMIN, FMAX = 70.0, 400.0


@dataclass(frozen=True)
class Tail:
    pitch_slope: float | None  # semitones / s over the tail (None: too few voiced frames)
    pitch_drop: float | None  # tail median - utterance median, semitones
    energy_slope: float  # dB / s over the tail
    final_ms: int  # last voiced run
    end_level_db: float | None = None  # last 100 ms of voice - the voice's median energy, dB

    def as_dict(self) -> dict:
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 2)

        return {"pitch_slope": r(self.pitch_slope), "pitch_drop": r(self.pitch_drop),
                "energy_slope": r(self.energy_slope), "final_ms": self.final_ms, "end_level_db": r(self.end_level_db)}


def frames(audio: np.ndarray) -> np.ndarray:
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    if len(x) < WIN:
        return np.zeros((0, WIN), dtype=np.float32)
    n = 1 + (len(x) - WIN) // HOP
    idx = np.arange(WIN)[None, :] + HOP * np.arange(n)[:, None]
    return x[idx]


def energy_db(fr: np.ndarray) -> np.ndarray:
    return 10.0 * np.log10(np.mean(fr.astype(np.float64) ** 2, axis=1) + 1e-10)


def pitch_track(fr: np.ndarray, voicing: float = 0.45) -> np.ndarray:
    """F0 in Hz per frame, NaN where unvoiced (peak of the normalised autocorrelation below `voicing`)."""
    if not len(fr):
        return np.zeros(0)
    lo, hi = int(RATE / FMAX), int(RATE / FMIN)
    x = fr - fr.mean(axis=1, keepdims=True)
    x = x * np.hanning(WIN)[None, :]
    spec = np.fft.rfft(x, n=2 * WIN, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, : hi + 2]
    ac0 = ac[:, :1] + 1e-9
    norm = ac / ac0
    seg = norm[:, lo:hi + 1]
    lag = np.argmax(seg, axis=1) + lo
    peak = seg[np.arange(len(seg)), lag - lo]
    f0 = RATE / lag.astype(np.float64)
    f0[peak < voicing] = np.nan
    return f0


def _slope(y: np.ndarray, dt_s: float) -> float | None:
    ok = ~np.isnan(y)
    if ok.sum() < 4:
        return None
    t = np.arange(len(y))[ok] * dt_s
    return float(np.polyfit(t, y[ok], 1)[0])


def tail(audio: np.ndarray, tail_ms: int = 300) -> Tail:
    """How `audio` (16 kHz float32, ending at the end of voice) ends."""
    fr = frames(audio)
    if not len(fr):
        return Tail(None, None, 0.0, 0)
    e = energy_db(fr)
    loud = e > (np.max(e) - 35.0)  # frames of the voice, not of the line noise
    f0 = pitch_track(fr)
    f0[~loud] = np.nan
    semis = 12.0 * np.log2(f0 / 100.0)
    # the tail: the last `tail_ms` up to the last loud frame
    last = int(np.nonzero(loud)[0][-1]) if loud.any() else len(fr) - 1
    n_tail = max(4, tail_ms // 10)
    a = max(0, last + 1 - n_tail)
    dt = HOP / RATE
    ps = _slope(semis[a:last + 1], dt)
    voiced = semis[~np.isnan(semis)]
    tail_voiced = semis[a:last + 1][~np.isnan(semis[a:last + 1])]
    drop = float(np.median(tail_voiced) - np.median(voiced)) if len(tail_voiced) >= 3 and len(voiced) >= 6 else None
    es = _slope(e[a:last + 1], dt) or 0.0
    run = 0
    for v in loud[: last + 1][::-1]:
        if not v:
            break
        run += 1
    return Tail(ps, drop, es, int(run * HOP * 1000 / RATE), end_level(e))


def end_level(e: np.ndarray, floor_db: float = 30.0, end_ms: int = 100) -> float | None:
    """Median energy of the last `end_ms` of voice (frames within `floor_db` of the loudest) minus the voice's
    median energy, dB."""
    voice = e > (np.max(e) - floor_db)
    if voice.sum() < 4:
        return None
    last = int(np.nonzero(voice)[0][-1])
    n = end_ms // 10
    return float(np.median(e[max(0, last - n): last + 1]) - np.median(e[voice]))


def voiced_ms(audio: np.ndarray, floor_db: float = 30.0) -> int:
    """Milliseconds of `audio` within `floor_db` of its loudest 40 ms window (10 ms hops): how long the
    callee's voice sounds in it, the line's pauses left out (nlu.complete.missing_words compares it with the
    words read)."""
    fr = frames(audio)
    if not len(fr):
        return 0
    e = energy_db(fr)
    return int(np.count_nonzero(e > np.max(e) - floor_db) * HOP * 1000 / RATE)


def is_finite(v: float | None) -> bool:
    return v is not None and math.isfinite(v)
