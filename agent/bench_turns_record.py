"""What `dialwise bench turns --record FILE` keeps: every turn's pauses as the bench read them (the decode, voiced
ms, prosody tail, ASR prompt, measured ASR and NLU times; agent/bench_turns.Pause), without the audio, and every
NLU reading made. agent/bench_turns_replay.py replays them."""
from __future__ import annotations

import pickle
from datetime import date
from pathlib import Path
from typing import Any

TODAY = date(2026, 11, 23)  # the bench's date (agent/bench_turns.run)


class Memo:
    """nlu.classify with every reading it made kept (text, lang, node expectation)."""

    def __init__(self, seen: dict[tuple[str, str, str | None], Any] | None = None) -> None:
        self.seen = dict(seen or {})
        self.misses = 0

    def __call__(self, text: str, lang: str = "en", context: str | None = None, today: Any = None) -> Any:
        key = (text, lang, context)
        if key not in self.seen:
            import nlu

            self.misses += 1
            self.seen[key] = nlu.classify(text, lang, context, today or TODAY)
        return self.seen[key]


def save(path: Path, reps: list[tuple[Any, float]], memo: Memo) -> None:
    """Pickle the replays (audio dropped) and the NLU readings."""
    for rep, _ in reps:
        rep.turn.audio = None
        if hasattr(rep, "_audio"):
            del rep._audio
    with open(path, "wb") as fh:
        pickle.dump({"version": 1, "reps": reps, "nlu": memo.seen}, fh)


def load(path: Path) -> tuple[list[tuple[Any, float]], Memo]:
    with open(path, "rb") as fh:
        data = pickle.load(fh)  # noqa: S301 - a file this bench wrote
    return data["reps"], Memo(data["nlu"])
