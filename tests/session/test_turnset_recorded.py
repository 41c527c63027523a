"""The turn set spoken by real voices (agent/turnset_recorded.py): the recorded caller fixtures, complete and with
their own longest pause stretched, in the evaluation protocol's split, read from the fixtures folder only."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent.turnset import FAMILIES, plan, record
from agent.turnset_recorded import NODE_FOR_INTENT, clip_of, is_backchannel_text, load, pause_in, read_clip
from nlu.types import intent_names
from speech.evalset.material import fixture_rows


def test_every_intent_is_heard_at_a_node_of_the_bench():
    from agent.bench_stages import NODE_OF

    assert set(NODE_FOR_INTENT) == set(intent_names())
    assert set(NODE_FOR_INTENT.values()) <= set(NODE_OF)


def test_each_fixture_keeps_its_split_in_both_languages():
    turns = plan(voices="recorded")
    split_of = {f"rec-{Path(r['file']).stem}": r["split"] for r in fixture_rows()}
    assert {t.template for t in turns if t.kind == "complete"} == set(split_of)
    assert all(t.split == split_of[t.template] for t in turns)
    for lang in ("zh", "en"):
        for split in ("dev", "test"):
            kinds = {t.kind for t in turns if t.lang == lang and t.split == split}
            assert {"complete", "paused", "interruption"} <= kinds, (lang, split, kinds)
    assert plan(("en",), ("dev",), "recorded") == [t for t in turns if t.lang == "en" and t.split == "dev"]
    assert "recorded" in FAMILIES


def test_a_paused_turn_exists_only_where_the_clip_pauses_and_its_pause_is_drawn_in_range():
    turns = plan(voices="recorded")
    paused = {t.template: t for t in turns if t.kind == "paused"}
    for t in turns:
        if t.kind == "complete":
            assert (t.template in paused) == (pause_in(clip_of(t)) is not None)
    assert all(300 <= t.pause_ms <= 700 and t.pause_ms % 20 == 0 for t in paused.values())
    assert len(paused) >= 30


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_longest_recorded_pause_is_stretched_never_cut(lang):
    turn = next(t for t in plan((lang,), ("dev",), "recorded") if t.kind == "paused")
    name = clip_of(turn)
    clip = read_clip(name)
    start, end = pause_in(name)
    pieces, voice_end_ms = load(turn)
    joined = np.concatenate(pieces)
    assert len(joined) == len(clip) + max(0, 16 * turn.pause_ms - (end - start))
    assert voice_end_ms == start // 16
    # the recorded audio is all there, in order, around the inserted silence
    assert np.array_equal(np.concatenate([pieces[0], pieces[-1]]), clip)
    assert not pieces[1].any()
    complete = next(t for t in plan((lang,), ("dev",), "recorded")
                    if t.kind == "complete" and t.template == turn.template)
    assert np.array_equal(np.concatenate(load(complete)[0]), clip)


def test_a_recorded_turn_goes_through_the_phone_line_and_is_cached(tmp_path):
    turn = next(t for t in plan(("zh",), ("dev",), "recorded") if t.kind == "paused")
    record([turn], tmp_path)
    assert turn.audio is not None and turn.audio.dtype == np.float32
    frames = turn.audio[: len(turn.audio) // 320 * 320].reshape(-1, 320)
    rms = np.sqrt((frames ** 2).mean(axis=1))
    start = turn.voice_end_ms // 20  # where the VAD heard the first part end (its lag after the voice included)
    assert rms[start - 15: start].max() > 0.1, "voice before the pause"
    quiet = rms[start + 1: start + (turn.pause_ms - 100) // 20]
    assert quiet.size and quiet.max() < 0.03, "the pause holds only the line noise"
    assert rms[start + turn.pause_ms // 20: start + turn.pause_ms // 20 + 25].max() > 0.1, "no second part"
    again = [t for t in plan(("zh",), ("dev",), "recorded") if t.id == turn.id]
    record(again, tmp_path)
    assert np.array_equal(again[0].audio, turn.audio)
    assert len(list(tmp_path.glob("*.npz"))) == 1


@pytest.mark.parametrize("name", ["../manifest.jsonl", "../../../pyproject.toml", "/etc/passwd", "zh_000.mp3"])
def test_only_wav_files_inside_the_fixtures_folder_are_read(name):
    with pytest.raises(ValueError, match="not a recorded fixture"):
        read_clip(name)


def test_backchannels_are_one_or_two_word_agreements():
    assert is_backchannel_text("嗯，对的", "zh") and is_backchannel_text("Mm-hmm, right.", "en")
    assert not is_backchannel_text("好的，没问题", "zh") and not is_backchannel_text("Yes, that's fine.", "en")

