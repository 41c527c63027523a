"""Prompt cache: keyed storage, recorded prompts override TTS, build, and no synthesis on lookup."""
from __future__ import annotations

import numpy as np

from speech.audio import write_wav
from speech.tts.cache import PromptCache, prompt_key
from speech.tts.espeak import EspeakTts


class CountingEspeak(EspeakTts):
    """The real espeak engine, counting how often it synthesises."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def synthesize(self, text, lang, voice=None):
        self.calls += 1
        return super().synthesize(text, lang, voice)


def test_key_changes_with_text_voice_engine_and_format():
    base = prompt_key("您好", "zh", "cmn-latn-pinyin", "espeak")
    assert base == prompt_key(" 您好 ", "zh", "cmn-latn-pinyin", "espeak")
    assert len({base, prompt_key("您好！", "zh", "cmn-latn-pinyin", "espeak"),
                prompt_key("您好", "zh", "cmn", "espeak"), prompt_key("您好", "zh", "cmn-latn-pinyin", "piper"),
                prompt_key("您好", "zh", "cmn-latn-pinyin", "espeak", "ulaw8k")}) == 5


def test_lookup_miss_then_get_then_hit_without_synthesis(tmp_path):
    tts = CountingEspeak()
    cache = PromptCache(tmp_path / "prompts")
    assert cache.lookup("l1", "Hello there.", "en", tts) is None
    assert tts.calls == 0
    first = cache.get("l1", "Hello there.", "en", tts)
    assert tts.calls == 1
    fresh = PromptCache(tmp_path / "prompts")  # a new process: disk only
    hit = fresh.lookup("l1", "Hello there.", "en", tts)
    assert tts.calls == 1 and hit is not None
    assert hit.sample_rate == first.sample_rate and np.array_equal(hit.pcm, first.pcm)


def test_recorded_prompt_overrides_tts(tmp_path):
    recorded = tmp_path / "recorded"
    tone = (0.3 * np.sin(np.arange(8000) / 8000 * 2 * np.pi * 440) * 32767).astype(np.int16)
    write_wav(recorded / "coll_zh_a_greeting.wav", tone, 8000)
    tts = CountingEspeak()
    cache = PromptCache(tmp_path / "prompts", recorded)
    got = cache.lookup("coll_zh_a_greeting", "您好", "zh", tts)
    assert got is not None and got.sample_rate == 8000 and np.array_equal(got.pcm, tone)
    assert tts.calls == 0
    report = cache.build([("coll_zh_a_greeting", "您好", "zh"), ("coll_zh_a_bye", "再见", "zh")], lambda lang: tts)
    assert (report.recorded, report.synthesized, report.already_cached) == (1, 1, 0)
    again = cache.build([("coll_zh_a_greeting", "您好", "zh"), ("coll_zh_a_bye", "再见", "zh")], lambda lang: tts)
    assert (again.synthesized, again.already_cached) == (0, 1)
    assert tts.calls == 1
