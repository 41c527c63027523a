"""Whisper through openai-whisper (torch), with the encoder context cut to the utterance
(`openai`), or openai-whisper's own 30 s pipeline unchanged (`openai-full`, the reference).

Whisper is trained on 30 s windows, and CTranslate2/faster-whisper always pad to that window, so a
2 s utterance costs a full 1500-position encoder pass. The torch model lets us run the encoder on
the utterance's own length instead: the log-mel is padded only to a whole number of `pad_s`
seconds (plus `tail_s` of silence), and the encoder's positional embedding is sliced to match.
Decoding is greedy with a key/value cache, no temperature fallback, timestamps off.
"""
from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np

from speech.asr.base import Segment, Transcript
from speech.asr.faster import SUPPORTED, pick_language
from speech.asr.postprocess import finish

ASR_RATE = 16000
HOP = 160  # mel frames are 10 ms; the encoder halves them (20 ms per position)
MAX_WINDOW_S = 29.0
WINDOW_STEP_S = 28.0


class OpenAIWhisperAsr:
    name = "openai"

    def __init__(self, checkpoint: Path | str, threads: int = 2, pad_s: float = 1.0, tail_s: float = 1.0,
                 full_context: bool = False, eot_margin: float = 1.5,
                 denoise: bool = False, quantize: bool = False) -> None:
        import torch
        import whisper
        from whisper.tokenizer import get_tokenizer

        if threads:
            torch.set_num_threads(threads)
        self.torch = torch
        self.checkpoint = Path(checkpoint)
        self.model = whisper.load_model(str(self.checkpoint), device="cpu").eval()
        self.dims = self.model.dims
        self.quantized = quantize
        self._out_proj = None
        if quantize:
            self._quantize()
        self.tokenizer = get_tokenizer(self.model.is_multilingual, num_languages=self.model.num_languages,
                                       task="transcribe")
        self.pad_s = pad_s
        self.tail_s = tail_s
        self.full_context = full_context
        self.denoise = denoise
        self.eot_margin = eot_margin if not full_context else 0.0
        self._lock = threading.Lock()
        tok = self.tokenizer
        suppress = set(tok.non_speech_tokens) | {tok.transcribe, tok.translate, tok.sot, tok.sot_prev,
                                                  tok.sot_lm, tok.no_speech, tok.no_timestamps}
        suppress |= set(tok.all_language_tokens)
        mask = torch.zeros(self.dims.n_vocab, dtype=torch.bool)
        mask[sorted(i for i in suppress if i < self.dims.n_vocab)] = True
        mask[tok.timestamp_begin:] = True
        self._suppress = mask
        self._lang_ids = {}
        for code in ("zh", "en", "yue"):  # yue exists only in large-v3 vocabularies
            try:
                self._lang_ids[code] = tok.to_language_token(code)
            except KeyError:
                pass

    def _quantize(self) -> None:
        """int8 dynamic quantisation of the decoder's linear layers and of its output projection (the
        51865 x 512 matmul that runs once per token); the encoder stays float32."""
        import warnings

        import whisper.model as wm
        from torch import nn
        from torch.ao.quantization import quantize_dynamic

        def to_plain(module: nn.Module) -> None:
            for name, child in module.named_children():
                if isinstance(child, wm.Linear):
                    plain = nn.Linear(child.in_features, child.out_features, bias=child.bias is not None)
                    plain.weight, plain.bias = child.weight, child.bias
                    setattr(module, name, plain)
                else:
                    to_plain(child)

        to_plain(self.model)
        emb = self.model.decoder.token_embedding.weight
        out = nn.Linear(emb.shape[1], emb.shape[0], bias=False)
        out.weight = emb
        holder = nn.Sequential(out)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # decoder only: quantising the encoder costs ~3 points of Mandarin CER here, the decoder
            # (which dominates the time of short utterances) costs nothing measurable
            self.model.decoder = quantize_dynamic(self.model.decoder, {nn.Linear}, dtype=self.torch.qint8)
            self._out_proj = quantize_dynamic(holder, {nn.Linear}, dtype=self.torch.qint8)

    def _decode_step(self, tokens, features, cache):
        """TextDecoder.forward, with the output projection through the int8 linear when quantised."""
        dec = self.model.decoder
        if self._out_proj is None:
            return dec(tokens, features, kv_cache=cache)
        offset = next(iter(cache.values())).shape[1] if cache else 0
        x = dec.token_embedding(tokens) + dec.positional_embedding[offset:offset + tokens.shape[-1]]
        for block in dec.blocks:
            x = block(x, features, mask=dec.mask, kv_cache=cache)
        return self._out_proj(dec.ln(x)).float()

    @classmethod
    def from_ct2_dir(cls, model_dir: Path | str, threads: int = 2, *, cache_dir: Path | str = Path("var/cache"),
                     **kw) -> OpenAIWhisperAsr:
        """Load the converted checkpoint for a CTranslate2 folder, converting it once (into cache_dir) if needed."""
        from speech.asr.ct2_convert import convert_ct2_to_openai, default_checkpoint_path

        checkpoint = default_checkpoint_path(model_dir, cache_dir)
        if not checkpoint.is_file():
            convert_ct2_to_openai(model_dir, checkpoint)
        return cls(checkpoint, threads=threads, **kw)

    # ------------------------------------------------------------------------------------------
    def _mel(self, audio: np.ndarray):
        from whisper.audio import log_mel_spectrogram

        torch = self.torch
        if self.full_context:
            n_frames = self.dims.n_audio_ctx * 2
        else:
            seconds = len(audio) / ASR_RATE + self.tail_s
            n_frames = int(math.ceil(seconds / self.pad_s) * self.pad_s * 100)
            n_frames = min(max(n_frames, 100), self.dims.n_audio_ctx * 2)
        samples = n_frames * HOP
        padded = np.zeros(samples, dtype=np.float32)
        padded[: min(len(audio), samples)] = audio[:samples]
        mel = log_mel_spectrogram(torch.from_numpy(padded), self.dims.n_mels)
        return mel[:, :n_frames].unsqueeze(0)

    def encode(self, audio: np.ndarray):
        """Encoder on the utterance's own length (positional embedding sliced)."""
        import torch.nn.functional as F

        enc = self.model.encoder
        x = F.gelu(enc.conv1(self._mel(audio)))
        x = F.gelu(enc.conv2(x)).permute(0, 2, 1)
        x = x + enc.positional_embedding[: x.shape[1]]
        for block in enc.blocks:
            x = block(x)
        return enc.ln_post(x)

    def _prefix(self, language: str, prompt: str | None) -> tuple[list[int], int]:
        tok = self.tokenizer
        tokens: list[int] = []
        if prompt:
            prompt_ids = tok.encode(" " + prompt.strip())[-(self.dims.n_text_ctx // 2 - 1):]
            tokens = [tok.sot_prev, *prompt_ids]
        sot_index = len(tokens)
        tokens += [tok.sot, tok.to_language_token(language), tok.transcribe, tok.no_timestamps]
        return tokens, sot_index

    def detect_language(self, audio: np.ndarray, features=None) -> tuple[str, float]:
        torch = self.torch
        with self._lock, torch.inference_mode():
            feats = self.encode(audio) if features is None else features
            logits = self._decode_step(torch.tensor([[self.tokenizer.sot]]), feats, None)[0, -1]
            codes = list(self._lang_ids)
            probs = torch.softmax(logits[[self._lang_ids[c] for c in codes]], dim=-1).tolist()
        return pick_language(dict(zip(codes, probs, strict=True)))

    def transcribe(self, audio: np.ndarray, language: str | None = None, prompt: str | None = None) -> Transcript:
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        duration = len(audio) / ASR_RATE
        if len(audio) < ASR_RATE // 10 or float(np.max(np.abs(audio), initial=0.0)) < 1e-4:
            return Transcript(text="", language=language or "", duration_s=duration, no_speech_prob=1.0)
        if self.full_context:
            return self._transcribe_stock(audio, language, prompt, duration)
        if duration > MAX_WINDOW_S:  # longer than one Whisper window (files, not call turns): fixed windows
            return self._transcribe_long(audio, language, prompt)
        heard = audio
        if self.denoise:
            from speech.denoise import suppress_noise

            audio = suppress_noise(audio)
        torch = self.torch
        with torch.inference_mode():
            with self._lock:
                features = self.encode(audio[: ASR_RATE * 30])
            if language not in SUPPORTED:
                language, _ = self.detect_language(audio, features)
            with self._lock:
                text, no_speech, avg_logprob = self._greedy(features, language, prompt, duration)
        seg = Segment(0.0, duration, text, no_speech, avg_logprob)
        return finish([seg], language, duration, heard)

    def _transcribe_stock(self, audio: np.ndarray, language: str | None, prompt: str | None,
                          duration: float) -> Transcript:
        """openai-whisper's own pipeline, unchanged: every 30 s window padded in full, float32, greedy
        (temperature 0, no fallback), no conditioning on earlier windows. The reference engine."""
        if language not in SUPPORTED:
            with self.torch.inference_mode(), self._lock:
                features = self.model.embed_audio(self._mel(audio[: ASR_RATE * 30]))
            language, _ = self.detect_language(audio, features)
        with self._lock:
            out = self.model.transcribe(audio, language=language, task="transcribe", fp16=False, temperature=0.0,
                                        condition_on_previous_text=False, initial_prompt=prompt or None,
                                        without_timestamps=True, verbose=None)
        raw = [Segment(float(s["start"]), float(s["end"]), s["text"], float(s["no_speech_prob"]),
                       float(s["avg_logprob"])) for s in out["segments"]]
        return finish(raw, language, duration, audio)

    def _transcribe_long(self, audio: np.ndarray, language: str | None, prompt: str | None) -> Transcript:
        step = int(WINDOW_STEP_S * ASR_RATE)
        parts = [self.transcribe(audio[i:i + step], language, prompt) for i in range(0, len(audio), step)]
        language = language or next((p.language for p in parts if p.text), parts[0].language)
        segments = []
        for k, part in enumerate(parts):
            segments += [Segment(s.start + k * WINDOW_STEP_S, s.end + k * WINDOW_STEP_S, s.text, s.no_speech_prob,
                                 s.avg_logprob) for s in part.segments]
        joiner = "" if language == "zh" else " "
        return Transcript(text=joiner.join(p.text for p in parts if p.text), language=language, segments=segments,
                          no_speech_prob=min(p.no_speech_prob for p in parts),
                          avg_logprob=sum(p.avg_logprob for p in parts) / len(parts), duration_s=len(audio) / ASR_RATE)

    def _greedy(self, features, language: str, prompt: str | None, duration: float) -> tuple[str, float, float]:
        torch = self.torch
        tok = self.tokenizer
        prefix, sot_index = self._prefix(language, prompt)
        max_new = min(self.dims.n_text_ctx // 2, int(duration * 12) + 16)  # > any speaking rate
        cache, hooks = self.model.install_kv_cache_hooks()
        try:
            tokens = torch.tensor([prefix])
            logits = self._decode_step(tokens, features, cache)
            no_speech = torch.softmax(logits[0, sot_index], dim=-1)[tok.no_speech].item()
            step_logits = logits[0, -1]
            out: list[int] = []
            logprob_sum = 0.0
            for step in range(max_new):
                step_logits = step_logits.float()
                masked = step_logits.masked_fill(self._suppress, -math.inf)
                if step == 0:  # no blank start, no immediate end
                    masked[tok.eot] = -math.inf
                    masked[tok.encode(" ")] = -math.inf
                logprobs = torch.log_softmax(masked, dim=-1)
                nxt = int(masked.argmax())
                # With a cut context Whisper often rates end-of-text just below the best token at the
                # true end and then starts the sentence again; end when it is within `eot_margin`.
                if step > 0 and float(logprobs[tok.eot]) >= float(logprobs[nxt]) - self.eot_margin:
                    nxt = tok.eot
                logprob_sum += float(logprobs[nxt])
                if nxt == tok.eot or _repeating(out):
                    break
                out.append(nxt)
                step_logits = self._decode_step(torch.tensor([[nxt]]), features, cache)[0, -1]
        finally:
            for h in hooks:
                h.remove()
        avg_logprob = logprob_sum / (len(out) + 1)
        return tok.decode(out), no_speech, avg_logprob


def _repeating(tokens: list[int], min_len: int = 4) -> bool:
    """True when the output ends with the same run of >= min_len tokens twice in a row (a decoding loop)."""
    n = len(tokens)
    for size in range(min_len, n // 2 + 1):
        if tokens[n - size:] == tokens[n - 2 * size:n - size]:
            return True
    return False
