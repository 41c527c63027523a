"""A fresh process that starts as `dialwise worker` does (the database, then the models, before it says
ready), then runs calls' greeting paths one after the other on a line that only listens: how long each call
took from the session's start to its first agent audio, and what the first call built on first use.

Run as `python -m tests.first_call_support DB_DIR` from the repository; prints one JSON object. The prompt
cache is off, so every call synthesises its lines as the first one does: the calls do the same work, and the
first may only differ by what the process had not built yet. The later calls run once nothing is left
building in the background (the domain LM's training thread, which slowed every call while it ran).
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

LANGS = ("zh", "en", "zh", "en", "zh", "en", "zh")  # the first call is Mandarin, as in `bench capacity`


def lazy_state() -> dict[str, bool]:
    """The parts a call builds on first use, built yet?"""
    from dialogs.library import _load_file, flow_files
    from speech.asr import lm
    from speech.vad import _SileroModel

    return {"scripts_parsed": _load_file.cache_info().currsize >= len(flow_files()),
            "silero_session": _SileroModel._session is not None, "pypinyin": "pypinyin" in sys.modules,
            "domain_lm": set(lm.ORDER) <= set(lm._MODELS),
            "domain_lm_thread_running": any(t.name == "domain-lm" and t.is_alive() for t in threading.enumerate())}


class ListeningLine:
    """A transport whose callee says nothing: the session's first audio ends the call."""

    inbound_rate = 8000

    def __init__(self) -> None:
        self.first_audio_s: float | None = None
        self.t0 = time.perf_counter()
        self._heard = asyncio.Event()

    async def receive(self):
        from telephony_adapter.base import Hangup

        await self._heard.wait()
        return Hangup()

    async def send_audio(self, pcm, sample_rate: int) -> None:
        if self.first_audio_s is None:
            self.first_audio_s = time.perf_counter() - self.t0
            self._heard.set()

    async def mark(self, name: str) -> None:
        return None

    async def clear(self) -> None:
        return None

    async def hangup(self, reason: str = "completed") -> None:
        return None

    async def transfer(self, target: str | None = None) -> bool:
        return False


def _call_row(db: str, account_id: str, lang: str) -> str:
    """The call row as the dialling process writes it (`serve` runs sessions on rows it did not create)."""
    from agent.store import session_scope
    from agent.store.models import Call
    from dialogs.library import script_for

    with session_scope(db) as s:
        call = Call(account_id=account_id, script_id=script_for("collections", "M1", lang), language=lang,
                    transport="test", status="created")
        s.add(call)
        s.flush()
        return call.id


def main(folder: str) -> dict:
    os.environ.update(DATABASE_URL=f"sqlite:///{folder}/first_call.sqlite3", VAR_DIR=f"{folder}/var")
    from agent.calls import get_deps, run_call
    from agent.dialing.bench_levels import _seed
    from agent.store import init_db

    db = init_db()
    deps = get_deps()  # as `dialwise worker` does before it says ready
    deps.prompt_cache = None
    ready = lazy_state()
    greetings: list[tuple[str, float]] = []
    imported_by_first: list[str] = []

    async def calls() -> None:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=20))
        for i, lang in enumerate(LANGS):
            (account, _, _), = [a for a in _seed(db, 2, f"{i:02d}") if a[2] == lang]
            call_id = _call_row(db, account, lang)
            line = ListeningLine()
            before = set(sys.modules)
            await run_call(call_id, line, deps=deps, db_url=db)
            if i == 0:
                imported_by_first.extend(sorted(set(sys.modules) - before))
                # the later calls are the reference: a process with nothing left building in the background
                for thread in threading.enumerate():
                    if thread.name == "domain-lm":
                        await asyncio.to_thread(thread.join)
            assert line.first_audio_s is not None
            greetings.append((lang, round(line.first_audio_s * 1000, 1)))

    asyncio.run(calls())
    return {"lazy_built_at_ready": ready, "greetings_ms": greetings, "imported_by_first_call": imported_by_first,
            "load_s": deps.load_seconds, "warm_s": getattr(deps, "warm_seconds", None)}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
