"""Bench helpers (telephone channel, WER/CER normalisation) and the noise suppressor."""
from __future__ import annotations

import numpy as np
import pytest

from speech.asr.postprocess import drop_echo
from speech.audio import read_audio
from speech.bench import VOICES_DIR, error_rate, normalize_zh, telephone_channel
from speech.denoise import suppress_noise


def snr_db(clean: np.ndarray, test: np.ndarray) -> float:
    n = min(len(clean), len(test))
    noise = test[:n] - clean[:n]
    return 10 * np.log10(np.sum(clean[:n] ** 2) / np.sum(noise ** 2))


def test_telephone_channel_is_band_limited_noisy_and_deterministic():
    x, _ = read_audio(VOICES_DIR / "en_040.wav", 16000)
    y = telephone_channel(x, snr_db=20, seed=1)
    assert y.dtype == np.float32 and abs(len(y) - len(x)) <= 2
    assert np.array_equal(y, telephone_channel(x, snr_db=20, seed=1))
    assert 10 < snr_db(x, y) < 25  # noise + mu-law + 4 kHz band limit
    spectrum = np.abs(np.fft.rfft(y)) ** 2
    freqs = np.fft.rfftfreq(len(y), 1 / 16000)
    assert spectrum[freqs > 4200].sum() < 0.01 * spectrum.sum()


def test_error_rates_normalise_numbers_and_punctuation():
    assert error_rate(["我明天还两千块钱"], ["我明天还2000块钱。"], "zh") == 0.0
    assert error_rate(["I can pay two hundred dollars."], ["I can pay $200"], "en") == 0.0
    assert error_rate(["对，就是我本人"], ["对就是我"], "zh") == pytest.approx(2 / 6)
    assert error_rate(["yes it is me"], [""], "en") == 1.0


def test_zh_numbers_score_alike_in_either_script():
    """The same number written in digits or in characters is not an error, whichever side has which."""
    same = [("我下个月五号先还三千二，行不行？", "我下个月5号先还3200,行不行"),
            ("卡号后四位是3 8 0 6。", "卡号后四位是三八零六"),
            ("邮编是0 5 1 9零零", "邮编是零五一九零零"),
            ("出生日期啊，一九八四年七月二号。", "出生日期啊1984年7月2号"),
            ("那就先给我记两百五十块吧", "那就先给我记250块吧"),
            ("利率是百分之三点五", "利率是3.5%"),
            ("一万二", "12000"), ("四百八", "480"), ("一千五百块", "1500块")]
    for ref, hyp in same:
        assert normalize_zh(ref) == normalize_zh(hyp), (ref, hyp)
        assert error_rate([ref], [hyp], "zh") == 0.0
        assert error_rate([hyp], [ref], "zh") == 0.0
    # a different number is still an error, and so is a lost leading zero of a digit string
    assert error_rate(["卡号后四位是3806"], ["卡号后四位是3807"], "zh") > 0
    assert error_rate(["邮编是0519"], ["邮编是519"], "zh") > 0
    assert error_rate(["我先还三千二"], ["我先还三千"], "zh") > 0


def test_en_digits_said_one_by_one_score_alike_however_they_are_spaced():
    """English gets the rule Mandarin has: digits written apart are one digit string on both sides."""
    from speech.bench import normalize_en

    same = [("Yeah, the zip code is 8 1 0 4 0.", "Yeah, the zip code is 81040."),
            ("My account number ends in 4 7 1 2, I think.", "My account number ends in 4-7-1-2, I think."),
            ("It ends in 2 2 6 5.", "It ends in two two six five."),
            ("It ends in 8104.", "It ends in eight one oh four.")]
    for ref, hyp in same:
        assert normalize_en(ref) == normalize_en(hyp), (ref, hyp)
        assert error_rate([ref], [hyp], "en") == 0.0
        assert error_rate([hyp], [ref], "en") == 0.0
    # a wrong or missing digit still counts, money and times keep their shape, a decimal is not joined
    assert error_rate(["it ends in 8 1 0 4"], ["it ends in 8 1 0 5"], "en") > 0
    assert error_rate(["the zip code is 8 1 0 4 0"], ["the zip code is 8104"], "en") > 0
    assert normalize_en("I can pay $1,150 around 4:30") == "i can pay $1150 around 4 30"
    assert normalize_en("maybe 6 to 8 weeks") == "maybe 6 to 8 weeks"
    assert normalize_en("it was 2 3.5 times") != normalize_en("it was 23.5 times")


def test_noise_suppression_raises_snr_and_keeps_silence_silent():
    x, _ = read_audio(VOICES_DIR / "zh_002.wav", 16000)
    rng = np.random.default_rng(0)
    noisy = x + rng.normal(0, np.sqrt(np.mean(x ** 2) / 100), len(x)).astype(np.float32)  # 20 dB
    cleaned = suppress_noise(noisy)
    assert len(cleaned) == len(x)
    assert snr_db(x, cleaned) > snr_db(x, noisy) + 2
    assert np.abs(suppress_noise(np.zeros(16000, np.float32))).max() == 0.0


def test_drop_echo_removes_restarts_only():
    assert drop_echo("Yeah, that's me. What's going on? Yeah, that's me. What") == "Yeah, that's me. What's going on?"
    assert drop_echo("我在开车，不方便接电话。我在开") == "我在开车，不方便接电话"
    assert drop_echo("I want to pay, I want to pay it all.") == "I want to pay, I want to pay it all."
    assert drop_echo("好的好的") == "好的好的"


def test_comparison_with_the_reference_engine():
    from speech.bench import compare_with

    engines = {"openai-full": {"total_s": 160.0, "wer_en": 0.048, "cer_zh": 0.18},
               "faster": {"total_s": 20.0, "wer_en": 0.035, "cer_zh": 0.094},
               "worse": {"total_s": 20.0, "wer_en": 0.06, "cer_zh": 0.10},
               "slow": {"total_s": 80.0, "wer_en": 0.03, "cer_zh": 0.15}}
    out = compare_with(engines, "openai-full")
    assert out["reference"] == "openai-full"
    faster = out["vs_reference"]["faster"]
    assert faster["speedup"] == 8.0 and faster["faster_3x_at_equal_or_better_error"] and faster["meets_error_targets"]
    assert faster["error_delta"] == {"wer_en": -0.013, "cer_zh": -0.086}
    assert not out["vs_reference"]["worse"]["faster_3x_at_equal_or_better_error"]  # en got worse
    assert not out["vs_reference"]["slow"]["faster_3x_at_equal_or_better_error"]  # only 2x
    assert not out["vs_reference"]["slow"]["meets_error_targets"]  # zh CER above 12 %
    assert compare_with(engines, "missing") == {}


def test_error_rates_per_noise_draw_and_pooled():
    from speech.bench import _rate

    row = {"text": "yes it is me", "lang": "en"}
    clips = [(row, None, 0), (row, None, 1)]
    hyps = ["yes it is me", "yes it is"]
    assert _rate(clips, hyps, "en", 0) == 0.0
    assert _rate(clips, hyps, "en", 1) == 0.25
    assert _rate(clips, hyps, "en") == 0.125  # pooled: 1 edit in 8 words
    assert _rate(clips, hyps, "zh") is None
