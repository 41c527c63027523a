"""The intent head: a small MLP trained with torch, saved as a versioned .npz, run with numpy.

Inference does not import torch, so the model loads in well under a second in the call process.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nlu.features import softmax

MODEL_DIR = Path(__file__).with_name("model")
FORMAT_VERSION = 1
DEFAULT_MODEL = MODEL_DIR / f"intent_v{FORMAT_VERSION}.npz"


@dataclass
class IntentModel:
    intents: list[str]
    w1: np.ndarray  # (in, hidden)
    b1: np.ndarray
    w2: np.ndarray  # (hidden, n_intents)
    b2: np.ndarray
    temperature: float = 1.0
    oos_threshold: float = 0.35
    meta: dict[str, Any] = field(default_factory=dict)

    def logits(self, x: np.ndarray) -> np.ndarray:
        for start, end in self.meta.get("zero_blocks", []):  # feature blocks this model was trained without
            x[:, start:end] = 0.0
        h = x @ self.w1 + self.b1
        np.maximum(h, 0.0, out=h)
        return h @ self.w2 + self.b2

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return softmax(self.logits(x) / self.temperature)

    def save(self, path: Path = DEFAULT_MODEL) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = dict(self.meta, format_version=FORMAT_VERSION, intents=self.intents,
                    temperature=self.temperature, oos_threshold=self.oos_threshold)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, w1=self.w1.astype(np.float16), b1=self.b1, w2=self.w2, b2=self.b2,
                            meta=np.array(json.dumps(meta, ensure_ascii=False)))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: Path | str | None = None) -> IntentModel:
        p = Path(path) if path else DEFAULT_MODEL
        if not p.exists():
            raise FileNotFoundError(f"no NLU model at {p}; run `dialwise nlu train`")
        with np.load(p, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta.get("format_version") != FORMAT_VERSION:
                raise ValueError(f"{p}: model format {meta.get('format_version')} != {FORMAT_VERSION}; retrain")
            return cls(intents=list(meta["intents"]), w1=z["w1"].astype(np.float32), b1=z["b1"],
                       w2=z["w2"], b2=z["b2"], temperature=float(meta["temperature"]),
                       oos_threshold=float(meta["oos_threshold"]), meta=meta)
