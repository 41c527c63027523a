"""Peak envelopes of a WAV file, per channel, for the console's waveform."""
from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import numpy as np


def peaks(path: Path, points: int = 600) -> dict[str, Any]:
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, rate, frames = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            raw = w.readframes(frames)
    except (wave.Error, EOFError) as exc:
        raise ValueError(str(exc)) from None
    if width != 2:
        raise ValueError(f"only 16-bit PCM is supported, not {8 * width}-bit")
    data = np.frombuffer(raw, dtype="<i2")
    n = len(data) // channels
    data = data[: n * channels].reshape(n, channels).astype(np.float32) / 32768.0
    points = max(1, min(points, n or 1))
    edges = np.linspace(0, n, points + 1).astype(int)
    out = []
    for ch in range(channels):
        col = np.abs(data[:, ch]) if n else np.zeros(1, dtype=np.float32)
        if n:
            env = np.maximum.reduceat(col, edges[:-1].clip(max=n - 1))
        else:
            env = np.zeros(points, dtype=np.float32)
        out.append([round(float(v), 4) for v in env])
    labels = ["callee", "agent"] if channels == 2 else [f"ch{i}" for i in range(channels)]
    return {"channels": dict(zip(labels, out, strict=True)), "duration_s": round(n / rate, 3) if rate else 0.0,
            "sample_rate": rate, "points": points}
