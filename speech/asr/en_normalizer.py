"""openai-whisper's EnglishTextNormalizer, loaded without importing the `whisper` package.

`whisper/__init__.py` imports torch, which costs a call process about 3 s of CPU and a few hundred MB the
first time English is re-ranked or scored, while the normaliser itself needs only the standard library,
`regex` and `more_itertools`. Its sub-package is loaded here on its own, under a private name, from the
installed openai-whisper's files (the same code, so scores are unchanged).
"""
from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path
from typing import Any

_NAME = "_dialwise_whisper_normalizers"


@functools.lru_cache(maxsize=1)
def english_normalizer() -> Any:
    """A shared EnglishTextNormalizer instance (str -> str)."""
    whisper = importlib.util.find_spec("whisper")
    if whisper is None or whisper.origin is None:
        raise ModuleNotFoundError("openai-whisper is not installed (its English normaliser scores and re-ranks)")
    folder = Path(whisper.origin).parent / "normalizers"
    spec = importlib.util.spec_from_file_location(_NAME, folder / "__init__.py",
                                                  submodule_search_locations=[str(folder)])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[_NAME] = module  # its own relative imports (.basic, .english) resolve under this name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[_NAME]
        raise
    return module.EnglishTextNormalizer()
