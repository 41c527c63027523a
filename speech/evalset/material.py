"""Every sentence the project evaluates on, with its split; the guard against test sentences.

Evaluation sets: the fresh caller sentences (speech/evalset), the 80 recorded fixtures
(telephony_adapter/sim/voices), and the NLU evaluation files (nlu/data: heldout, blind, mnm_stress,
entities_test). A set without templates uses each sentence as its own template.
"""
from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path

from speech.evalset.protocol import TestGuard, template_split

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "telephony_adapter" / "sim" / "voices" / "manifest.jsonl"
NLU_EVAL_FILES = ("heldout.yaml", "blind.yaml", "mnm_stress.yaml", "entities_test.yaml")


def fixture_rows(manifest: Path = FIXTURES) -> list[dict]:
    """The recorded fixtures, each with its split (a fixture is its own template)."""
    rows = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [{**r, "split": r.get("split") or template_split(r.get("template") or r["text"])} for r in rows]


def _strings(node) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, dict):
        for key in ("text", "utterance", "say"):
            if isinstance(node.get(key), str):
                yield node[key]
                return
        for value in node.values():
            yield from _strings(value)


def nlu_eval_sentences(split: str | None = None) -> list[str]:
    """The utterances of the NLU evaluation files (intent names and other labels are not utterances)."""
    from nlu.corpus import DATA_DIR, load_yaml
    from nlu.types import intent_names

    labels = set(intent_names()) | {"zh", "en"}
    out: set[str] = set()
    for name in NLU_EVAL_FILES:
        path = DATA_DIR / name
        if path.is_file():
            out.update(s for s in _strings(load_yaml(path)) if s not in labels and len(s) > 1)
    return sorted(s for s in out if split is None or template_split(s) == split)


def test_sentences() -> list[str]:
    """Every test-split sentence of every evaluation set."""
    from speech.evalset.fresh import sentences

    texts = set(sentences("test"))
    texts.update(r["text"] for r in fixture_rows() if r["split"] == "test")
    texts.update(nlu_eval_sentences("test"))
    return sorted(texts)


@functools.lru_cache(maxsize=1)
def test_guard() -> TestGuard:
    return TestGuard(test_sentences())
