"""What a process's first call would otherwise pay alone, paid once at start (`get_deps`), so a process
says it is ready (`dialwise worker`'s "ready", `dialwise serve`'s /health/ready) only when its first call
would greet as soon as the later ones do.

Loading the engines is not all: several parts are built on first use, and the first call paid for them
while the callee waited for the greeting (1.4 s late, `bench capacity`'s `first_call_after_start`):
- the domain LM (speech/asr/lm.py) trains on a background thread while the NLU loads, and went on for
  seconds after it, GIL-bound Python beside the first call: it is waited for here;
- Mandarin TTS: pypinyin's dictionaries (about 0.6 s) load on the first Mandarin line; espeak's first
  run; a neural voice's first inference: one line per language through each language's engine;
- the VAD's ONNX session, shared by every call, was built inside the first call's session set-up (on the
  event loop, about 0.1 s): built here, with a frame through it, the endpointer and the machine detector;
- the scripts library, parsed and validated on the first `load_script` (about 0.3-0.5 s: `serve`'s first
  session did it, as the dialling process, not `serve`, creates the call row);
- resampling (soxr), one-shot and streaming;
- ASR: one real transcription per language on each of the ASR workers (a second of silence, which the
  old warm-up used, returns before Whisper runs): the first callee turn pays no first inference;
- NLU: one reading per language.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from agent.pipeline import CallDeps

# one short line per language, with a name and a number, as a greeting has
LINES = {"zh": "王芳您好，我是智能语音助手，本次通话将被录音，金额两千元。",
         "en": "Hello Emily Johnson, this is an automated assistant; this call is recorded, 450 dollars."}
ANSWERS = {"zh": "是我", "en": "Yes, this is Emily."}
ASR_RATE = 16000
log = logging.getLogger("dialwise.warm_up")


def warm_call_path(deps: CallDeps) -> dict[str, float]:
    """Run each lazily built part of a call once; returns (and keeps in `deps.warm_seconds`) the seconds each
    step took."""
    timings: dict[str, float] = {}

    def step(name: str, fn: Callable[[], object]) -> None:
        t = time.perf_counter()
        try:
            fn()
        except Exception:  # a broken engine fails its calls with its own error; the other parts still warm
            log.warning("warming the call path: %s failed", name, exc_info=True)
        timings[name] = round(time.perf_counter() - t, 3)

    spoken: dict[str, np.ndarray] = {}
    step("scripts", _scripts)
    step("tts", lambda: spoken.update(_tts(deps)))
    step("vad", _vad)
    step("nlu", lambda: [deps.classify(ANSWERS[lang], lang, None, None) for lang in deps.tts_by_lang])
    step("endings", _answer_endings)
    step("domain_lm", lambda: _domain_lm(deps))  # trained on a thread since the ASR loaded: often done by now
    step("asr", lambda: _asr(deps, spoken))
    log.info("call path warmed: %s", " ".join(f"{k}={v:.2f}s" for k, v in timings.items()))
    deps.warm_seconds = timings
    deps.load_seconds["warm"] = sum(timings.values())
    return timings


def _scripts() -> None:
    """Parse and validate the scripts library (cached): a call's `load_script` is then a look-up. `serve` never
    created a call row itself (the dialling process does), so its first session parsed the whole library."""
    from dialogs.library import validate_library

    validate_library()


def _domain_lm(deps: CallDeps) -> None:
    """Wait for the domain LMs the ASR re-ranks with (trained on a background thread since the ASR loaded), and
    build those the turn-taker weighs a reading's end with (`TurnSettings.lm_end_doubt`)."""
    from agent.turn_taking import TurnSettings
    from speech.asr.lm import ORDER, domain_lm

    rerank = getattr(deps.asr, "lm_weight", 0) > 0
    for lang in ORDER:
        if rerank or TurnSettings().for_lang(lang).lm_end_doubt:
            domain_lm(lang)  # blocks until the background build of that language is done


def _answer_endings() -> None:
    """How the NLU's answers end (the turn-taker's near-homophone check of a trailing conjunction, the English
    answers that end in a trailing word) and the lexicon's trailing words less those endings."""
    from nlu.complete import answer_endings, whole_answers_en
    from nlu.trailing_words import trailing_zh

    answer_endings()
    whole_answers_en()
    trailing_zh()


def _tts(deps: CallDeps) -> dict[str, np.ndarray]:
    """Each language's line through its engine, and through the resamplers the call uses; the line at
    16 kHz float32 for the ASR step."""
    from agent.recording import RATE as REC_RATE
    from speech.audio import StreamResampler, resample, to_float32

    out = {}
    for lang, tts in deps.tts_by_lang.items():
        speech = tts.synthesize(LINES[lang], lang)
        resample(speech.pcm, speech.sample_rate, REC_RATE)
        resample(speech.pcm, speech.sample_rate, 8000)
        StreamResampler(8000, ASR_RATE).process(np.zeros(160, dtype=np.float32))
        out[lang] = to_float32(resample(speech.pcm, speech.sample_rate, ASR_RATE))
    return out


def _vad() -> None:
    """The listening side a call sets up: the VAD (its shared ONNX session) behind an endpointer, and the
    answering-machine detector, each fed a frame."""
    from speech.amd import AnsweringMachineDetector
    from speech.endpoint import Endpointer
    from speech.vad import create_vad

    Endpointer(create_vad()).feed(np.zeros(1024, dtype=np.float32))
    AnsweringMachineDetector().feed(np.zeros(160, dtype=np.int16), 8000)


def _asr(deps: CallDeps, spoken: dict[str, np.ndarray]) -> None:
    """One transcription per language, at once on the ASR pool: each of its workers runs a first inference."""
    rounds = -(-max(1, deps.asr_pool._max_workers) // max(1, len(spoken)))  # ceil(workers / languages)
    futures = [deps.asr_pool.submit(deps.asr.transcribe, audio, lang, None)
               for _ in range(rounds) for lang, audio in spoken.items()]
    for f in futures:
        f.result()
