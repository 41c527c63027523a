"""A trailing Mandarin conjunction misheard as a near-homophone still marks a turn unfinished (nlu/sounds_like.py,
nlu.complete.trailing_cue), unless the heard ending is one callers end answers with."""
from __future__ import annotations

import pytest

from nlu import complete as C
from nlu.sounds_like import sounds_like


@pytest.mark.parametrize("heard,word,expected", [
    ("不关", "不过", True),  # the second syllable half the same (the initial)
    ("盐后", "然后", True),  # the first syllable half the same (the final)
    ("然后", "然后", True),
    ("颜空", "然后", False),  # both syllables off
    ("以后", "然后", False),  # yi / ran share neither initial nor final
    ("不是", "但是", False),
    ("不", "不过", False),  # a different length
    ("嗯", "嗯", False),  # one syllable: too many neighbours to match by sound
])
def test_sounds_like_allows_one_half_syllable_off(heard, word, expected):
    assert sounds_like(heard, word) is expected


@pytest.mark.parametrize("text,cue", [
    ("我就是不关。", "ends with 不关, like 不过"),  # 不过 said, 不关 written (dev's customer voices)
    ("收到了盐后。", "ends with 盐后, like 然后"),
    ("我就是，不过", "ends with 不过"),
    ("钱不够。", None),  # sounds like 不过, but answers end so (the NLU's training answers)
    ("还款的账户是哪个？", None),  # toneless 那个
    ("听着不错", None),
    ("不关", None),  # the whole turn: not a trailing word
    ("对，是我。", None),
    ("一二九一", None),  # jiǔ yī: digits, not 就是 (session 18: the demo's ID answer waited the maximum)
    ("十一二九一", None),
    ("尾号五九十", None),
])
def test_a_misheard_trailing_conjunction_is_still_a_trailing_cue(text, cue):
    assert C.trailing_cue(text, "zh") == cue


def test_english_is_matched_by_words_not_by_sound():
    assert C.trailing_cue("Yes, and", "en") == "ends with and"
    assert C.trailing_cue("Yes, band.", "en") is None


def test_the_answer_endings_come_from_the_training_answers():
    endings = C.answer_endings()
    assert {"不够", "不错", "哪个"} <= endings and not {"不关", "盐后"} & endings
    assert C.answer_endings() is endings  # built once
