"""Where a complete answer's voice-to-voice time goes, stage by stage (`dialwise bench turns`' "stages").

For every complete answer of the turn set, the audio the Endpointer hands over at the pause is read by the
real components, each timed on its own, one after the other (the live call runs the same stages in the same
order; the network is measured separately by `bench turns --network twilio`). The readings are the bench's
own (agent/bench_turns.py `read_pauses`); this module adds the dialog and the reply's first audio:

- pause wait: the silence before the speculative reading starts (`pause_ms`);
- ASR: denoise, log-mel features, Whisper encode (the 'cut' context), decode (beam search / greedy),
  the LM re-rank of the n-best, post-processing (guards, VAD second opinion, normalisation);
- NLU: intent/slots with the node's expectation, the completeness verdict and the prosody of the end;
- dialog: the policy's step at the node that asked (a real script, a real account);
- TTS to the first audio chunk of the reply: a fixed line from the prompt cache, a line with values
  (an amount, a date) synthesised clause by clause; the first clause is what the callee waits for.
"""
from __future__ import annotations

import time
from datetime import date
from typing import Any

# the collections script's node that asks each kind of question (scripts_library/collections/_common.yaml)
NODE_OF = {"identity": "opening", "yes_no": "readback_full", "id_last4": "ask_last4", "payment": "ask_full",
           "date": "ask_date", "offer": "pitch"}
ASR_STAGES = ("denoise", "features", "encode", "decode", "rerank", "finish", "probe")


def _account(lang: str):
    from dialogs.types import Account

    return Account(name="李明" if lang == "zh" else "Alex Morgan", language=lang, balance=1200.0,
                   currency="CNY" if lang == "zh" else "USD", due_date=date(2026, 11, 1), days_past_due=22,
                   id_last4="4821", lender="明信金融" if lang == "zh" else "Bright Credit")


class DialogBench:
    """A real Policy put at the node that asked, stepped with the understanding; the reply's first chunk
    fetched (fixed line) or synthesised (a line with values) as the Speaker would."""

    def __init__(self, langs: tuple[str, ...], today: date, tts: dict[str, Any], cache: Any) -> None:
        from dialogs.library import load_script, script_for

        self.today, self.tts, self.cache = today, tts, cache
        self.scripts = {lang: load_script(script_for("collections", "M1", lang)) for lang in langs}
        self.offer = {lang: load_script(script_for("telesales", "reactivation", lang)) for lang in langs}

    def step(self, expect: str, lang: str, understanding: Any) -> tuple[Any, float]:
        from dialogs.policy import Policy
        from dialogs.types import Heard

        script = self.offer[lang] if expect == "offer" else self.scripts[lang]
        policy = Policy(script, _account(lang), self.today)
        policy.start()
        state = policy.state()
        state.update(node=NODE_OF.get(expect, script.start), verified=expect not in ("identity", "id_last4"))
        policy = Policy.from_state(script, _account(lang), self.today, state)
        t = time.perf_counter()
        decision = policy.step(Heard(understanding))
        return decision, (time.perf_counter() - t) * 1000

    def first_chunk(self, decision: Any, lang: str) -> tuple[float, bool | None]:
        """(ms to the first chunk's audio, whether it was a fixed line); (0, None) for a silent decision."""
        from agent.call_speaker import chunks_of
        from speech.tts.text import split_clauses

        chunks = chunks_of(decision.lines, split_clauses)
        if not chunks:
            return 0.0, None
        text, line_id = chunks[0]
        tts = self.tts[lang]
        t = time.perf_counter()
        if line_id is not None and self.cache is not None:
            self.cache.get(line_id, text, lang, tts)
        else:
            tts.synthesize(text, lang)
        return (time.perf_counter() - t) * 1000, line_id is not None


def stage_row(rep: Any, dialog: DialogBench) -> dict[str, Any] | None:
    """The stages of a complete answer's final reading, already timed by bench_turns.read_pauses (ASR per stage,
    NLU + verdict + prosody), plus the dialog's step and the reply's first chunk, timed here; None if the
    stream never paused for good."""
    final = [p for p in rep.pauses if p.resumed_ms is None]
    if not final:
        return None
    p = final[-1]
    u = p.understanding
    if u is None:  # nothing heard: the dialog would re-prompt; the step is still timed on an empty reading
        from nlu.types import Understanding

        u = Understanding(intent="other", confidence=0.0, lang=rep.turn.lang)
    decision, dialog_ms = dialog.step(rep.turn.expect, rep.turn.lang, u)
    tts_ms, fixed = dialog.first_chunk(decision, rep.turn.lang)
    return {"audio_s": p.audio_s, "asr": p.asr_ms, **{f"asr_{k}": v for k, v in p.stages.items()},
            "nlu": p.nlu_ms, "dialog": dialog_ms, "tts_first_chunk": tts_ms, "fixed_line": fixed,
            "total_after_pause": p.asr_ms + p.nlu_ms + dialog_ms + tts_ms}


def summarize_stages(rows: list[dict[str, Any]], pause_ms: int) -> dict[str, Any]:
    from agent.call_figures import percentile

    def pct(xs: list[float]) -> dict[str, Any]:
        return {"p50": _r(percentile(xs, 0.5)), "p95": _r(percentile(xs, 0.95)), "n": len(xs)}

    keys = ["audio_s", "asr", *(f"asr_{k}" for k in ASR_STAGES), "nlu", "dialog", "tts_first_chunk",
            "total_after_pause"]
    out: dict[str, Any] = {"pause_wait_ms": pause_ms}
    for k in keys:
        xs = [r[k] for r in rows if k in r]
        if xs:
            out[k if k == "audio_s" else f"{k}_ms"] = pct(xs)
    out["tts_first_chunk_fixed_line_ms"] = pct([r["tts_first_chunk"] for r in rows if r["fixed_line"] is True])
    out["tts_first_chunk_synthesised_ms"] = pct([r["tts_first_chunk"] for r in rows if r["fixed_line"] is False])
    return out


def takes_stages(asr: Any) -> bool:
    import inspect

    return "stages" in inspect.signature(asr.transcribe).parameters


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 1)
