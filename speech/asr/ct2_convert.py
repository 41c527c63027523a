"""Convert CTranslate2 Whisper weights (model.bin) into an openai-whisper checkpoint (.pt), losslessly.

CTranslate2's model.bin (binary version 6) is: u32 version, string spec name, u32 spec revision,
u32 variable count, then per variable: string name, u8 rank, u32 dims[rank], u8 dtype
(0 f32, 1 i8, 2 i16, 3 i32, 4 f16, 5 bf16), u32 byte count, raw little-endian bytes; then u32
alias count and (alias, target) string pairs. Strings are u16 length (with the trailing NUL) + bytes.

The mapping below places each tensor where openai-whisper's `Whisper` module expects it; fused
projections are split (self-attention QKV, cross-attention KV). Values are copied bit for bit
(float16 stays float16), so `whisper.load_model(path)` reproduces the CTranslate2 model exactly
(up to int8 quantisation, which only CTranslate2 applies at load time).
"""
from __future__ import annotations

import os
import struct
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from speech.errors import SpeechError

_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


class ConversionError(SpeechError):
    """The CTranslate2 model cannot be read or mapped."""


def read_ct2_model(path: Path | str) -> dict[str, np.ndarray]:
    """Read every variable (and alias) of a CTranslate2 model.bin into numpy arrays."""
    data = Path(path).read_bytes()
    pos = 0

    def take(fmt: str):
        nonlocal pos
        size = struct.calcsize(fmt)
        if pos + size > len(data):
            raise ConversionError(f"{path}: truncated CTranslate2 model")
        values = struct.unpack_from(fmt, data, pos)
        pos += size
        return values

    def string() -> str:
        nonlocal pos
        (n,) = take("<H")
        raw = data[pos:pos + n]
        pos += n
        return raw.rstrip(b"\0").decode("utf-8")

    (version,) = take("<I")
    if version < 5:
        raise ConversionError(f"{path}: CTranslate2 binary version {version} is too old (need >= 5)")
    spec = string()
    if spec != "WhisperSpec":
        raise ConversionError(f"{path}: not a Whisper model (spec {spec!r})")
    take("<I")  # spec revision
    (count,) = take("<I")
    variables: dict[str, np.ndarray] = {}
    for _ in range(count):
        name = string()
        (rank,) = take("<B")
        dims = take("<" + "I" * rank) if rank else ()
        (dtype_id,) = take("<B")
        (nbytes,) = take("<I")
        if dtype_id == 5:  # bfloat16 -> float32 by widening the upper 16 bits
            raw = np.frombuffer(data, dtype="<u2", count=nbytes // 2, offset=pos).astype(np.uint32) << 16
            array = raw.view(np.float32)
        elif dtype_id in _DTYPES:
            dt = np.dtype(_DTYPES[dtype_id]).newbyteorder("<")
            array = np.frombuffer(data, dtype=dt, count=nbytes // dt.itemsize, offset=pos)
        else:
            raise ConversionError(f"{path}: unknown dtype id {dtype_id} for {name}")
        pos += nbytes
        variables[name] = array.reshape(dims) if dims else array.reshape(())
    if pos + 4 <= len(data):
        (aliases,) = take("<I")
        for _ in range(aliases):
            alias, target = string(), string()
            variables[alias] = variables[target]
    return variables


def _layers(variables: dict[str, np.ndarray], prefix: str) -> int:
    n = 0
    while f"{prefix}/layer_{n}/ffn/linear_0/weight" in variables:
        n += 1
    return n


def ct2_to_openai_state(variables: dict[str, np.ndarray]) -> tuple[dict, dict[str, np.ndarray]]:
    """Return (openai-whisper ModelDimensions as dict, state_dict as numpy arrays)."""
    v = variables
    if any(str(k).endswith("weight_scale") for k in v):
        raise ConversionError("the CTranslate2 model is int8-quantised; convert a float16/float32 model instead")
    state: dict[str, np.ndarray] = {}

    def put(name: str, array: np.ndarray) -> None:
        state[name] = np.ascontiguousarray(array)

    def linear(dst: str, src: str, bias: bool = True) -> None:
        put(f"{dst}.weight", v[f"{src}/weight"])
        if bias:
            put(f"{dst}.bias", v[f"{src}/bias"])

    def norm(dst: str, src: str) -> None:
        put(f"{dst}.weight", v[f"{src}/gamma"])
        put(f"{dst}.bias", v[f"{src}/beta"])

    def split_qkv(dst: str, src: str) -> None:
        w, b = v[f"{src}/weight"], v[f"{src}/bias"]
        d = w.shape[1]
        put(f"{dst}.query.weight", w[:d])
        put(f"{dst}.query.bias", b[:d])
        put(f"{dst}.key.weight", w[d:2 * d])  # Whisper's key projection has no bias (CT2 stores zeros)
        put(f"{dst}.value.weight", w[2 * d:])
        put(f"{dst}.value.bias", b[2 * d:])

    n_enc, n_dec = _layers(v, "encoder"), _layers(v, "decoder")
    linear("encoder.conv1", "encoder/conv1")
    linear("encoder.conv2", "encoder/conv2")
    put("encoder.positional_embedding", v["encoder/position_encodings/encodings"])
    norm("encoder.ln_post", "encoder/layer_norm")
    for i in range(n_enc):
        src, dst = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        split_qkv(f"{dst}.attn", f"{src}/self_attention/linear_0")
        linear(f"{dst}.attn.out", f"{src}/self_attention/linear_1")
        norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
        linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")
        norm(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")
    put("decoder.token_embedding.weight", v["decoder/embeddings/weight"])
    put("decoder.positional_embedding", v["decoder/position_encodings/encodings"])
    norm("decoder.ln", "decoder/layer_norm")
    for i in range(n_dec):
        src, dst = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        split_qkv(f"{dst}.attn", f"{src}/self_attention/linear_0")
        linear(f"{dst}.attn.out", f"{src}/self_attention/linear_1")
        norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        linear(f"{dst}.cross_attn.query", f"{src}/attention/linear_0")
        kv_w, kv_b = v[f"{src}/attention/linear_1/weight"], v[f"{src}/attention/linear_1/bias"]
        d = kv_w.shape[1]
        put(f"{dst}.cross_attn.key.weight", kv_w[:d])
        put(f"{dst}.cross_attn.value.weight", kv_w[d:])
        put(f"{dst}.cross_attn.value.bias", kv_b[d:])
        linear(f"{dst}.cross_attn.out", f"{src}/attention/linear_2")
        norm(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
        linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
        linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")
        norm(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")

    conv1 = v["encoder/conv1/weight"]
    dims = {
        "n_mels": int(conv1.shape[1]),
        "n_audio_ctx": int(v["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": int(conv1.shape[0]),
        "n_audio_head": int(v["encoder/num_heads"]),
        "n_audio_layer": n_enc,
        "n_vocab": int(v["decoder/embeddings/weight"].shape[0]),
        "n_text_ctx": int(v["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(v["decoder/embeddings/weight"].shape[1]),
        "n_text_head": int(v["decoder/num_heads"]),
        "n_text_layer": n_dec,
    }
    return dims, state


def convert_ct2_to_openai(model_dir: Path | str, out_path: Path | str) -> Path:
    """Write an openai-whisper checkpoint {"dims", "model_state_dict"} for a CTranslate2 Whisper folder."""
    import torch
    from whisper.model import ModelDimensions, Whisper

    model_dir, out_path = Path(model_dir), Path(out_path)
    dims, state = ct2_to_openai_state(read_ct2_model(model_dir / "model.bin"))
    # check the mapping covers the module exactly before writing anything
    expected = Whisper(ModelDimensions(**dims)).state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ConversionError(f"weight mapping mismatch: missing {missing[:5]}, unexpected {unexpected[:5]}")
    for name, array in state.items():
        if tuple(expected[name].shape) != tuple(array.shape):
            raise ConversionError(f"{name}: shape {array.shape} != expected {tuple(expected[name].shape)}")
    tensors = {k: torch.from_numpy(np.array(a)) for k, a in state.items()}
    checkpoint = {"dims": asdict(ModelDimensions(**dims)), "model_state_dict": tensors}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_path.name}.", dir=out_path.parent)
    os.close(fd)
    try:
        torch.save(checkpoint, tmp)
        os.replace(tmp, out_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out_path


def default_checkpoint_path(model_dir: Path | str, cache_dir: Path | str = Path("var/cache")) -> Path:
    """Where the converted checkpoint of a CTranslate2 folder is kept: <cache_dir>/whisper/<name>-openai.pt."""
    return Path(cache_dir) / "whisper" / f"{Path(model_dir).name}-openai.pt"
