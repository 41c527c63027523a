"""`dialwise bench turns`: the complete-answer endpointer against today's fixed silence, in one run.

Every turn of the turn set (agent/turnset.py, phone channel) is streamed in 20 ms frames through the
session's own Endpointer (silero VAD). At each pause the real ASR (the configured engine, `faster` by
default) transcribes the audio so far, the real NLU reads it with the node's expectation, and the
turn-taker of the live calls (agent/turn_taking.py) decides. Both modes see the same audio, the same
transcripts and the same measured ASR/NLU times, so their difference is the decision alone:

- baseline: the turn is taken after the node's fixed silence (`eos_silence_ms`, today);
- complete: the turn-taker (min/max waits per node, verdict, prosody).

Voice-to-voice for a turn = the silence after the callee's last voiced frame at which the agent commits,
or later if the transcript is not ready (pause + ASR + NLU), plus the time to the first agent audio (a
cached prompt fetched for real). That is the figure CallSession reports as `voice_to_voice_ms`: from the
arrival of the last voiced frame to the first agent audio handed to the line; the line itself (Twilio's
websocket, the carrier) is not in it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agent.bench_stages import NODE_OF
from agent.turn_taking import V2V_TARGETS_MS, NodeWaits, TurnSettings, is_backchannel_turn, wait_ms
from agent.turnset import Turn, plan, record

FRAME = 320
STREAM_PAUSE_MS = 60  # the replay's Endpointer reports every silence this long; each mode keeps what it would read


@dataclass
class Pause:
    end_ms: int  # end of voice
    detected_ms: int  # stream time the pause event fired
    resumed_ms: int | None  # stream time speech came back (None: it did not)
    text: str = ""
    transcript: Any = None  # speech.asr.base.Transcript (its other beams and confidence)
    asr_ms: float = 0.0
    nlu_ms: float = 0.0
    understanding: Any = None
    verdict: Any = None
    tail: Any = None
    audio_s: float = 0.0
    voiced_ms: int | None = None  # speech.prosody.voiced_ms of the audio read (kept for the offline replay)
    prompt: str | None = None  # the ASR prompt the reading was made with (its echo is dropped)
    stages: dict[str, float] = field(default_factory=dict)  # ASR ms per stage (agent/bench_stages.py)


@dataclass
class Replay:
    turn: Turn
    pauses: list[Pause] = field(default_factory=list)
    onset_ms: int | None = None
    started_emitted_ms: int | None = None


def node_waits(expect: str | None, s: TurnSettings) -> NodeWaits:
    from dialogs.library import load_script, script_for

    script = load_script(script_for("collections", "M1", "en"))
    node = script.nodes.get(NODE_OF.get(expect or "", ""), None)
    if expect == "offer":
        node = load_script(script_for("telesales", "reactivation", "en")).nodes.get("pitch")
    return NodeWaits.of(node, s, 400)


def stream(turn: Turn, pause_ms: int) -> Replay:
    """Run the session's Endpointer over the turn; keep the pause/resume timeline and the audio at pauses."""
    from speech.endpoint import Endpointer
    from speech.vad import create_vad

    ep = Endpointer(create_vad(), eos_silence_ms=10_000, pause_ms=pause_ms)
    rep = Replay(turn)
    audio = turn.audio
    assert audio is not None
    open_pause: tuple[Pause, np.ndarray] | None = None
    pending: list[tuple[Pause, np.ndarray]] = []
    for i in range(0, len(audio) - FRAME + 1, FRAME):
        for ev in ep.feed(audio[i:i + FRAME]):
            kind = type(ev).__name__
            if kind == "SpeechStarted" and rep.onset_ms is None:
                rep.onset_ms, rep.started_emitted_ms = ev.at_ms, ep.now_ms
            elif kind == "SpeechPaused":
                open_pause = (Pause(ev.end_ms, ep.now_ms, None), ev.audio)
                pending.append(open_pause)
            elif kind == "SpeechResumed" and open_pause is not None:
                open_pause[0].resumed_ms = ev.at_ms
                open_pause = None
    rep.pauses = [p for p, _ in pending]
    rep._audio = [a for _, a in pending]  # type: ignore[attr-defined]
    return rep


def read_pauses(rep: Replay, asr, classify, prompt: str | None, today, s: TurnSettings | None = None) -> None:
    from agent.bench_stages import takes_stages
    staged = takes_stages(asr)
    for p, audio in zip(rep.pauses, rep._audio, strict=True):  # type: ignore[attr-defined]
        p.audio_s = len(audio) / 16000
        t = time.perf_counter()
        if staged:
            p.transcript = asr.transcribe(audio, rep.turn.lang, prompt, stages=p.stages)
        else:
            p.transcript = asr.transcribe(audio, rep.turn.lang, prompt)
        p.text = p.transcript.text.strip()
        p.asr_ms = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        ctx = rep.turn.expect if rep.turn.kind in ("complete", "paused") else None
        judge_pause(p, audio, rep.turn.lang, ctx, classify, prompt, today, s)
        p.nlu_ms = (time.perf_counter() - t) * 1000


def judge_pause(p: Pause, audio: np.ndarray, lang: str, ctx: str | None, classify, prompt: str | None,
                today, s: TurnSettings | None = None) -> None:
    """NLU and verdict of a pause's reading, as the live Listener makes them (prompt echoes dropped, the other
    beams and the ASR's confidence from the same decode)."""
    from speech.prosody import tail, voiced_ms

    p.prompt = prompt
    p.voiced_ms = voiced_ms(audio)
    p.tail = tail(audio[-16000:])
    rejudge_pause(p, lang, ctx, classify, today, s)


def rejudge_pause(p: Pause, lang: str, ctx: str | None, classify, today, s: TurnSettings | None = None) -> None:
    """The verdict (and understanding) of a pause from what was kept of it (its decode, voiced ms, tail, ASR
    prompt): what `judge_pause` does after the audio, and what the offline replay re-runs under new rules."""
    from agent.turn_taking import confidence_of, readings_of, verdict_of

    if ctx:
        readings = readings_of(p.transcript) if p.transcript is not None else [p.text]
        p.verdict, p.understanding = verdict_of(readings, lang, ctx, classify, p.prompt, today, p.voiced_ms,
                                                confidence_of(p.transcript), s)
    else:
        p.understanding = classify(p.text, lang, ctx, today) if p.text else None


def decide(rep: Replay, s: TurnSettings, tts_ms: float, asr_scale: float = 1.0) -> dict[str, Any]:
    """Replay one answer turn under settings `s`: when the agent commits, cut-ins, voice-to-voice.

    The stream reported every silence of `STREAM_PAUSE_MS` or more; a mode sees the ones it would act on, as
    the live Listener does: the reading starts at `early_asr_ms` of silence if the call's ASR worker is free
    then, else at `pause_ms` once the worker is free. A reading dropped because speech came back keeps the
    worker busy for its measured decode time (the thread runs on). `s`'s per-language values apply.
    `asr_scale` scales the measured decode times (0: words ready at once, the cut-ins a load cannot hide)."""
    s = s.for_lang(rep.turn.lang)
    waits = node_waits(rep.turn.expect, s)
    early = s.early_asr_ms if s.complete_answers and 0 < s.early_asr_ms < s.pause_ms else 0
    free_at = float("-inf")  # stream ms at which this call's ASR worker is free
    cut_ins, decodes = 0, 0
    for p in rep.pauses:
        silence_left = None if p.resumed_ms is None else p.resumed_ms - p.end_ms
        if early and (silence_left is None or silence_left >= early) and free_at <= p.end_ms + early:
            start: float = p.end_ms + early
        elif silence_left is None or silence_left >= s.pause_ms:
            start = max(p.end_ms + s.pause_ms, free_at)
        else:
            continue  # too short a silence for this mode to read
        decodes += 1
        asr_ms = p.asr_ms * asr_scale
        free_at = start + asr_ms
        ready = (start - p.end_ms) + asr_ms + p.nlu_ms  # silence when the words are read
        w, why = wait_ms(p.verdict, p.tail, rep.turn.lang, waits, s)
        if not s.complete_answers or ready <= w:
            commit = float(w)  # the fixed silence ends the utterance whether or not the words are read
        else:
            commit = min(ready, waits.max_ms)  # the turn-taker holds until the verdict, at most max_ms
        reply = max(commit, ready)
        if silence_left is not None and silence_left <= commit:
            continue  # the callee went on before the agent took the turn
        if silence_left is not None:  # the agent answered, and the callee went on
            if silence_left - commit <= s.cut_in_window_ms:
                cut_ins += 1
            continue
        return {"v2v_ms": round(reply + tts_ms, 1), "commit_ms": commit, "read_from_ms": start - p.end_ms,
                "cut_ins": cut_ins, "decodes": decodes, "reason": why, "text": p.text,
                "verdict": p.verdict.state if p.verdict else None}
    return {"v2v_ms": None, "commit_ms": None, "cut_ins": cut_ins, "decodes": decodes, "reason": "no endpoint",
            "text": "", "verdict": None}


def over_agent(rep: Replay, s: TurnSettings, baseline: bool) -> dict[str, Any]:
    """Speech over the agent: is it taken as a barge-in, how fast is the agent stopped. As the live Listener does
    (agent/call_listener.py): the agent holds at the onset; the reading starts at `pause_ms` of silence (never
    early) and is dropped if speech comes back before it is judged; a backchannel verdict ends the utterance and
    the agent resumes, and speech after that is a new onset over it, judged on its own (approximated by the
    reading at its next pause, whose words start at the first onset). `resumed_first`: times the agent resumed
    before the interruption was taken (session 14: piper's comma pause after "Wait," is ~230 ms)."""
    s = s.for_lang(rep.turn.lang)
    if rep.onset_ms is None:
        return {"barge_in": False, "clear_ms": None}
    clear_ms = rep.started_emitted_ms - rep.onset_ms + FRAME / 16  # the frame it was detected in
    if baseline or not s.backchannels:
        return {"barge_in": True, "clear_ms": clear_ms}
    onset, resumed = rep.onset_ms, 0
    for p in rep.pauses:
        silence_left = None if p.resumed_ms is None else p.resumed_ms - p.end_ms
        judged_at = s.pause_ms + p.asr_ms + p.nlu_ms  # silence when the verdict lands
        if silence_left is not None and silence_left < judged_at:
            continue  # speech came back first: the reading is dropped and the utterance goes on
        if not is_backchannel_turn(p.text, rep.turn.lang, p.end_ms - onset, s, p.understanding):
            return {"barge_in": True, "clear_ms": clear_ms, "resumed_first": resumed, "text": p.text}
        if silence_left is None:
            return {"barge_in": False, "clear_ms": clear_ms, "resume_after_ms": judged_at, "text": p.text}
        resumed, onset = resumed + 1, p.resumed_ms
    # no verdict at all (the reading never landed) or speech left over: the agent stays held, then yields
    return {"barge_in": True, "clear_ms": clear_ms, "resumed_first": resumed}


EARLY_SWEEP_MS = (0, 60, 80, 100, 120, 150)
MIN_WAIT_SWEEP_MS = (200, 250, 300, 350, 400)
EARLY_ALT_MS = 100  # the early reading also reported on every split (it is off by default: see TurnSettings)


def sweep(reps: list[tuple[Replay, float]], s: TurnSettings, field_: str = "early_asr_ms",
          values: tuple[int, ...] = EARLY_SWEEP_MS) -> dict[str, Any]:
    """The complete-answer endpointer at each value of one setting (default: the early-reading threshold, 0: at
    `pause_ms`), on the same replays."""
    out: dict[str, Any] = {}
    for value in values:
        rows = [(rep.turn.kind, decide(rep, s.with_(**{field_: value}), tts)) for rep, tts in reps]
        comp = [d["v2v_ms"] for k, d in rows if k == "complete" and d["v2v_ms"] is not None]
        paused = [d for k, d in rows if k == "paused"]
        out[str(value)] = {"v2v_complete_ms": {"p50": _pct(comp, 0.5), "p95": _pct(comp, 0.95)},
                           "cut_in_rate_paused": round(sum(1 for d in paused if d["cut_ins"]) / len(paused), 4)
                           if paused else None,
                           "asr_decodes_per_answer_turn": round(sum(d["decodes"] for _, d in rows) / len(rows), 2)
                           if rows else None}
    return out


def _pct(xs: list[float], q: float) -> float | None:
    from agent.call_figures import percentile

    return percentile(xs, q)


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode in ("baseline", "complete"):
        comp = [r[mode]["v2v_ms"] for r in rows if r["kind"] == "complete" and r[mode].get("v2v_ms") is not None]
        paused = [r for r in rows if r["kind"] == "paused"]
        answer = [r for r in rows if r["kind"] in ("complete", "paused")]
        bcs = [r for r in rows if r["kind"] == "backchannel"]
        ints = [r for r in rows if r["kind"] == "interruption"]
        clears = [r[mode]["clear_ms"] for r in ints if r[mode].get("clear_ms") is not None]
        decodes = [r[mode]["decodes"] for r in answer]
        out[mode] = {
            "v2v_complete_ms": {"p50": _pct(comp, 0.5), "p95": _pct(comp, 0.95), "n": len(comp)},
            "asr_decodes_per_answer_turn": round(sum(decodes) / len(decodes), 2) if decodes else None,
            "cut_in_rate_paused": round(sum(1 for r in paused if r[mode]["cut_ins"]) / len(paused), 4)
            if paused else None,
            "cut_in_rate_all_answers": round(sum(1 for r in answer if r[mode]["cut_ins"]) / len(answer), 4)
            if answer else None,
            "backchannel_barge_in_rate": round(sum(1 for r in bcs if r[mode]["barge_in"]) / len(bcs), 4)
            if bcs else None,
            "interruptions_missed": sum(1 for r in ints if not r[mode]["barge_in"]),
            # taken, but only after the agent had resumed over a first part judged a backchannel
            "interruptions_after_a_resume": sum(1 for r in ints
                                                if r[mode]["barge_in"] and r[mode].get("resumed_first")),
            "interruption_clear_ms": {"p50": _pct(clears, 0.5), "p95": _pct(clears, 0.95), "n": len(clears)},
        }
        if mode == "complete" and paused and "complete_asr_instant" in paused[0]:
            # a slow (loaded) ASR hides cut-ins: the words of a first part come after the callee went on. With
            # the words ready at once, every wrong "complete" verdict on a first part cuts in (an upper bound)
            out[mode]["cut_in_rate_paused_asr_instant"] = round(
                sum(1 for r in paused if r["complete_asr_instant"]["cut_ins"]) / len(paused), 4)
        if mode == "complete":
            # complete answers taken at the sure wait (agent.turn_taking.sure_reading)
            done = [r[mode] for r in rows if r["kind"] == "complete" and r[mode].get("v2v_ms") is not None]
            sure = sum(1 for m in done if str(m.get("reason", "")).endswith("; sure"))
            out[mode]["sure_share_complete"] = round(sure / len(done), 3) if done else None
            gaps = [r[mode]["resume_after_ms"] for r in bcs if r[mode].get("resume_after_ms") is not None]
            out[mode]["backchannel_resume_after_ms"] = {"p50": _pct(gaps, 0.5), "n": len(gaps)}
    b, c = out["baseline"]["v2v_complete_ms"], out["complete"]["v2v_complete_ms"]
    if b["p50"] and c["p50"]:
        out["v2v_p50_ratio_to_baseline"] = round(c["p50"] / b["p50"], 3)
    return out


def run(splits: tuple[str, ...] = ("dev", "test"), langs: tuple[str, ...] = ("zh", "en"),
        settings: TurnSettings | None = None, cache: Path | None = None, details: Path | None = None,
        limit: int | None = None, record_to: Path | None = None, voices: str = "espeak",
        snr_db: float | None = None) -> dict[str, Any]:
    """The bench. `record_to`: also keep every turn's pauses (decodes, timings, NLU readings) there for
    `--replay` (agent/bench_turns_replay.py)."""
    import json
    from datetime import date

    import nlu
    from agent.bench_stages import DialogBench, stage_row, summarize_stages
    from agent.config import get_settings
    from agent.speech_options import asr_options, asr_prompt_for, prompt_cache_options, tts_options
    from speech.asr import create_asr
    from speech.asr.prompts import domain_prompt
    from speech.tts import create_tts
    from speech.tts.cache import PromptCache

    s = settings or TurnSettings()
    base = s.with_(complete_answers=False, backchannels=False)
    t_start = time.perf_counter()
    cfg = get_settings()
    turns = plan(langs, splits, voices)
    if limit:
        turns = turns[::max(1, len(turns) // limit)]
    from agent.turnset import PHONE_SNR_DB

    snr_db = PHONE_SNR_DB if snr_db is None else snr_db
    record(turns, cache or (cfg.cache_dir / "turnset"), snr_db=snr_db)
    asr = create_asr(options=asr_options(cfg))
    nlu.load_model()
    today = date(2026, 11, 23)
    cache_p = PromptCache.from_options(prompt_cache_options(cfg))
    tts = {lang: create_tts(lang, options=tts_options(cfg)) for lang in langs}
    line = {"zh": "谢谢您的确认。", "en": "Thank you for confirming."}
    for lang in langs:  # warm-up, not timed
        asr.transcribe(turns[0].audio[:16000], lang)
        cache_p.get(f"bench_turns_{lang}", line[lang], lang, tts[lang])
    prompts = {lang: domain_prompt(lang, lender="明信金融" if lang == "zh" else "Bright Credit") for lang in langs}
    dialog = DialogBench(langs, today, tts, cache_p)
    from agent.bench_turns_record import Memo

    memo = Memo()

    def classify(text: str, lang: str, context: str | None = None, today_: Any = None) -> Any:
        memo.seen[(text, lang, context)] = u = nlu.classify(text, lang, context, today_)  # always for real (timed)
        return u

    kept: list[tuple[Replay, float]] = []
    rows: list[dict[str, Any]] = []
    reps: list[tuple[Replay, float]] = []
    stage_rows: dict[str, list[dict[str, Any]]] = {sp: [] for sp in splits}
    for turn in turns:
        rep = stream(turn, min(STREAM_PAUSE_MS, s.pause_ms))
        read_pauses(rep, asr, classify, asr_prompt_for(turn.lang, turn.expect, prompts[turn.lang]), today, s)
        del rep._audio  # type: ignore[attr-defined]  # read: what the verdict needs is on each Pause
        t = time.perf_counter()
        cache_p.get(f"bench_turns_{turn.lang}", line[turn.lang], turn.lang, tts[turn.lang])
        tts_ms = (time.perf_counter() - t) * 1000
        row = {"id": turn.id, "lang": turn.lang, "split": turn.split, "kind": turn.kind, "ref": turn.text,
               "heard": [p.text for p in rep.pauses]}
        if turn.kind in ("complete", "paused"):
            reps.append((rep, tts_ms))
            row["baseline"], row["complete"] = decide(rep, base, tts_ms), decide(rep, s, tts_ms)
            row["complete_early"] = decide(rep, s.with_(early_asr_ms=s.early_asr_ms or EARLY_ALT_MS), tts_ms)
            row["complete_asr_instant"] = decide(rep, s, tts_ms, asr_scale=0.0)
            if turn.kind == "complete" and (st := stage_row(rep, dialog)) is not None:
                stage_rows[turn.split].append(st)
        else:
            row["baseline"], row["complete"] = over_agent(rep, base, True), over_agent(rep, s, False)
        rows.append(row)
        kept.append((rep, tts_ms))
    if record_to is not None:
        from agent.bench_turns_record import save

        save(record_to, kept, memo)
    if details is not None:
        with open(details, "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows)
    out: dict[str, Any] = {
        "measured": f"session Endpointer + silero VAD over phone-channel audio (8 kHz mu-law, {snr_db:g} dB SNR) "
                    "in 20 ms frames; real ASR and NLU timed per pause; v2v = commit silence or words-ready, "
                    "whichever is later, + cached first agent audio; transport not included",
        "voices": voices,
        "line_snr_db": snr_db,
        "asr_engine": cfg.asr_engine,
        "asr_options": {k: getattr(asr_options(cfg), k) for k in (
            "beam_size_zh", "beam_size_en", "pad_s", "tail_s", "encoder_compute_type", "encoder_compute_type_zh",
            "decoder_compute_type", "threads", "workers")},
        "settings": {k: v for k, v in vars(s).items()},
        "set": {sp: {lang: {k: sum(1 for t in turns if t.split == sp and t.lang == lang and t.kind == k)
                            for k in ("complete", "paused", "backchannel", "interruption")} for lang in langs}
                for sp in splits},
    }
    for sp in splits:
        part = [r for r in rows if r["split"] == sp]
        out[sp] = {"all": summarize(part), **{lang: summarize([r for r in part if r["lang"] == lang])
                                              for lang in langs}}
        answers = [r for r in part if r["kind"] in ("complete", "paused")]
        comp = [r["complete_early"]["v2v_ms"] for r in answers if r["kind"] == "complete"
                and r["complete_early"]["v2v_ms"] is not None]
        paused = [r for r in answers if r["kind"] == "paused"]
        out[sp]["all"]["complete_early_reading"] = {  # the turn-taker reading at early_asr_ms (or EARLY_ALT_MS)
            "early_asr_ms": s.early_asr_ms or EARLY_ALT_MS,
            "v2v_complete_ms": {"p50": _pct(comp, 0.5), "p95": _pct(comp, 0.95), "n": len(comp)},
            "cut_in_rate_paused": round(sum(1 for r in paused if r["complete_early"]["cut_ins"]) / len(paused), 4)
            if paused else None,
            "asr_decodes_per_answer_turn": round(sum(r["complete_early"]["decodes"] for r in answers) / len(answers), 2)
            if answers else None}
        # where a complete answer's time goes after the pause (ASR per stage, NLU, dialog, first audio)
        out[sp]["all"]["stages_complete"] = summarize_stages(stage_rows[sp], s.pause_ms)
    if "dev" in splits:  # the early reading's threshold is chosen here, on dev only
        dev = [(rep, t) for rep, t in reps if rep.turn.split == "dev"]
        out["dev"]["early_asr_sweep"] = sweep(dev, s)
        out["dev"]["min_wait_sweep"] = sweep(dev, s, "min_wait_ms", MIN_WAIT_SWEEP_MS)
    out["targets"] = {"v2v_p50_ms": V2V_TARGETS_MS["p50"], "v2v_p95_ms": V2V_TARGETS_MS["p95"],
                      "cut_in_rate_paused": 0.03, "backchannel_barge_in_rate": 0.02, "interruption_clear_ms": 150}
    out["wall_s"] = round(time.perf_counter() - t_start, 1)
    return out
