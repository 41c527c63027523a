"""Process-wide call components, loaded once and shared by every call in the process.

These are model caches and worker pools, never the truth about calls (that lives in the
database), so several runner processes can share one database.
"""
from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from agent.config import Settings, get_settings
from agent.speech_options import asr_options, prompt_cache_options, tts_options
from nlu.types import Understanding
from speech.asr.base import Asr
from speech.tts.base import Speech, Tts
from speech.tts.cache import PromptCache


@dataclass
class CallDeps:
    settings: Settings
    asr: Asr
    classify: Callable[..., Understanding]  # (text, lang, context, today): nlu.classify or a fake
    tts_by_lang: dict[str, Tts]
    prompt_cache: PromptCache | None
    asr_pool: ThreadPoolExecutor
    cpu_pool: ThreadPoolExecutor
    load_seconds: dict[str, float] = field(default_factory=dict)
    warm_seconds: dict[str, float] = field(default_factory=dict)  # agent/warm_up.py, step by step (get_deps)
    asr_in_flight: int = 0  # transcriptions submitted and not finished, all calls of this process
    _in_flight_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _count_asr(self, delta: int) -> None:
        with self._in_flight_lock:
            self.asr_in_flight += delta

    def asr_spare(self) -> bool:
        """A free ASR worker right now: optional work (the turn-taker's early reading) only runs on one, so it
        never queues in front of another call's transcription."""
        return self.asr_in_flight < self.asr_pool._max_workers

    @classmethod
    def load(cls, settings: Settings | None = None) -> CallDeps:
        settings = settings or get_settings()
        timings: dict[str, float] = {}

        t = time.perf_counter()
        from speech.asr import create_asr

        asr = create_asr(options=asr_options(settings))
        timings["asr"] = time.perf_counter() - t

        t = time.perf_counter()
        import nlu

        nlu.load_model()
        timings["nlu"] = time.perf_counter() - t

        t = time.perf_counter()
        from speech.tts import create_tts

        tts = {lang: create_tts(lang, options=tts_options(settings)) for lang in ("zh", "en")}
        timings["tts"] = time.perf_counter() - t

        cache = PromptCache.from_options(prompt_cache_options(settings))
        return cls(
            settings=settings,
            asr=asr,
            classify=nlu.classify,
            tts_by_lang=tts,
            prompt_cache=cache,
            # ASR is the heavy stage: as many parallel transcriptions as cores, each single-threaded
            asr_pool=ThreadPoolExecutor(max_workers=max(1, settings.asr_workers), thread_name_prefix="asr"),
            cpu_pool=ThreadPoolExecutor(max_workers=4, thread_name_prefix="cpu"),
            load_seconds=timings,
        )

    async def transcribe(self, audio: np.ndarray, language: str | None, prompt: str | None):
        """(transcript, compute ms): the time the engine itself took, queueing excluded."""
        def timed():
            t = time.perf_counter()
            try:
                out = self.asr.transcribe(audio, language, prompt)
            finally:
                self._count_asr(-1)  # when the thread is done, even if the awaiting call was dropped
            return out, (time.perf_counter() - t) * 1000

        self._count_asr(1)
        try:
            fut = asyncio.get_running_loop().run_in_executor(self.asr_pool, timed)
        except BaseException:
            self._count_asr(-1)
            raise
        return await fut

    async def understand(self, text: str, lang: str, context: str | None, today):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.cpu_pool, partial(self.classify, text, lang, context, today))

    async def synthesize(self, text: str, lang: str, line_id: str | None) -> Speech:
        """A fixed line comes from the prompt cache (recorded prompt or pre-synthesised); else TTS now."""
        loop = asyncio.get_running_loop()
        tts = self.tts_by_lang[lang]
        if line_id is not None and self.prompt_cache is not None:  # a miss is synthesised once and kept
            return await loop.run_in_executor(self.cpu_pool, partial(self.prompt_cache.get, line_id, text, lang, tts))
        return await loop.run_in_executor(self.cpu_pool, partial(tts.synthesize, text, lang))

    def close(self) -> None:
        self.asr_pool.shutdown(wait=False, cancel_futures=True)
        self.cpu_pool.shutdown(wait=False, cancel_futures=True)
