"""Answering machines: when the message starts, and which calls leave one (zh and en)."""
from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import pytest

from agent.voicemail import voicemail_script, wait_for_beep
from dialogs.library import load_script, script_for


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_collections_calls_get_the_voicemail_script_and_telesales_none(lang):
    collections = load_script(script_for("collections", "M1", lang))
    script = voicemail_script(collections, lang)
    assert script is not None and script.language == lang and script.kind == "voicemail"
    telesales = load_script(script_for("telesales", "reborrow", lang))
    assert voicemail_script(telesales, lang) is None


def _wait(amd, speaking, timeout_s=3.0) -> float:
    t0 = time.monotonic()
    asyncio.run(wait_for_beep(amd, speaking, timeout_s))
    return time.monotonic() - t0


def test_the_message_starts_after_the_beep_not_during_the_greeting():
    amd = SimpleNamespace(beep_at_ms=1000, now_ms=1200)

    async def later():
        await asyncio.sleep(0.2)
        amd.now_ms = 1400  # 400 ms after the beep

    async def main():
        task = asyncio.ensure_future(later())
        t0 = time.monotonic()
        await wait_for_beep(amd, lambda: True, 3.0)  # the greeting talks on; the beep decides
        await task
        return time.monotonic() - t0

    waited = asyncio.run(main())
    assert 0.15 <= waited < 1.0


def test_without_a_beep_one_second_of_quiet_ends_the_greeting():
    amd = SimpleNamespace(beep_at_ms=None, now_ms=0)
    assert 1.0 <= _wait(amd, lambda: False) < 2.0


def test_a_greeting_that_never_ends_times_out():
    amd = SimpleNamespace(beep_at_ms=None, now_ms=0)
    assert 0.5 <= _wait(amd, lambda: True, timeout_s=0.5) < 1.5
