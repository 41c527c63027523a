"""Whisper through faster-whisper (CTranslate2, int8 on CPU): the default ASR engine."""
from __future__ import annotations

import math
import re
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from speech.asr.base import Segment, Transcript
from speech.asr.postprocess import finish
from speech.asr.prompts import answer_of

SUPPORTED = ("zh", "en")
ASR_RATE = 16000


def pick_language(probs: dict[str, float] | list[tuple[str, float]]) -> tuple[str, float]:
    """Choose zh or en from Whisper's language probabilities (Cantonese counts towards zh)."""
    table = dict(probs)
    zh = table.get("zh", 0.0) + table.get("yue", 0.0)
    en = table.get("en", 0.0)
    return ("zh", zh) if zh >= en else ("en", en)


class FasterWhisperAsr:
    """Greedy, single-pass Whisper tuned for short phone utterances.

    context="full": faster-whisper's own pipeline; every utterance is padded to the 30 s window.
    context="cut": the same CTranslate2 model driven directly, with the log-mel padded only to the
    utterance length rounded up to `pad_s` (+ `tail_s` of silence). CTranslate2's encoder accepts the
    shorter input (faster-whisper's `chunk_length` does not help: it pads features back to 3000
    frames). Decoding is bounded by the utterance length and decoding loops are cut.
    """

    name = "faster"

    def __init__(self, model_dir: Path | str, compute_type: str = "int8", cpu_threads: int = 2,
                 chunk_length: int | None = None, context: str = "full", pad_s: float = 1.0,
                 tail_s: float = 1.0, beam_size: int | dict[str, int] = 1, patience: float | dict[str, float] = 1.0,
                 denoise: bool = False, num_workers: int = 1, lm_weight: float | dict[str, float] = 0.0,
                 encoder_compute_type: str | dict[str, str] | None = None,
                 lm_margin: float | dict[str, float] = 0.0, default_prompt: bool = False,
                 band_fold: float | dict[str, float] = 0.0, end_probe: bool | dict[str, bool] = False) -> None:
        from faster_whisper import WhisperModel

        self.model_dir = Path(model_dir)
        self.model = WhisperModel(str(self.model_dir), device="cpu", compute_type=compute_type,
                                  cpu_threads=cpu_threads, num_workers=max(1, num_workers),
                                  local_files_only=True)
        # The cut path may run the encoder at a higher precision than the decoder, per language: quantising
        # the encoder costs English accuracy on noisy phone audio; Mandarin reads as well or better with it
        # (dev) and the int8 encoder takes about half the time. A second CTranslate2 instance of the same
        # weights serves the languages whose encoder precision differs from the decoder's.
        self.compute_type = compute_type
        self.encoder_types = {lang: str(t or compute_type) for lang, t in _per_lang(encoder_compute_type or
                                                                                   compute_type, None).items()}
        self._encoder = None
        other = {t for t in self.encoder_types.values() if t != compute_type}
        if context == "cut" and other:
            import ctranslate2

            self._encoder = ctranslate2.models.Whisper(str(self.model_dir), device="cpu",
                                                       compute_type=other.pop(),
                                                       intra_threads=cpu_threads, inter_threads=max(1, num_workers))
        self.chunk_length = chunk_length or 30
        self.context = context
        self.pad_s, self.tail_s = pad_s, tail_s
        self.beam_sizes = {lang: max(1, int(b)) for lang, b in _per_lang(beam_size, 1).items()}
        self.beam_size = max(self.beam_sizes.values())
        # the beam search ends once beams x patience hypotheses have ended (<= the beams; that many go to the LM)
        self.patiences = {lang: min(1.0, max(1.0 / self.beam_sizes[lang], float(p)))
                          for lang, p in _per_lang(patience, 1.0).items()}
        # no prompt from the caller: the cut path uses the generic domain prompt (speech/asr/prompts.py)
        self.default_prompt = default_prompt
        self.denoise = denoise
        # the cut path's front end, per language: phone-band audio's 0-4 kHz mirrored into 4-8 kHz at this
        # gain before denoising and features (speech/asr/frontend.py); 0 = off
        self.band_folds = _per_lang(band_fold)
        # per language: also weigh whether Whisper expects the reading to go on (speech/asr/end_probe.py:
        # `Transcript.pause_mark_prob`, one more decoder pass, ~35-40 ms on this machine)
        self.end_probes = _per_lang(end_probe, False)
        # > 0: re-rank the beams with the domain LM (speech/asr/lm.py), per language; the LM moves off
        # Whisper's top beam only when the winner leads it by more than the language's margin
        self.lm_weights = _per_lang(lm_weight)
        self.lm_margins = _per_lang(lm_margin)
        self.lm_weight = max(self.lm_weights.values())
        if self.lm_weight > 0:
            from speech.asr.lm import warm_up_in_background

            warm_up_in_background()
        self.name = "faster" if context == "cut" else "faster-full"
        # faster-whisper's own pipeline mutates its feature extractor: serialise it. The cut path is
        # re-entrant; CTranslate2 runs up to `num_workers` calls in parallel (it releases the GIL).
        self._lock = threading.Lock()
        self._tokenizers: dict[str, Any] = {}  # faster_whisper.tokenizer.Tokenizer, imported lazily

    def detect_language(self, audio: np.ndarray) -> tuple[str, float]:
        with self._lock:
            _lang, _prob, probs = self.model.detect_language(audio=np.asarray(audio, dtype=np.float32))
        return pick_language(probs)

    def transcribe(self, audio: np.ndarray, language: str | None = None, prompt: str | None = None,
                   stages: dict[str, float] | None = None) -> Transcript:
        """`stages`, when given, receives the milliseconds of each stage of the cut path (denoise, features,
        encode, decode, rerank, finish): `dialwise bench turns` reports where a reading's time goes."""
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        duration = len(audio) / ASR_RATE
        if len(audio) < ASR_RATE // 10 or float(np.max(np.abs(audio), initial=0.0)) < 1e-4:
            return Transcript(text="", language=language or "", duration_s=duration, no_speech_prob=1.0)
        heard = audio
        clock = _Clock(stages)
        cut = self.context == "cut" and duration <= 29.0
        if cut:
            audio = self._front_end(audio, language)
        if self.denoise:
            from speech.denoise import suppress_noise

            audio = suppress_noise(audio)
            clock.lap("denoise")
        if cut:
            return self._transcribe_cut(audio, language, prompt, duration, heard, clock)
        if language not in SUPPORTED:
            language, _ = self.detect_language(audio)
        with self._lock:
            segments, _info = self.model.transcribe(
                audio,
                language=language,
                task="transcribe",
                beam_size=1,
                best_of=1,
                temperature=0.0,
                without_timestamps=True,
                condition_on_previous_text=False,
                vad_filter=False,
                initial_prompt=prompt or None,
                suppress_blank=True,
                log_prob_threshold=None,
                no_speech_threshold=None,
                compression_ratio_threshold=None,
                chunk_length=self.chunk_length,
            )
            raw = [Segment(s.start, s.end, s.text, s.no_speech_prob, s.avg_logprob) for s in segments]
        return finish(raw, language, duration, heard)

    # ------------------------------------------------------------------------------------------
    def _front_end(self, audio: np.ndarray, language: str | None) -> np.ndarray:
        """The cut path's acoustic front end for a known language (an unknown one is left as it is)."""
        gain = self.band_folds.get(language or "", 0.0)
        if gain <= 0:
            return audio
        from speech.asr.frontend import fold_band

        return fold_band(audio, gain)

    def _encoder_for(self, language: str | None):
        precision = self.encoder_types.get(language or "en", self.encoder_types["en"])
        return self.model.model if precision == self.compute_type or self._encoder is None else self._encoder

    def _encode_cut(self, audio: np.ndarray, clock: _Clock | None = None, language: str | None = None):
        import ctranslate2

        seconds = len(audio) / ASR_RATE + self.tail_s
        n_frames = int(min(3000, max(100, math.ceil(seconds / self.pad_s) * self.pad_s * 100)))
        padded = np.zeros(n_frames * 160, dtype=np.float32)
        padded[: len(audio)] = audio[: len(padded)]
        features = self.model.feature_extractor(padded, padding=0)[:, :n_frames]
        if clock is not None:
            clock.lap("features")
        view = ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None], dtype=np.float32))
        encoded = self._encoder_for(language).encode(view, to_cpu=False)
        if clock is not None:
            clock.lap("encode")
        return encoded

    def _transcribe_cut(self, audio: np.ndarray, language: str | None, prompt: str | None,
                        duration: float, heard: np.ndarray | None = None, clock: _Clock | None = None) -> Transcript:
        clock = clock or _Clock(None)
        encoded = self._encode_cut(audio, clock, language)
        if language not in SUPPORTED:
            probs = self.model.model.detect_language(encoded)[0]
            language, _ = pick_language([(tok[2:-2], p) for tok, p in probs])
        tokenizer = self._tokenizer(language)
        prompt = self._prompt(prompt, language)
        prefix = self._prefix(tokenizer, prompt)
        digits = answer_of(prompt) == "digits"
        texts, scores, lengths, no_speech, seqs = self._decode(encoded, prefix, tokenizer, duration, language,
                                                               n_best=digits)
        clock.lap("decode")
        best = 0
        if digits:  # the first of Whisper's beams that holds an ID tail's four digits, not the domain LM's choice
            best = next((i for i, text in enumerate(texts) if count_digits(text) >= 4), 0)
        elif len(texts) > 1:
            from speech.asr.lm import pick_best

            best = pick_best(list(zip(texts, scores, strict=True)), language, self.lm_weights.get(language, 0.0),
                             margin=self.lm_margins.get(language, 0.0))
        clock.lap("rerank")
        avg_logprob = scores[best] * lengths[best] / (lengths[best] + 1)
        seg = Segment(0.0, duration, texts[best], no_speech, avg_logprob)
        out = finish([seg], language, duration, audio if heard is None else heard, prompt=prompt)
        if out.text:
            out.alternatives = other_beams(texts, scores, best, language)
        clock.lap("finish")
        if out.text and self.end_probes.get(language):
            from speech.asr.end_probe import end_probe, marks_for

            frames = min(int(encoded.shape[1]) * 2, max(1, round(len(audio) / ASR_RATE * 100)))
            probe = end_probe(self.model.model, encoded, prefix, seqs[best], marks_for(tokenizer, language),
                              frames, language, tokenizer.decode)
            out.pause_mark_prob, out.last_word_prob = probe.pause_mark_prob, probe.last_word_prob
            clock.lap("probe")
        return out

    def _tokenizer(self, language: str):
        from faster_whisper.tokenizer import Tokenizer

        tokenizer = self._tokenizers.get(language)
        if tokenizer is None:
            tokenizer = self._tokenizers[language] = Tokenizer(self.model.hf_tokenizer, True, task="transcribe",
                                                               language=language)
        return tokenizer

    def _prompt(self, prompt: str | None, language: str) -> str | None:
        """The caller's prompt, or the generic domain prompt when there is none and `default_prompt` is set."""
        if not prompt and self.default_prompt:
            from speech.asr.prompts import domain_prompt

            return domain_prompt(language)
        return prompt

    @staticmethod
    def _prefix(tokenizer, prompt: str | None) -> list[int]:
        prefix: list[int] = []
        if prompt:
            prefix = [tokenizer.sot_prev, *tokenizer.encode(" " + prompt.strip())[-223:]]
        return prefix + [*tokenizer.sot_sequence, tokenizer.no_timestamps]

    def _decode(self, encoded, prefix: list[int], tokenizer, duration: float, language: str, n_best: bool = False):
        """(texts, mean log-probs, token counts, no-speech prob, token ids) of the n-best list (one entry when
        greedy, or when no LM re-ranks and `n_best` is not asked for)."""
        max_new = int(duration * 8) + 12  # above any speaking rate, bounds a decoding loop
        beams = self.beam_sizes.get(language, self.beam_size)
        patience = self.patiences.get(language, 1.0)
        ended = max(1, int(beams * patience + 1e-9))  # the hypotheses the search waits for
        hypotheses = ended if self.lm_weights.get(language, 0.0) > 0 or n_best else 1
        result = self.model.model.generate(
            encoded, [prefix], beam_size=beams, patience=ended / beams, num_hypotheses=hypotheses,
            max_length=len(prefix) + max_new,
            return_scores=True, return_no_speech_prob=True, suppress_blank=True, suppress_tokens=[-1],
        )[0]
        seqs = [trim_repeats([t for t in seq if t < tokenizer.eot]) for seq in result.sequences_ids]
        texts = [tokenizer.decode(seq) for seq in seqs]
        scores = list(result.scores) if result.scores else [0.0] * len(texts)
        return texts, scores, [len(s) for s in result.sequences_ids], result.no_speech_prob, seqs

    def nbest(self, audio: np.ndarray, language: str, prompt: str | None = None) -> list[tuple[str, float]]:
        """Whisper's beams for an utterance, best first, before any re-ranking (for tuning on dev), decoded
        with the prompt `transcribe` would use (the generic domain prompt when none is given)."""
        audio = self._front_end(np.asarray(audio, dtype=np.float32).reshape(-1), language)
        if self.denoise:
            from speech.denoise import suppress_noise

            audio = suppress_noise(audio)
        encoded = self._encode_cut(audio, language=language)
        tokenizer = self._tokenizer(language)
        prefix = self._prefix(tokenizer, self._prompt(prompt, language))
        texts, scores, _, _, _ = self._decode(encoded, prefix, tokenizer, len(audio) / ASR_RATE, language,
                                      n_best=True)
        return list(zip(texts, scores, strict=True))


def other_beams(texts: list[str], scores: list[float], best: int, language: str) -> list[tuple[str, float]]:
    """The beams other than the chosen one, by Whisper's score, normalised as a transcript is."""
    from speech.asr.postprocess import collapse_loops, normalize_en, normalize_zh

    norm = normalize_zh if language == "zh" else normalize_en
    order = sorted((i for i in range(len(texts)) if i != best), key=lambda i: -scores[i])
    return [(norm(collapse_loops(texts[i].strip())), float(scores[i])) for i in order if texts[i].strip()]


_DIGIT_WORD = re.compile(r"\b(zero|oh|one|two|three|four|five|six|seven|eight|nine)\b", re.I)


def count_digits(text: str) -> int:
    """Digits in a transcript: Arabic, Chinese digit characters and English digit words."""
    return sum(c.isdigit() or c in "零〇幺一二两三四五六七八九" for c in text) + len(_DIGIT_WORD.findall(text))


class _Clock:
    """Milliseconds per stage into `stages` (a no-op without it)."""

    def __init__(self, stages: dict[str, float] | None) -> None:
        self.stages = stages
        self.t = time.perf_counter()

    def lap(self, name: str) -> None:
        if self.stages is not None:
            now = time.perf_counter()
            self.stages[name] = self.stages.get(name, 0.0) + (now - self.t) * 1000
            self.t = now


def _per_lang(value: Any, missing: Any = 0.0) -> dict[str, Any]:
    """A setting per language: a dict (`missing` for a language it leaves out), or one value for all."""
    if isinstance(value, dict):
        return {lang: value.get(lang, missing) for lang in SUPPORTED}
    return {lang: value for lang in SUPPORTED}


def trim_repeats(tokens: list[int], min_period: int = 3, min_echo: int = 3) -> list[int]:
    """Cut a decoding loop: if, from some point, the output repeats itself with a period of
    >= min_period tokens until the end (a full or partial second copy of >= min_echo tokens),
    keep the first copy and drop the echo."""
    n = len(tokens)
    for start in range(n):
        for period in range(min_period, n - start):
            echo = n - (start + period)
            if echo < min(min_echo, period):
                break
            if tokens[start + period:] == tokens[start:start + echo]:
                return tokens[:start + period]
    return tokens
