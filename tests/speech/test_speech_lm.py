"""The domain language model that re-ranks Whisper's beams, in both languages."""
from __future__ import annotations

import math

import pytest

from speech.asr import lm as L
from speech.bench import VOICES_DIR, error_rate, load_manifest, telephone_channel


def test_ngram_probabilities_sum_to_one_and_never_reach_zero():
    model = L.NgramLM([list("我明天还钱"), list("我今天还款"), list("明天再说")], order=3)
    vocab = set("我明天还钱今款再说") | {"</s>"}
    for history in [(), ("我",), ("<s>", "<s>"), ("明", "天"), ("x", "y")]:
        total = sum(model.prob(history, u) for u in vocab)
        # what is left over belongs to units never seen (one shared slot)
        assert 0.95 < total + model.prob(history, "unseen") <= 1.0 + 1e-9
        assert model.prob(history, "从没见过") > 0
    assert model.logprob(list("我明天还钱")) > model.logprob(list("钱还天明我"))
    with pytest.raises(ValueError):
        L.NgramLM([], order=0)


def test_units_normalise_numbers_scripts_and_punctuation():
    assert L.lm_units("我還3000塊，好嗎？", "zh") == list("我还三千块好吗")
    assert L.lm_units("I can pay two hundred dollars.", "en") == L.lm_units("I can pay $200", "en")


@pytest.mark.parametrize("lang,right,misheard", [
    ("zh", "最后还款日是哪一天", "最后还怀疑是哪一天"),
    ("zh", "怎么还款，把链接发给我吧", "怎么还款，把电梯发给我吧"),
    ("en", "Can you send me the payment link?", "Can you send me the payment blink?"),
    ("en", "I lost my job and I just can't pay.", "I lost my job and I just can't take."),
])
def test_domain_model_prefers_the_domain_sentence(lang, right, misheard):
    model = L.domain_lm(lang)
    assert model.mean_logprob(L.lm_units(right, lang)) > model.mean_logprob(L.lm_units(misheard, lang)) + 0.3


def test_no_domain_model_for_other_languages():
    # the corpus itself is checked against the test split in tests/speech/test_eval_protocol.py
    with pytest.raises(ValueError, match="no domain language model"):
        L.domain_lm("fr")


def test_pick_best_weighs_the_language_model_against_the_acoustics():
    beams = [("最后还怀疑是哪一天", -0.30), ("最后还款日是哪一天", -0.45)]
    assert L.pick_best(beams, "zh", 0.3) == 1  # close call: the domain decides
    assert L.pick_best(beams, "zh", 0.0) == 0  # off: Whisper's top beam
    assert L.pick_best([(beams[0][0], -0.3), (beams[1][0], -3.0)], "zh", 0.3) == 0  # the acoustics are clear
    assert L.pick_best(beams[:1], "zh", 0.3) == 0
    assert L.pick_best([("", -0.2), ("好的", -0.25)], "zh", 0.3) in (0, 1)  # an empty beam is scored, not an error


@pytest.mark.slow
def test_rescoring_lowers_the_error_of_the_real_engine_on_the_phone_channel():
    """Ten fixtures through the telephone channel: the default engine (beams re-ranked) makes fewer
    errors than the same engine keeping Whisper's top beam."""
    import numpy as np

    from speech.asr import create_asr
    from speech.asr.faster import FasterWhisperAsr
    from speech.audio import read_audio

    default = create_asr("faster")
    plain = FasterWhisperAsr(default.model_dir, cpu_threads=1, context="cut", denoise=True,
                             beam_size=default.beam_sizes, default_prompt=default.default_prompt, lm_weight=0.0)
    rows = load_manifest()
    picked = [i for i, r in enumerate(rows) if r["file"] in {
        "zh_002.wav", "zh_009.wav", "zh_021.wav", "zh_022.wav", "zh_031.wav",
        "en_053.wav", "en_059.wav", "en_063.wav", "en_066.wav", "en_078.wav"}]
    hyps = {"rescored": {"zh": [], "en": []}, "top": {"zh": [], "en": []}}
    refs = {"zh": [], "en": []}
    for i in picked:
        row = rows[i]
        audio = telephone_channel(read_audio(VOICES_DIR / row["file"], 16000)[0], 20.0, seed=i)
        refs[row["lang"]].append(row["text"])
        hyps["rescored"][row["lang"]].append(default.transcribe(np.asarray(audio), language=row["lang"]).text)
        hyps["top"][row["lang"]].append(plain.transcribe(np.asarray(audio), language=row["lang"]).text)
    for lang in ("zh", "en"):
        rescored = error_rate(refs[lang], hyps["rescored"][lang], lang)
        top = error_rate(refs[lang], hyps["top"][lang], lang)
        # Mandarin gains; English is gated (the LM leaves the top beam only when sure): never worse
        assert (rescored < top) if lang == "zh" else (rescored <= top), (lang, rescored, top, hyps)
        assert not math.isnan(rescored)


def test_the_english_normaliser_is_whispers_and_does_not_import_torch():
    """The LM's and the bench's English units come from openai-whisper's normaliser, loaded without the `whisper`
    package (its __init__ imports torch: ~3 s of CPU in every call process that re-ranks English)."""
    import subprocess
    import sys

    code = ("import sys; from speech.asr.lm import lm_units; from speech.bench import normalize_en; "
            "print(lm_units('Mr. Smith owes two hundred dollars', 'en'), normalize_en('8 1 0 4, OK?'), "
            "'torch' in sys.modules, 'whisper' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["['mister',", "'smith',", "'owes',", "'$200']", "8104", "ok", "False", "False"]
    from whisper.normalizers import EnglishTextNormalizer

    from speech.asr.en_normalizer import english_normalizer

    for text in ("Mr. Smith owes two hundred dollars", "I'll pay on the 5th, colour", "Uh, yes, that's me."):
        assert english_normalizer()(text) == EnglishTextNormalizer()(text)


def test_the_end_of_a_sentence_is_likely_where_sentences_end_and_unweighed_after_rare_units():
    model = L.NgramLM([["no", "thanks"]] * 6 + [["no", "because", "i", "moved"]] * 6 + [["no"]] * 2, order=3)
    ends_here, goes_on = model.end_logprob(["no", "thanks"], 5), model.end_logprob(["no", "because"], 5)
    assert ends_here is not None and goes_on is not None and ends_here > math.log(0.5) > goes_on
    assert model.end_logprob(["no", "moved"], 7) is None  # "moved" seen 6 times: too rare at 7
    assert model.end_logprob(["no", "moved"], 6) is not None
    assert model.end_logprob([], 1) is None
    assert L.NgramLM([["a"]] * 3, order=1).end_logprob(["a"], 1) is not None


@pytest.mark.parametrize("lang,ends,goes_on", [("en", "No, I'm not interested.", "No, I'm."),
                                               ("zh", "不用了，谢谢。", "收到了，然后")])
def test_the_domain_model_knows_where_callers_stop(lang, ends, goes_on):
    assert L.sentence_end_logprob(ends, lang) > L.sentence_end_logprob(goes_on, lang) + 1.0
