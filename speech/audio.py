"""Telephone audio in one place: G.711 (mu-law, A-law), resampling, sample formats and WAV files.

Every transport and every speech component goes through this module; nothing else in dialwise
knows how G.711 bytes or WAV headers are laid out.
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from speech.errors import SpeechError

FRAME_MS = 20
ASR_RATE = 16000


class AudioError(SpeechError):
    """An audio file or buffer that cannot be used (empty, truncated, not a WAV, unsupported format)."""


# --------------------------------------------------------------------------------------------
# G.711 mu-law (ITU-T G.711, 14-bit magnitude, bias 0x84)
# --------------------------------------------------------------------------------------------
_ULAW_BIAS = 0x84
_ULAW_CLIP = 8159  # 14-bit magnitude
_ULAW_SEGMENT_ENDS = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)


def _build_ulaw_decode_table() -> np.ndarray:
    codes = np.arange(256, dtype=np.int32)
    u = ~codes & 0xFF
    sign = u & 0x80
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = (((mantissa << 3) + _ULAW_BIAS) << exponent) - _ULAW_BIAS
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


def _ulaw_encode_values(x: np.ndarray) -> np.ndarray:
    v = x.astype(np.int32) >> 2  # 14-bit, arithmetic shift (floors negatives)
    negative = v < 0
    magnitude = np.minimum(np.where(negative, -v, v), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    segment = np.searchsorted(_ULAW_SEGMENT_ENDS, magnitude, side="left")
    code = (segment << 4) | ((magnitude >> (segment + 1)) & 0x0F)
    code = np.where(segment >= 8, 0x7F, code)
    return ((code ^ np.where(negative, 0x7F, 0xFF)) & 0xFF).astype(np.uint8)


_ULAW_DECODE = _build_ulaw_decode_table()
_ULAW_ENCODE = _ulaw_encode_values(np.arange(-32768, 32768, dtype=np.int32))  # index = sample + 32768


# --------------------------------------------------------------------------------------------
# G.711 A-law (13-bit magnitude, even bits inverted with 0x55)
# --------------------------------------------------------------------------------------------
_ALAW_SEGMENT_ENDS = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)


def _build_alaw_decode_table() -> np.ndarray:
    codes = np.arange(256, dtype=np.int32) ^ 0x55
    mantissa = (codes & 0x0F) << 4
    segment = (codes & 0x70) >> 4
    value = np.where(segment == 0, mantissa + 8, mantissa + 0x108)
    value = np.where(segment > 1, value << np.maximum(segment - 1, 0), value)
    return np.where(codes & 0x80, value, -value).astype(np.int16)


def _alaw_encode_values(x: np.ndarray) -> np.ndarray:
    v = x.astype(np.int32) >> 3  # 13-bit
    positive = v >= 0
    mask = np.where(positive, 0xD5, 0x55)
    v = np.where(positive, v, -v - 1)
    segment = np.searchsorted(_ALAW_SEGMENT_ENDS, v, side="left")  # first end >= v
    shift = np.where(segment < 2, 1, segment)
    body = (segment << 4) | ((v >> shift) & 0x0F)
    code = np.where(segment >= 8, 0x7F, body)
    return ((code ^ mask) & 0xFF).astype(np.uint8)


_ALAW_DECODE = _build_alaw_decode_table()
_ALAW_ENCODE = _alaw_encode_values(np.arange(-32768, 32768, dtype=np.int32))


def _as_int16(samples: np.ndarray) -> np.ndarray:
    a = np.asarray(samples)
    if a.dtype != np.int16:
        if np.issubdtype(a.dtype, np.floating):
            return to_int16(a)
        a = np.clip(a, -32768, 32767).astype(np.int16)
    return a.reshape(-1)


def ulaw_encode(samples: np.ndarray) -> bytes:
    """int16 PCM -> G.711 mu-law bytes (one byte per sample)."""
    pcm = _as_int16(samples)
    return _ULAW_ENCODE[pcm.astype(np.int32) + 32768].tobytes()


def ulaw_decode(data: bytes | bytearray | memoryview) -> np.ndarray:
    """G.711 mu-law bytes -> int16 PCM."""
    return _ULAW_DECODE[np.frombuffer(bytes(data), dtype=np.uint8)]


def alaw_encode(samples: np.ndarray) -> bytes:
    """int16 PCM -> G.711 A-law bytes."""
    pcm = _as_int16(samples)
    return _ALAW_ENCODE[pcm.astype(np.int32) + 32768].tobytes()


def alaw_decode(data: bytes | bytearray | memoryview) -> np.ndarray:
    """G.711 A-law bytes -> int16 PCM."""
    return _ALAW_DECODE[np.frombuffer(bytes(data), dtype=np.uint8)]


# --------------------------------------------------------------------------------------------
# sample formats and resampling
# --------------------------------------------------------------------------------------------
def to_float32(samples: np.ndarray) -> np.ndarray:
    """int16 PCM -> float32 in [-1, 1). float input is returned as float32 unchanged in scale."""
    a = np.asarray(samples)
    if np.issubdtype(a.dtype, np.floating):
        return a.astype(np.float32, copy=False)
    return a.astype(np.float32) / 32768.0


def to_int16(samples: np.ndarray) -> np.ndarray:
    """float in [-1, 1] -> int16 PCM with clipping and rounding. int16 input is returned unchanged."""
    a = np.asarray(samples)
    if a.dtype == np.int16:
        return a
    if not np.issubdtype(a.dtype, np.floating):
        return np.clip(a, -32768, 32767).astype(np.int16)
    return np.clip(np.round(a * 32768.0), -32768, 32767).astype(np.int16)


def resample(samples: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Band-limited resampling (soxr); keeps the dtype (int16 or float32). Mono [n] or [n, channels]."""
    a = np.asarray(samples)
    if src_rate == dst_rate or a.shape[0] == 0:
        return a.copy()
    import soxr

    dtype = a.dtype
    if dtype not in (np.int16, np.float32, np.float64, np.int32):
        a = a.astype(np.float32)
    out = soxr.resample(a, src_rate, dst_rate, quality="HQ")
    return out.astype(dtype, copy=False)


def frame_samples(rate: int, frame_ms: int = FRAME_MS) -> int:
    return rate * frame_ms // 1000


# --------------------------------------------------------------------------------------------
# WAV files
# --------------------------------------------------------------------------------------------
_FMT_PCM, _FMT_FLOAT, _FMT_ALAW, _FMT_ULAW, _FMT_EXTENSIBLE = 1, 3, 6, 7, 0xFFFE


def _decode_wav_bytes(raw: bytes, name: str) -> tuple[np.ndarray, int]:
    if len(raw) == 0:
        raise AudioError(f"{name}: the file is empty (0 bytes); record or export it again as a WAV file")
    if len(raw) < 12 or raw[:4] not in (b"RIFF", b"RIFX") or raw[8:12] != b"WAVE":
        raise AudioError(f"{name}: not a WAV file (no RIFF/WAVE header); convert it, e.g. "
                         f"`ffmpeg -i INPUT -ar 16000 -ac 1 OUT.wav`")
    if raw[:4] == b"RIFX":
        raise AudioError(f"{name}: big-endian RIFX WAV is not supported; convert it with ffmpeg or sox")
    pos = 12
    fmt: tuple[int, int, int, int] | None = None
    data: bytes | None = None
    while pos + 8 <= len(raw):
        cid = raw[pos:pos + 4]
        (size,) = struct.unpack("<I", raw[pos + 4:pos + 8])
        body_start = pos + 8
        if cid == b"fmt ":
            if size < 16 or body_start + 16 > len(raw):
                raise AudioError(f"{name}: truncated WAV (the format chunk is cut short)")
            tag, channels, rate, _brate, _align, bits = struct.unpack("<HHIIHH", raw[body_start:body_start + 16])
            if tag == _FMT_EXTENSIBLE and size >= 40 and body_start + 26 <= len(raw):
                (tag,) = struct.unpack("<H", raw[body_start + 24:body_start + 26])
            fmt = (tag, channels, rate, bits)
        elif cid == b"data":
            available = len(raw) - body_start
            # streaming writers (espeak-ng --stdout, ffmpeg to a pipe) leave a placeholder size
            if (size in (0, 0xFFFFFFFF) or size >= 0x7FFF0000) and available > 0:
                size = available
            if size > available:
                raise AudioError(f"{name}: truncated WAV (header promises {size} bytes of audio, "
                                 f"only {available} present); re-export the file")
            data = raw[body_start:body_start + size]
            break
        pos = body_start + size + (size & 1)
    if fmt is None:
        raise AudioError(f"{name}: truncated or damaged WAV (no format chunk)")
    if data is None:
        raise AudioError(f"{name}: truncated or damaged WAV (no data chunk)")
    tag, channels, rate, bits = fmt
    if channels < 1 or rate < 1000:
        raise AudioError(f"{name}: invalid WAV header ({channels} channels, {rate} Hz)")
    samples = _decode_samples(data, tag, bits, name)
    usable = (len(samples) // channels) * channels
    samples = samples[:usable]
    if samples.size == 0:
        raise AudioError(f"{name}: the WAV file contains no audio samples")
    mono = samples.reshape(-1, channels).mean(axis=1, dtype=np.float64).astype(np.float32) if channels > 1 else samples
    return mono.astype(np.float32, copy=False), rate


def _decode_samples(data: bytes, tag: int, bits: int, name: str) -> np.ndarray:
    if tag == _FMT_ULAW:
        return to_float32(ulaw_decode(data))
    if tag == _FMT_ALAW:
        return to_float32(alaw_decode(data))
    if tag == _FMT_FLOAT:
        if bits == 32:
            return np.frombuffer(data[: len(data) // 4 * 4], dtype="<f4").astype(np.float32)
        if bits == 64:
            return np.frombuffer(data[: len(data) // 8 * 8], dtype="<f8").astype(np.float32)
    if tag == _FMT_PCM:
        if bits == 8:
            return (np.frombuffer(data, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
        if bits == 16:
            return np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0
        if bits == 24:
            b = np.frombuffer(data[: len(data) // 3 * 3], dtype=np.uint8).reshape(-1, 3).astype(np.int32)
            v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
            v = np.where(v & 0x800000, v - 0x1000000, v)
            return v.astype(np.float32) / 8388608.0
        if bits == 32:
            return np.frombuffer(data[: len(data) // 4 * 4], dtype="<i4").astype(np.float32) / 2147483648.0
    raise AudioError(f"{name}: unsupported WAV encoding (format tag {tag}, {bits} bits); "
                     f"convert to 16-bit PCM, e.g. `ffmpeg -i INPUT -ar 16000 -ac 1 -c:a pcm_s16le OUT.wav`")


def decode_wav(raw: bytes, target_rate: int | None = None, name: str = "audio") -> tuple[np.ndarray, int]:
    """WAV bytes -> (float32 mono, rate); resampled to target_rate when given."""
    audio, rate = _decode_wav_bytes(raw, name)
    if target_rate and target_rate != rate:
        audio = resample(audio, rate, target_rate)
        rate = target_rate
    return audio, rate


def read_audio(path: str | Path, target_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Read any WAV (PCM 8/16/24/32, float, mu-law, A-law; any rate; stereo mixed down).

    Returns (float32 mono in [-1, 1], sample rate). Raises AudioError with a clear message.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise AudioError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise AudioError(f"{p}: is a folder, not a WAV file") from None
    except OSError as exc:
        raise AudioError(f"{p}: cannot read ({exc.strerror or exc})") from None
    return decode_wav(raw, target_rate, name=str(p))


def encode_wav(samples: np.ndarray, rate: int) -> bytes:
    """int16 (or float) PCM [n] or [n, channels] -> 16-bit PCM WAV bytes."""
    a = np.asarray(samples)
    pcm = to_int16(a) if a.dtype != np.int16 else a
    channels = 1 if pcm.ndim == 1 else int(pcm.shape[1])
    body = np.ascontiguousarray(pcm, dtype="<i2").tobytes()
    header = struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + len(body), b"WAVE", b"fmt ", 16, _FMT_PCM,
                         channels, rate, rate * channels * 2, channels * 2, 16, b"data", len(body))
    return header + body


def write_wav(path: str | Path, samples: np.ndarray, rate: int) -> Path:
    """Write 16-bit PCM WAV atomically (temp file + rename). Returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp{np.random.randint(1 << 30)}")
    tmp.write_bytes(encode_wav(samples, rate))
    tmp.replace(p)
    return p


def write_g711_wav(path: str | Path, samples: np.ndarray, rate: int, law: str = "ulaw") -> Path:
    """Write a G.711 WAV (format tag 7 for mu-law, 6 for A-law) — what phone systems record."""
    data = ulaw_encode(samples) if law == "ulaw" else alaw_encode(samples)
    tag = _FMT_ULAW if law == "ulaw" else _FMT_ALAW
    header = struct.pack("<4sI4s4sIHHIIHHH4sI", b"RIFF", 38 + len(data), b"WAVE", b"fmt ", 18, tag, 1,
                         rate, rate, 1, 8, 0, b"data", len(data))
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(header + data + (b"\0" if len(data) & 1 else b""))
    return p


class StreamResampler:
    """Resample a live stream frame by frame, keeping filter state across frames (no clicks at edges)."""

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        import soxr

        self.src_rate, self.dst_rate = src_rate, dst_rate
        # "QQ" (cubic) adds ~0.25 ms of delay; the HQ filters buffer 60-120 ms, which would sit
        # directly in the voice-to-voice latency of every turn.
        self._stream = soxr.ResampleStream(src_rate, dst_rate, 1, dtype="int16", quality="QQ")

    def process(self, samples: np.ndarray, last: bool = False) -> np.ndarray:
        return self._stream.resample_chunk(_as_int16(samples), last=last)
