"""At the identity question, "not me" is a denial, never a confirmation (session 12: the model read 不是我 and
"It's not me." as confirm_identity, which sent a wrong party to the ID question instead of asking who they are)."""
from __future__ import annotations

from datetime import date

import pytest

import nlu
from nlu.identity_denial import denies_identity
from nlu.text import normalize

TODAY = date(2026, 11, 23)


@pytest.fixture(scope="module")
def classify():
    nlu.load_model()
    return nlu.classify


@pytest.mark.parametrize("lang,text", [
    ("zh", "不是我。"), ("zh", "这不是我。"), ("zh", "我不是本人。"), ("zh", "嗯，不是我啊。"),
    ("en", "It's not me."), ("en", "That's not me."), ("en", "Sorry, not me."), ("en", "No, I'm not him."),
])
def test_not_me_at_the_identity_question_is_never_a_confirmation(classify, lang, text):
    u = classify(text, lang, "identity", TODAY)
    assert u.intent != "confirm_identity" and u.intent in ("deny", "not_interested", "wrong_number", "third_party")


@pytest.mark.parametrize("lang,text", [
    ("zh", "对，是我。"), ("zh", "是我本人。"), ("zh", "我就是。"), ("zh", "我不是说了吗，就是我。"),
    ("en", "Yes, that's me."), ("en", "Speaking."), ("en", "Yeah it's me."), ("en", "Yes, I'm her."),
])
def test_a_confirmation_stays_a_confirmation(classify, lang, text):
    assert classify(text, lang, "identity", TODAY).intent == "confirm_identity"


def test_the_denial_patterns_read_both_scripts_and_not_a_question():
    assert denies_identity(normalize("不是 我"))  # the ASR's spaces do not hide it
    assert not denies_identity(normalize("是不是我本人？"))  # a question back, not a denial
    assert denies_identity(normalize("IT'S NOT ME!")) and not denies_identity(normalize("it's me, not him"))
