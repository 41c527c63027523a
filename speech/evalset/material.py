"""Every sentence the project evaluates on, with its split; the guard against test sentences.

Evaluation sets: the fresh caller sentences (speech/evalset), the 80 recorded fixtures
(telephony_adapter/sim/voices), and the NLU evaluation files (nlu/data: heldout, blind, mnm_stress,
entities_test). A set without templates uses each sentence as its own template.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

from speech.evalset.protocol import TestGuard, template_split

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "telephony_adapter" / "sim" / "voices" / "manifest.jsonl"
NLU_EVAL_FILES = ("heldout.yaml", "blind.yaml", "mnm_stress.yaml", "entities_test.yaml")


def fixture_rows(manifest: Path = FIXTURES) -> list[dict]:
    """The recorded fixtures, each with its split (a fixture is its own template)."""
    rows = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [{**r, "split": r.get("split") or template_split(r.get("template") or r["text"])} for r in rows]


TEST_ONLY = ("mnm_stress.yaml",)  # written to measure, never to tune: every sentence is test, whatever its hash


def nlu_eval_rows() -> list[tuple[str, str, str]]:
    """(file, utterance, split) for every utterance of the NLU evaluation files. Context labels and intent
    names are not utterances; the must-not-miss stress set is test only."""
    from nlu.corpus import DATA_DIR, load_heldout, load_yaml

    out: list[tuple[str, str, str]] = []
    for name in NLU_EVAL_FILES:
        path = DATA_DIR / name
        if not path.is_file():
            continue
        if name in ("heldout.yaml", "blind.yaml"):
            texts = [r.text for r in load_heldout(path)]
        elif name == "entities_test.yaml":
            texts = [str(r["text"]) for r in load_yaml(path)["rows"]]
        else:  # {intent: {lang: [utterances]}}
            texts = [str(t) for by_lang in load_yaml(path).values() for lang in ("zh", "en")
                     for t in by_lang.get(lang) or []]
        for text in dict.fromkeys(texts):
            out.append((name, text, "test" if name in TEST_ONLY else template_split(text)))
    return out


def nlu_split(text: str, file: str = "heldout.yaml") -> str:
    """The split of one NLU evaluation utterance."""
    return "test" if file in TEST_ONLY else template_split(text)


def nlu_eval_sentences(split: str | None = None) -> list[str]:
    """The utterances of the NLU evaluation files (of one split, or all)."""
    return sorted({t for _, t, sp in nlu_eval_rows() if len(t) > 1 and (split is None or sp == split)})


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
