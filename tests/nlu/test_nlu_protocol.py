"""The NLU under the evaluation protocol (speech/evalset/protocol.py, issue 16): nothing it is trained or
tuned on comes within the stated limit of a test sentence, and the must-not-miss stress set is test only."""
from __future__ import annotations

import re

import yaml

from speech.evalset import material as M
from speech.evalset.protocol import TestGuard, normalize


def test_training_examples_hold_nothing_within_the_limit_of_test():
    from nlu.corpus import load_train

    leaks = M.test_guard().leaks(e.text for e in load_train())
    assert leaks == [], f"{len(leaks)} training utterances too close to test; run `python -m nlu.prune`: {leaks[:5]}"


def test_no_evaluation_row_is_a_training_utterance():
    """Dev rows may be near training (dev is for tuning), but none is a copy; punctuation and spaces do not
    hide one (是的没错 is "是的，没错")."""
    from nlu.corpus import load_train

    train = {normalize(e.text) for e in load_train()}
    copies = [(f, t) for f, t, _ in M.nlu_eval_rows() if normalize(t) in train]
    assert copies == []


def test_context_rows_are_held_out():
    from nlu.corpus import load_heldout, load_train

    train = {normalize(e.text) for e in load_train()}
    rows = [r for r in load_heldout() if r.context is not None]
    assert len(rows) >= 32
    assert [r.text for r in rows if normalize(r.text) in train] == []
    assert {r.context for r in rows} >= {"identity", "offer", "payment", "yes_no", "open"}


def test_labels_are_not_sentences():
    texts = set(M.nlu_eval_sentences())
    assert not texts & {"identity", "offer", "payment", "yes_no", "open", "confirm_identity"}


def test_the_stress_set_is_test_only():
    from nlu.bench import mnm_stress_rows

    test = set(M.test_sentences())
    stress = {r.text for r in mnm_stress_rows()}
    assert len(stress) >= 72 and stress <= test
    assert not stress & set(M.nlu_eval_sentences("dev"))


def _dev_rows() -> list[tuple[str, str]]:
    """(normalised text, intent) of what the lexicon may be tuned on: training and dev evaluation rows."""
    from nlu.corpus import DATA_DIR, load_heldout, load_train
    from nlu.text import normalize as nlu_normalize

    rows = [(nlu_normalize(e.text), e.intent) for e in load_train()]
    for name in ("heldout.yaml", "blind.yaml"):
        rows += [(nlu_normalize(r.text), r.intent) for r in load_heldout(DATA_DIR / name)
                 if M.nlu_split(r.text, name) == "dev" and r.context is None]
    return rows


def test_every_lexicon_pattern_is_justified_on_dev():
    """A pattern that catches no training or dev utterance of its intent exists only for test: it goes."""
    from nlu.guard import GUARD_FILE

    rows = _dev_rows()
    unsupported = []
    for intent, by_lang in yaml.safe_load(GUARD_FILE.read_text(encoding="utf-8"))["patterns"].items():
        for lang in ("zh", "en"):
            for pattern in by_lang.get(lang) or []:
                rx = re.compile(pattern)
                if not any(rx.search(t.replace(" ", "") if lang == "zh" else t) for t, i in rows if i == intent):
                    unsupported.append((intent, lang, pattern))
    assert unsupported == []


def test_english_is_measured_by_words():
    guard = TestGuard(["are you a real human", "i'm a coworker she's in a meeting", "I'm in a meeting, call back."])
    assert not guard.too_close("are you married")  # 0.41 by character bigrams without spaces
    assert guard.too_close("i'm her colleague she's in a meeting")
    assert guard.too_close("I'm in a meeting, call back later.")  # contains it
    assert not guard.too_close("i'm in")  # an apostrophe joins: two words are too short to count as a copy
    zh = TestGuard(["是的，没错"])
    assert zh.too_close("是的没错") and zh.too_close("嗯 是的 没错")
