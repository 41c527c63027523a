"""The follow-up scripts (ptp_reminder, ptp_broken), zh and en, both variants: valid, and they speak the
promise only after right-party verification and reach their endings."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from dialogs.library import load_script, sample_account
from dialogs.policy import Policy
from dialogs.types import Heard
from nlu.types import Understanding

TODAY = date(2025, 6, 9)
IDS = [f"collections_{k}_{lang}_{v}" for k in ("ptp_reminder", "ptp_broken") for lang in ("zh", "en") for v in "ab"]


def heard(intent, lang, **entities):
    return Heard(Understanding(intent, 0.95, lang=lang, entities=entities))


def account(lang):
    return replace(sample_account(lang, TODAY), promise_amount=1500.0, promise_date=TODAY + timedelta(days=1))


def run(script_id, lang, answers):
    p = Policy(load_script(script_id), account(lang), TODAY)
    said = []
    d = p.start()
    said += [ln.text for ln in d.lines]
    for a in answers:
        if d.end:
            break
        d = p.step(a)
        said += [ln.text for ln in d.lines]
    return d, said


def test_every_follow_up_script_is_valid_in_both_languages():
    from dialogs.validate import validate_script

    for sid in IDS:
        script = load_script(sid)
        assert script.language == sid.split("_")[-2]
        assert validate_script(script) == [], sid


@pytest.mark.parametrize("lang,amount", [("zh", "一千五百元"), ("en", "1,500")])
@pytest.mark.parametrize("variant", ["a", "b"])
def test_reminder_speaks_the_promise_after_verification_and_ends_completed(lang, amount, variant):
    sid = f"collections_ptp_reminder_{lang}_{variant}"
    d, said = run(sid, lang, [heard("confirm_identity", lang), heard("affirm", lang, last4="1234"),
                              heard("affirm", lang), heard("affirm", lang), heard("affirm", lang)])
    first = " ".join(said[:3])
    assert amount not in first  # nothing about the promise before verification
    assert any(amount in s for s in said), said
    assert d.end and d.outcome == "completed", (d, said)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("variant", ["a", "b"])
def test_broken_promise_call_can_end_in_a_new_promise(lang, variant):
    sid = f"collections_ptp_broken_{lang}_{variant}"
    new_day = (TODAY + timedelta(days=3)).isoformat()
    d, said = run(sid, lang, [heard("confirm_identity", lang), heard("affirm", lang, last4="1234"),
                              heard("promise_to_pay", lang, date=new_day, amount=2000.0),
                              heard("affirm", lang), heard("affirm", lang)])
    assert d.end and d.outcome == "ptp", (d, said)
    assert d.slots["pay_date"] == new_day
