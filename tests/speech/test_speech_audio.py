"""speech/audio.py: G.711 codecs, resampling, sample formats, WAV reading and clear errors."""
from __future__ import annotations

import struct
import warnings

import numpy as np
import pytest

from speech import audio as A
from speech.audio import AudioError

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop  # reference implementation (removed in Python 3.13)
    except ImportError:  # pragma: no cover
        audioop = None

ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16)


def tone(freq: float, rate: int, seconds: float = 0.5, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.skipif(audioop is None, reason="audioop not available")
@pytest.mark.parametrize("law", ["ulaw", "alaw"])
def test_g711_bit_exact_against_reference(law):
    enc = A.ulaw_encode if law == "ulaw" else A.alaw_encode
    dec = A.ulaw_decode if law == "ulaw" else A.alaw_decode
    ref_enc = audioop.lin2ulaw if law == "ulaw" else audioop.lin2alaw
    ref_dec = audioop.ulaw2lin if law == "ulaw" else audioop.alaw2lin
    assert enc(ALL_INT16) == ref_enc(ALL_INT16.tobytes(), 2)
    codes = bytes(range(256))
    assert dec(codes).tobytes() == ref_dec(codes, 2)


@pytest.mark.parametrize("law", ["ulaw", "alaw"])
def test_g711_round_trip_is_stable_and_close(law):
    enc = A.ulaw_encode if law == "ulaw" else A.alaw_encode
    dec = A.ulaw_decode if law == "ulaw" else A.alaw_decode
    once = dec(enc(ALL_INT16))
    assert once.dtype == np.int16 and len(once) == len(ALL_INT16)
    # decoding then re-encoding a code gives back the same code (idempotent)
    codes = bytes(range(256))
    again = enc(dec(codes))
    differing = [i for i in range(256) if again[i] != codes[i]]
    assert differing == ([0x7F] if law == "ulaw" else [])  # mu-law has two zeros (0x7F, 0xFF)
    # relative error of a log codec stays small on a speech-level tone
    x = A.to_int16(tone(440, 8000))
    y = dec(enc(x)).astype(np.float64)
    snr = 10 * np.log10(np.sum(x.astype(np.float64) ** 2) / np.sum((x - y) ** 2))
    assert snr > 30
    assert len(enc(x)) == len(x)  # one byte per sample


def test_resample_keeps_dtype_length_and_tone():
    x16 = tone(440, 16000, 1.0)
    x8 = A.resample(x16, 16000, 8000)
    assert x8.dtype == np.float32 and abs(len(x8) - 8000) <= 1
    back = A.resample(x8, 8000, 16000)
    assert abs(len(back) - 16000) <= 2
    n = min(len(back), len(x16))
    err = np.abs(back[200:n - 200] - x16[200:n - 200]).max()
    assert err < 0.02
    i16 = A.to_int16(x16)
    r = A.resample(i16, 16000, 8000)
    assert r.dtype == np.int16
    # a 6 kHz tone cannot survive 8 kHz sampling: the anti-alias filter removes it
    hi = A.resample(tone(6000, 16000, 1.0), 16000, 8000)
    assert np.sqrt(np.mean(hi[400:-400] ** 2)) < 0.01


def test_int16_float32_conversions_clip_and_round_trip():
    f = np.array([-1.5, -1.0, 0.0, 0.5, 1.0, 2.0], dtype=np.float32)
    i = A.to_int16(f)
    assert i.tolist() == [-32768, -32768, 0, 16384, 32767, 32767]
    assert A.to_float32(np.array([16384], dtype=np.int16))[0] == pytest.approx(0.5)
    assert np.array_equal(A.to_int16(A.to_float32(ALL_INT16)), ALL_INT16)


def _wav(tag: int, channels: int, rate: int, bits: int, data: bytes) -> bytes:
    align = channels * bits // 8
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits)
    return (b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data)) + b"WAVE"
            + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"LIST" + struct.pack("<I", 4) + b"INFO"
            + b"data" + struct.pack("<I", len(data)) + data)


@pytest.mark.parametrize("kind", ["pcm8", "pcm16", "pcm24", "pcm32", "float32", "ulaw", "alaw", "stereo", "rate44k"])
def test_read_audio_formats(tmp_path, kind):
    rate = 44100 if kind == "rate44k" else 8000
    x = tone(300, rate, 0.5, amp=0.4)
    i16 = A.to_int16(x)
    if kind == "pcm8":
        raw = _wav(1, 1, rate, 8, (np.round(x * 127) + 128).astype(np.uint8).tobytes())
    elif kind in ("pcm16", "rate44k"):
        raw = _wav(1, 1, rate, 16, i16.tobytes())
    elif kind == "pcm24":
        v = np.round(x * 8388607).astype(np.int32)
        b = np.stack([v & 0xFF, (v >> 8) & 0xFF, (v >> 16) & 0xFF], axis=1).astype(np.uint8)
        raw = _wav(1, 1, rate, 24, b.tobytes())
    elif kind == "pcm32":
        raw = _wav(1, 1, rate, 32, np.round(x * 2147483647).astype("<i4").tobytes())
    elif kind == "float32":
        raw = _wav(3, 1, rate, 32, x.astype("<f4").tobytes())
    elif kind == "ulaw":
        raw = _wav(7, 1, rate, 8, A.ulaw_encode(i16))
    elif kind == "alaw":
        raw = _wav(6, 1, rate, 8, A.alaw_encode(i16))
    else:  # stereo: left = tone, right = silence -> mixed down to half amplitude
        raw = _wav(1, 2, rate, 16, np.stack([i16, np.zeros_like(i16)], axis=1).tobytes())
    path = tmp_path / f"{kind}.wav"
    path.write_bytes(raw)
    audio, got_rate = A.read_audio(path)
    assert got_rate == rate and audio.dtype == np.float32 and audio.ndim == 1
    expect = x / 2 if kind == "stereo" else x
    assert len(audio) == len(x)
    assert np.abs(audio - expect).max() < 0.03
    res, r16 = A.read_audio(path, target_rate=16000)
    assert r16 == 16000 and abs(len(res) - len(x) * 16000 / rate) <= 2


def test_write_wav_round_trip_mono_and_stereo(tmp_path):
    x = A.to_int16(tone(500, 16000, 0.2))
    p = A.write_wav(tmp_path / "m.wav", x, 16000)
    y, rate = A.read_audio(p)
    assert rate == 16000 and np.array_equal(A.to_int16(y), x)
    st = np.stack([x, x], axis=1)
    p2 = A.write_wav(tmp_path / "s.wav", st, 8000)
    y2, rate2 = A.read_audio(p2)
    assert rate2 == 8000 and np.array_equal(A.to_int16(y2), x)
    g = A.write_g711_wav(tmp_path / "u.wav", x, 8000)
    y3, _ = A.read_audio(g)
    assert np.abs(y3 - A.to_float32(x)).max() < 0.02


def test_fixture_reads_at_16k():
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "telephony_adapter/sim/voices/zh_000.wav"
    audio, rate = A.read_audio(path, 16000)
    assert rate == 16000 and len(audio) > 16000 and np.abs(audio).max() > 0.05


@pytest.mark.parametrize("content, needle", [
    (b"", "empty"),
    (b"ID3\x03\x00\x00\x00 this is an mp3", "not a WAV"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt ", "truncated"),
    ("truncated-data", "truncated"),
    ("no-samples", "no audio"),
])
def test_bad_files_give_clear_errors(tmp_path, content, needle):
    if content == "truncated-data":
        full = _wav(1, 1, 16000, 16, np.zeros(16000, dtype=np.int16).tobytes())
        content = full[: len(full) // 2]
    elif content == "no-samples":
        content = _wav(1, 1, 16000, 16, b"")
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError) as err:
        A.read_audio(path)
    assert needle in str(err.value) and str(path) in str(err.value)


def test_missing_file_and_audio_error_is_user_error(tmp_path):
    from agent.errors import USER_ERRORS
    from speech.errors import SpeechError

    with pytest.raises(SpeechError, match="no such file") as err:
        A.read_audio(tmp_path / "nope.wav")
    assert isinstance(err.value, USER_ERRORS)  # the CLI and the API show it as one clear line
