"""Prompt cache: fixed script lines are synthesised ahead of time, so a call plays them with no synthesis.

Lookup order for a line: a recorded prompt (<recorded_dir>/<line_id>.wav, any WAV format; the
norm for Mandarin calls) -> the synthesised WAV stored under <folder>, keyed by
sha256(text, language, voice, engine, format) -> miss (the caller synthesises; `put` stores).
Changing a line's text, the voice or the engine changes the key, so stale audio is never played.
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from speech.audio import read_audio, to_int16, write_wav
from speech.options import PromptCacheOptions
from speech.tts.base import Speech

FORMAT = "pcm16"


def voice_of(tts, lang: str) -> str:
    voice_for = getattr(tts, "voice_for", None)
    return voice_for(lang) if callable(voice_for) else getattr(tts, "name", "tts")


def prompt_key(text: str, lang: str, voice: str, engine: str, fmt: str = FORMAT) -> str:
    payload = json.dumps([text.strip(), lang, voice, engine, fmt], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass
class BuildReport:
    lines: int = 0
    synthesized: int = 0
    already_cached: int = 0
    recorded: int = 0
    failed: int = 0
    elapsed_s: float = 0.0
    folder: str = ""


class PromptCache:
    def __init__(self, folder: Path, recorded_dir: Path | None = None, memory_items: int = 256) -> None:
        self.folder = Path(folder)
        self.recorded_dir = Path(recorded_dir) if recorded_dir else None
        self._memory: OrderedDict[str, Speech] = OrderedDict()
        self._memory_items = memory_items
        self._lock = threading.Lock()

    @classmethod
    def from_options(cls, options: PromptCacheOptions) -> PromptCache:
        return cls(options.folder, options.recorded_dir)

    # ------------------------------------------------------------------------------------------
    def recorded_path(self, line_id: str | None) -> Path | None:
        if not line_id or self.recorded_dir is None:
            return None
        safe = line_id.replace("/", "_").replace("\\", "_")
        path = self.recorded_dir / f"{safe}.wav"
        return path if path.is_file() else None

    def path_for(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.wav"

    def _remember(self, key: str, speech: Speech) -> Speech:
        with self._lock:
            self._memory[key] = speech
            self._memory.move_to_end(key)
            while len(self._memory) > self._memory_items:
                self._memory.popitem(last=False)
        return speech

    def _load(self, key: str, path: Path) -> Speech:
        with self._lock:
            hit = self._memory.get(key)
            if hit is not None:
                self._memory.move_to_end(key)
                return hit
        audio, rate = read_audio(path)
        return self._remember(key, Speech(pcm=to_int16(audio), sample_rate=rate))

    def lookup(self, line_id: str | None, text: str, lang: str, tts) -> Speech | None:
        """Recorded prompt, else cached synthesis, else None. Never synthesises."""
        recorded = self.recorded_path(line_id)
        if recorded is not None:
            return self._load(f"recorded:{recorded}", recorded)
        key = prompt_key(text, lang, voice_of(tts, lang), tts.name)
        path = self.path_for(key)
        if path.is_file():
            return self._load(key, path)
        return None

    def put(self, text: str, lang: str, tts, speech: Speech) -> Path:
        key = prompt_key(text, lang, voice_of(tts, lang), tts.name)
        path = write_wav(self.path_for(key), speech.pcm, speech.sample_rate)
        self._remember(key, speech)
        return path

    def get(self, line_id: str | None, text: str, lang: str, tts) -> Speech:
        """Lookup, synthesising and storing on a miss."""
        hit = self.lookup(line_id, text, lang, tts)
        if hit is not None:
            return hit
        speech = tts.synthesize(text, lang)
        self.put(text, lang, tts, speech)
        return speech

    def build(self, lines: list[tuple[str, str, str]], tts_for) -> BuildReport:
        """Synthesise every (line_id, text, lang) not yet cached or recorded. tts_for(lang) -> Tts."""
        report = BuildReport(lines=len(lines), folder=str(self.folder))
        t0 = time.perf_counter()
        for line_id, text, lang in lines:
            if self.recorded_path(line_id) is not None:
                report.recorded += 1
                continue
            tts = tts_for(lang)
            if self.path_for(prompt_key(text, lang, voice_of(tts, lang), tts.name)).is_file():
                report.already_cached += 1
                continue
            try:
                self.put(text, lang, tts, tts.synthesize(text, lang))
                report.synthesized += 1
            except Exception:  # one bad line must not stop the build; it is counted and reported
                report.failed += 1
        report.elapsed_s = round(time.perf_counter() - t0, 3)
        return report
