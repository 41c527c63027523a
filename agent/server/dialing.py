"""The server's call models: loaded at start (in a thread) so /health/ready turns true and the first
call's greeting is on time. One-off API calls run on the server's worker (`app.state.worker`)."""
from __future__ import annotations

import asyncio
import logging
import time

log = logging.getLogger("dialwise.server.models")


class ModelReadiness:
    def __init__(self) -> None:
        self._ready = asyncio.Event()
        self.load_error: str | None = None
        self.load_seconds: float | None = None
        self._loader: asyncio.Task[None] | None = None

    @property
    def loading(self) -> bool:
        return self._loader is not None and not self._ready.is_set()

    def start_loading(self) -> None:
        """Load the models in a thread now (idempotent)."""
        if self._loader is None:
            self._loader = asyncio.get_running_loop().create_task(self._load(), name="load-models")

    async def _load(self) -> None:
        from agent.calls import get_deps

        t = time.perf_counter()
        try:
            deps = await asyncio.to_thread(get_deps)
            await asyncio.to_thread(_warm, deps)
        except Exception as exc:  # reported on /health/ready; calls then fail with this reason
            log.exception("loading the call models failed")
            self.load_error = f"{type(exc).__name__}: {exc}"
        self.load_seconds = round(time.perf_counter() - t, 2)
        log.info("call models %s in %.1f s", "failed" if self.load_error else "ready", self.load_seconds)
        self._ready.set()

    @property
    def ready(self) -> bool:
        return self._ready.is_set() and self.load_error is None


def _warm(deps) -> None:
    """One tiny pass through each engine, so the first callee's turn pays no first-use costs."""
    import numpy as np

    silence = np.zeros(16000, dtype=np.float32)
    try:
        deps.asr.transcribe(silence, "en", None)
        for lang, tts in deps.tts_by_lang.items():
            tts.synthesize("您好" if lang == "zh" else "Hello", lang)
        deps.classify("yes", "en", None, None)
    except Exception:  # warming is an optimisation; a real failure shows on the first call
        log.warning("warming the call models failed", exc_info=True)
