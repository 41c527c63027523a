"""`dialwise bench id-prompt`: the ID question's ASR prompts compared on dev material only. The ASR run itself is a
benchmark (minutes); these check its material and its seams."""
from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from agent import bench_id_prompt as B
from agent.cli import app as cli
from nlu.entities import extract
from speech.bench import phone_path


def test_the_bare_digit_strings_are_session_7s_and_never_the_seeded_accounts_tail():
    strings = B.bare_digit_strings()
    assert len(strings) == 15 and len(set(strings)) > 10
    assert all(len(s) == 4 and s.isdigit() for s in strings) and "1234" not in strings
    assert strings == B.bare_digit_strings()  # seeded: the same dev material every run


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_string_said_one_digit_at_a_time_parses_back_to_its_digits(lang):
    said = [B.say_digits(s, lang, i) for i, s in enumerate(B.bare_digit_strings())]
    assert [extract(t, lang, context="id_last4")["last4"] for t in said] == B.bare_digit_strings()
    if lang == "zh":
        assert any(t.startswith("嗯，") for t in said) and any("幺" in t for t in said)
    else:
        assert any(t.startswith("uh, ") for t in said) and any(" oh" in t or t.startswith("oh") for t in said)


@pytest.mark.parametrize("law", B.LAWS)
def test_a_phone_path_returns_16_khz_audio_of_the_same_length(law):
    t = np.arange(16000) / 16000
    voice = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
    out = phone_path(voice, 16000, law)
    assert out.dtype == np.float32 and abs(len(out) - len(voice)) <= 2
    assert 0.1 < float(np.max(np.abs(out))) < 0.5  # the tone survives the 8 kHz codec


def test_an_unknown_phone_path_is_refused():
    with pytest.raises(ValueError, match="unknown phone path"):
        phone_path(np.zeros(160, dtype=np.int16), 16000, "gsm")


def test_a_tally_reports_shares_and_none_for_nothing_read():
    t = B.Tally(answers=4, answers_read_right=3, answers_complete=2, first_parts=2, first_parts_complete=1)
    d = t.as_dict()
    assert d["answers_read_right_share"] == 0.75 and d["first_parts_complete_share"] == 0.5
    assert B.Tally().as_dict()["answers_read_right_share"] is None


@pytest.mark.parametrize("args,message", [
    (["--language", "fr"], "--language is zh or en"),
    (["--prompt", "尾号" * 100], "at most 160 characters"),
])
def test_bad_options_get_a_clear_error_before_any_model_loads(args, message):
    r = CliRunner().invoke(cli, ["bench", "id-prompt", *args])
    assert r.exit_code != 0 and message in str(r.exception or r.output)
