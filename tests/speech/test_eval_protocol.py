"""The evaluation protocol: one dev/test split by template, and nothing trained or tuned near test."""
from __future__ import annotations

import pytest

from speech.evalset import fresh
from speech.evalset import material as M
from speech.evalset.material import fixture_rows
from speech.evalset.protocol import TestGuard, normalize, template_split


def test_normalising_removes_punctuation_and_spaces_in_both_scripts():
    assert normalize("是的，没错") == normalize("是的没错") == normalize("是的 没错。")
    assert normalize("Yes, it's me.") == normalize("yes its me")
    assert normalize("還款") == normalize("还款")
    assert normalize("I can pay {amount} on {date}.") == normalize("I can pay on")


def test_the_split_follows_the_template_not_the_surface():
    assert template_split("是的，没错") == template_split("是的 没错")
    rows = fresh.utterances()  # built once (each build reads the slot file per template)
    for template in fresh.templates("en")[:20] + fresh.templates("zh")[:20]:
        splits = {u.split for u in rows if u.template == template}
        assert splits == {template_split(template)}  # every fill and voice of a template on one side
    splits = {template_split(t) for t in fresh.templates("zh")}
    assert splits == {"dev", "test"}


def test_the_fresh_set_has_at_least_200_test_utterances_per_language():
    rows = fresh.utterances()
    for lang in ("en", "zh"):
        test = [u for u in rows if u.lang == lang and u.split == "test"]
        assert len(test) >= 200
        assert len({(u.speed, u.pitch) for u in test}) >= 3  # several voices per sentence
        assert len({u.text for u in test}) >= 60  # distinct sentences; each voiced up to four ways


def test_the_guard_catches_copies_rewordings_and_containment():
    guard = TestGuard(["是的，没错", "How did you even get this number?"])
    assert guard.too_close("是的没错")  # punctuation only
    assert guard.too_close("是的 没错！")
    assert guard.too_close("how did you even get this number")
    assert guard.too_close("How did you ever get this number?")  # one word changed
    assert guard.too_close("Hi. How did you even get this number, sir?")  # contains it
    assert not guard.too_close("I can pay on Friday.")
    assert not guard.too_close("我明天还钱")


def test_the_language_model_never_trains_on_test_sentences(monkeypatch):
    from speech.asr import lm

    guard = M.test_guard()
    for lang in ("zh", "en"):
        kept = lm.training_sentences(lang)
        assert len(kept) > 1000
        assert guard.leaks(kept) == []
    # and the filter is real (the NLU corpus itself is now pruned, tests/nlu/test_nlu_protocol.py, so plant one)
    from nlu.corpus import Example

    planted = next(s for s in guard.sentences if len(normalize(s)) > 8 and not s.isascii())
    lm._corpus.cache_clear()
    clean = "小区门口新开了一家面馆"
    monkeypatch.setattr(lm, "_corpus", lambda: (Example(planted, "zh", "affirm"), Example(clean, "zh", "affirm")))
    assert lm.training_sentences("zh") == [clean]


def test_prompts_hold_nothing_from_test():
    from speech.asr.prompts import domain_prompt

    guard = M.test_guard()
    for lang in ("zh", "en"):
        # the fixed wording (the callee's name and amounts come from the account at call time)
        prompt = domain_prompt(lang, lender="Northwind Credit", amounts=["1,234"])
        pieces = [p for p in prompt.replace("。", ".").split(".") if p.strip()]
        assert guard.leaks(pieces) == [], lang
    from speech.asr.prompts import DIGIT_PROMPTS

    for lang, prompt in DIGIT_PROMPTS.items():  # the prompt at the digits question
        pieces = [p for p in prompt.replace("。", ".").replace("，", ".").split(".") if p.strip()] + [prompt]
        assert guard.leaks(pieces) == [], lang


def test_fixture_and_nlu_test_rows_are_in_the_guard():
    texts = set(M.test_sentences())
    assert {r["text"] for r in fixture_rows() if r["split"] == "test"} <= texts
    assert any(u.text in texts for u in fresh.utterances() if u.split == "test")
    assert not any(u.text in texts for u in fresh.utterances() if u.split == "dev" and
                   template_split(u.text) == "dev" and u.text == u.template)


@pytest.mark.parametrize("weight,margin,expected", [(0.3, 0.0, 1), (0.3, 5.0, 0), (0.0, 0.0, 0)])
def test_reranking_leaves_the_top_beam_only_past_the_margin(weight, margin, expected):
    from speech.asr.lm import NgramLM, pick_best

    model = NgramLM([list("最后还款日是哪一天")] * 3, order=3)
    beams = [("最后还怀疑是哪一天", -0.30), ("最后还款日是哪一天", -0.45)]
    assert pick_best(beams, "zh", weight, lm=model, margin=margin) == expected


def test_a_broken_intent_model_fails_to_load(tmp_path):
    from nlu.classifier import load_model

    broken = tmp_path / "intent_v1.npz"
    broken.write_bytes(b"not a model")
    with pytest.raises(Exception):  # noqa: B017  (any error will do, as long as it is not a skip)
        load_model(broken)
