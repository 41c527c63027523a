"""Speech commands: `asr transcribe`, `models convert`, `prompts build`, `bench asr`, `bench tts`.

Heavy imports (Whisper, torch, voices) happen inside the commands so `dialwise --help` stays fast.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from agent.config import get_settings
from agent.errors import UserError
from agent.speech_options import asr_options, prompt_cache_options, tts_options

LANGS = ("zh", "en")


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    asr_app = typer.Typer(help="Speech recognition (Whisper).", no_args_is_help=True)
    asr_app.command("transcribe", help="Transcribe WAV files (PCM or G.711, any rate).")(transcribe)
    app.add_typer(asr_app, name="asr")
    models_app = typer.Typer(help="Speech model weights.", no_args_is_help=True)
    models_app.command("convert", help="Write the openai-whisper .pt checkpoint from the CTranslate2 weights.")(convert)
    models_app.command("where", help="Show which Whisper weights are used and where they come from.")(where)
    app.add_typer(models_app, name="models")
    prompts_app = typer.Typer(help="The prompt cache (pre-synthesised and recorded script lines).",
                              no_args_is_help=True)
    prompts_app.command("build", help="Synthesise every fixed line of every script into the prompt cache.")(build)
    app.add_typer(prompts_app, name="prompts")
    bench_app.command("asr", help="WER/CER and speed of the ASR engines over a telephone channel, dev and test "
                                  "reported apart (JSON).")(bench_asr)
    bench_app.command("asr-tune", help="Tune the re-ranking LM per language on the dev split (JSON).")(bench_asr_tune)
    bench_app.command("tts", help="TTS time to first audio: cached, templated and uncached lines (JSON).")(bench_tts)


def _emit(obj: dict) -> None:
    print(json.dumps(obj, ensure_ascii=False), flush=True)


def transcribe(
    files: list[Path] = typer.Argument(..., help="WAV files"),
    engine: str = typer.Option(None, "--engine", help="faster | faster-full | openai (default: ASR_ENGINE)"),
    language: str = typer.Option(None, "--language", help="zh | en (default: detect)"),
    prompt: str = typer.Option(None, "--prompt", help="domain prompt (names, amounts, lender)"),
    as_json: bool = typer.Option(False, "--json", help="one JSON line per file"),
) -> None:
    from speech.asr import create_asr
    from speech.audio import AudioError, read_audio

    if language is not None and language not in LANGS:
        raise UserError(f"--language must be zh or en, not {language!r}")
    # validate every file before loading the model, so a typo fails fast
    clips = []
    failures = 0
    for path in files:
        try:
            audio, _ = read_audio(path, 16000)
            clips.append((path, audio))
        except AudioError as exc:
            failures += 1
            clips.append((path, exc))
    asr = create_asr(engine, options=asr_options()) if any(not isinstance(c, AudioError) for _, c in clips) else None
    for path, item in clips:
        if isinstance(item, AudioError):  # stdout keeps only well-formed results; the error goes to stderr
            typer.secho(f"error: {item}", fg="red", err=True)
            continue
        t0 = time.perf_counter()
        result = asr.transcribe(item, language=language, prompt=prompt)
        elapsed = time.perf_counter() - t0
        if as_json:
            _emit({"file": str(path), "text": result.text, "language": result.language,
                   "duration_s": round(len(item) / 16000, 3), "elapsed_s": round(elapsed, 3)})
        else:
            print(f"{path}\t[{result.language}]\t{result.text}")
    if failures:
        raise typer.Exit(2)


def convert(
    model_dir: Path = typer.Option(None, "--model-dir", help="CTranslate2 Whisper folder (default: resolved)"),
    out: Path = typer.Option(None, "--out", help="output .pt (default: CACHE_DIR/whisper/<name>-openai.pt)"),
) -> None:
    from speech.asr.ct2_convert import convert_ct2_to_openai, default_checkpoint_path
    from speech.asr.resolve import resolve_whisper_model

    options = asr_options()
    source = resolve_whisper_model(options.model, model_dir, options)
    target = out or default_checkpoint_path(source, options.cache_dir)
    t0 = time.perf_counter()
    path = convert_ct2_to_openai(source, target)
    _emit({"source": str(source), "checkpoint": str(path), "bytes": path.stat().st_size,
           "elapsed_s": round(time.perf_counter() - t0, 2)})


def where() -> None:
    from speech.asr.ct2_convert import default_checkpoint_path
    from speech.asr.resolve import resolve_whisper_model

    options = asr_options()
    source = resolve_whisper_model(options.model, options=options)
    checkpoint = default_checkpoint_path(source, options.cache_dir)
    _emit({"ctranslate2": str(source), "openai_checkpoint": str(checkpoint) if checkpoint.is_file() else None})


def build(as_json: bool = typer.Option(True, "--json/--text", help="print a JSON summary")) -> None:
    from dataclasses import asdict

    from dialogs.library import all_fixed_lines
    from speech.tts import create_tts
    from speech.tts.cache import PromptCache

    settings = get_settings()
    tts = tts_options(settings)
    lines = all_fixed_lines()
    cache = PromptCache.from_options(prompt_cache_options(settings))
    report = cache.build(lines, lambda lang: create_tts(lang, options=tts))
    if as_json:
        _emit(asdict(report))
    else:
        print(f"{report.synthesized} synthesised, {report.already_cached} cached, {report.recorded} recorded, "
              f"{report.failed} failed of {report.lines} lines in {report.elapsed_s}s -> {report.folder}")


def bench_asr(
    engines: str = typer.Option("openai-full,faster-full,faster,openai", "--engines", help="comma-separated engines"),
    eval_set: str = typer.Option("fresh", "--set", help="fresh (caller sentences voiced by TTS) | fixtures "
                                                        "(80 recordings) | a folder with a manifest.jsonl"),
    split: str = typer.Option("dev,test", "--split", help="dev, test or both (reported separately)"),
    limit: int = typer.Option(0, "--limit", help="at most N utterances per language and split; 0 = all"),
    snr_db: float = typer.Option(20.0, "--snr", help="line noise SNR in dB"),
    threads: int = typer.Option(0, "--threads", help="CPU threads per engine (0 = ASR_THREADS)"),
    reference: str = typer.Option("openai-full", "--reference", help="engine the others are compared with"),
    details: Path = typer.Option(None, "--details", help="also write each clip's transcript per engine (JSONL)"),
    draws: int = typer.Option(2, "--draws", min=1, max=10,
                              help="noise draws per utterance; errors are pooled over all draws"),
) -> None:
    from speech.asr import ENGINES
    from speech.bench import SETS, run_asr_bench

    names = [e.strip() for e in engines.split(",") if e.strip()]
    bad = [e for e in names if e not in ENGINES]
    if bad:
        raise UserError(f"unknown engine(s) {bad}; choose from {', '.join(ENGINES)}")
    splits = tuple(s.strip() for s in split.split(",") if s.strip() in ("dev", "test"))
    if not splits:
        raise UserError("--split takes dev, test or dev,test")
    folder = None if eval_set in SETS else Path(eval_set)
    _emit(run_asr_bench(names, snr_db=snr_db, limit=limit or None, threads=threads or None, details=details,
                        reference=reference, draws=draws, options=asr_options(), folder=folder,
                        eval_set=eval_set if eval_set in SETS else "folder", splits=splits))


def bench_asr_tune(draws: int = typer.Option(2, "--draws", min=1, max=10),
                   limit: int = typer.Option(0, "--limit",
                                             help="at most N dev utterances per language and set")) -> None:
    """Weight and margin of the re-ranking LM per language, chosen on the dev split only."""
    from speech.asr_tune import run_tune

    _emit(run_tune(draws=draws, options=asr_options(), limit=limit or None))


def bench_tts(repeats: int = typer.Option(5, "--repeats", help="runs per measurement (median reported)")) -> None:
    from dialogs.library import all_fixed_lines
    from speech.tts_bench import run_tts_bench

    _emit(run_tts_bench(repeats=repeats, lines=all_fixed_lines()))
