"""`dialwise bench turns --record FILE` and `--replay FILE`: the turn set's pauses read once, the verdicts re-run
offline.

Recording is the bench itself (agent/bench_turns.py): every turn streamed through the session's Endpointer and
silero VAD, the real ASR at every silence of 60 ms or more, timed. What the verdict needs of each pause is kept
(the decode: text, Whisper's other beams, mean log-probability, no-speech probability; the voiced ms and the
prosody tail of the audio; the ASR prompt; the measured ASR and NLU times) with every NLU reading made, and
pickled without the audio.

A replay re-judges every pause with the code as it stands (`bench_turns.rejudge_pause`, the live call's
`verdict_of`) and the settings given, and replays the decision (`bench_turns.decide`, `over_agent`) on the
recorded timeline and timings. Readings the NLU has not seen before are classified for real and added to the
file's memo. A rule or threshold change is so measured on dev in seconds; the figures of the live bench differ
only by the ASR's timing of that run (a replay keeps the recording's), so the split to tune on is still dev,
and test is measured once, live.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from agent.bench_turns import Replay, decide, over_agent, rejudge_pause, summarize
from agent.bench_turns_record import TODAY, Memo, load, save
from agent.turn_taking import TurnSettings


def rejudge(reps: list[tuple[Replay, float]], memo: Memo, s: TurnSettings) -> None:
    """Every pause's verdict again, with the code and settings as they are now."""
    for rep, _ in reps:
        ctx = rep.turn.expect if rep.turn.kind in ("complete", "paused") else None
        for p in rep.pauses:
            rejudge_pause(p, rep.turn.lang, ctx, memo, TODAY, s)


def rows_of(reps: list[tuple[Replay, float]], s: TurnSettings) -> list[dict[str, Any]]:
    """The bench's per-turn rows (baseline, complete, complete with the words at once) from the replays."""
    base = s.with_(complete_answers=False, backchannels=False)
    rows: list[dict[str, Any]] = []
    for rep, tts_ms in reps:
        t = rep.turn
        row: dict[str, Any] = {"id": t.id, "template": t.template, "lang": t.lang, "split": t.split, "kind": t.kind,
                               "ref": t.text,
                               "heard": [p.text for p in rep.pauses]}
        if t.kind in ("complete", "paused"):
            row["baseline"], row["complete"] = decide(rep, base, tts_ms), decide(rep, s, tts_ms)
            row["complete_asr_instant"] = decide(rep, s, tts_ms, asr_scale=0.0)
        else:
            row["baseline"], row["complete"] = over_agent(rep, base, True), over_agent(rep, s, False)
        rows.append(row)
    return rows


def half_of(template: str) -> str:
    """"a" or "b": the half of a split a template falls in, by a hash of its id (never by a result). Tune a rule on
    one half of dev and check it on the other: a rule fitted to dev's sentences holds on one half only."""
    return "ab"[int(hashlib.sha1(template.encode()).hexdigest(), 16) % 2]


def replay(path: Path, s: TurnSettings | None = None, details: Path | None = None) -> dict[str, Any]:
    """The bench's summary (per split: all, zh, en) from a recording, under settings `s`."""
    import json

    s = s or TurnSettings()
    reps, memo = load(path)
    rejudge(reps, memo, s)
    rows = rows_of(reps, s)
    if memo.misses:
        save(path, reps, memo)
    if details is not None:
        with open(details, "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows)
    out: dict[str, Any] = {"replayed_from": str(path), "settings": dict(vars(s)), "nlu_new_readings": memo.misses}
    for sp in sorted({r["split"] for r in rows}):
        part = [r for r in rows if r["split"] == sp]
        out[sp] = _by_language(part)
        if sp == "dev":  # the two halves of dev by template (`half_of`), to cross-check what is tuned on dev
            out[sp]["halves"] = {h: _by_language([r for r in part if half_of(r["template"]) == h]) for h in "ab"}
    return out


def _by_language(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The summary of `rows` ("all") and of each language's rows."""
    return {"all": summarize(rows), **{lang: summarize([r for r in rows if r["lang"] == lang])
                                       for lang in sorted({r["lang"] for r in rows})}}
