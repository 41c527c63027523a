"""The browser softphone end to end: the real app (create_app, uvicorn), the real page in headless Chromium
(Debian /usr/bin/chromium + Playwright) with a fake microphone fed from a real recording, and the real
call session behind it (Whisper, NLU, scripts, TTS through agent.calls.run_call).

Chromium's fake capture device reads the WAV given with --use-file-for-fake-audio-capture (PCM WAV, any
rate: it is converted to the device format) from the moment getUserMedia opens the device, i.e. when
Call is clicked; it loops unless the path ends in "%noloop", after which it captures silence. The
recording therefore starts with LEAD_S of silence so that the agent's opening plays first, then the
callee answers "Hello, yes, this is Emily speaking." (sim/voices/en_040.wav).
"""
from __future__ import annotations

import json
import os
import shutil
import time
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from tests.tel_support import ServerThread, free_port

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--autoplay-policy=no-user-gesture-required"]
VOICES = Path(__file__).resolve().parents[2] / "telephony_adapter" / "sim" / "voices"
LEAD_S = 9.0  # the opening ("Hello, this is ... This call is recorded. Am I speaking with ...?") plays first
WAV_RATE = 48000
SCREENSHOT = Path("/tmp/softphone.png")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240),
              pytest.mark.skipif(not shutil.which(CHROMIUM), reason="needs Debian chromium")]


@pytest.fixture(scope="module")
def callee_wav(tmp_path_factory) -> Path:
    """LEAD_S of silence, the callee's confirmation, 3 s of silence: 48 kHz mono PCM16."""
    from speech.audio import read_audio, to_int16, write_wav

    item = next(m for m in map(json.loads, (VOICES / "manifest.jsonl").read_text().splitlines())
                if m["file"] == "en_040.wav")
    assert item["intent"] == "confirm_identity"
    speech = to_int16(read_audio(VOICES / item["file"], target_rate=WAV_RATE)[0])
    pcm = np.concatenate([np.zeros(int(LEAD_S * WAV_RATE), np.int16), speech, np.zeros(3 * WAV_RATE, np.int16)])
    return write_wav(tmp_path_factory.mktemp("mic") / "callee.wav", pcm, WAV_RATE)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The real app on a temp SQLite DB (the softphone routes use the process settings, so they point
    there too), models loaded once, one English account and a supervisor key."""
    from agent.config import get_settings

    tmp = tmp_path_factory.mktemp("softphone")
    url = f"sqlite:///{tmp}/softphone.sqlite3"
    env = {"DATABASE_URL": url, "VAR_DIR": str(tmp / "var")}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    get_settings.cache_clear()
    try:
        from agent.calls import get_deps
        from agent.server.app import create_app
        from agent.server.auth import create_key
        from agent.store import session_scope
        from agent.store.models import Account
        from dialogs.library import script_for

        app = create_app(url)
        get_deps()
        with session_scope(url) as s:
            key, _ = create_key(s, "supervisor", "softphone e2e")
            acc = Account(name="Emily Johnson", phone="+12125550123", timezone="America/New_York",
                          jurisdiction="US", language="en", purpose="collections", bucket="M1", balance=450.0,
                          currency="USD", due_date=date(2026, 11, 13), days_past_due=10, id_last4="1234")
            s.add(acc)
            s.flush()
            account_id = acc.id
        with ServerThread(app, free_port()) as srv:
            yield {"base": f"http://127.0.0.1:{srv.port}", "url": url, "key": key, "account_id": account_id,
                   "script_id": script_for("collections", "M1", "en")}
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        get_settings.cache_clear()


def body_counter(page, name: str) -> int:
    return int(page.evaluate(f"document.body.dataset.{name} || '0'"))


def test_softphone_call_with_fake_microphone(site, callee_wav):
    from playwright.sync_api import sync_playwright

    from agent.store import session_scope
    from agent.store.models import Call, Turn

    mic = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
           f"--use-file-for-fake-audio-capture={callee_wav}%noloop"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS + mic, headless=True)
        ctx = browser.new_context(locale="en-US", permissions=["microphone"], viewport={"width": 1100, "height": 760})
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(site["base"] + "/softphone")
        # no console cookie: the page asks for a key, as a person would see it
        page.wait_for_selector("#key-row:not([hidden])")
        assert "write access" in page.locator("#status").inner_text()
        page.fill("#key", site["key"])
        page.click("#load")
        page.wait_for_selector(f"#account option[value='{site['account_id']}']", state="attached")
        page.wait_for_selector("#status:not(.error):has-text('Idle')")  # the key worked: no error left
        page.select_option("#account", site["account_id"])
        page.select_option("#script", site["script_id"])
        assert "Emily Johnson" in page.locator("#account option:checked").inner_text()
        t0 = time.monotonic()
        page.click("#call")
        page.wait_for_function("!!document.body.dataset.callId", timeout=15000)
        call_id = page.evaluate("document.body.dataset.callId")
        assert page.locator("#hangup").is_enabled() and page.locator("#call").is_disabled()
        # the agent's opening appears in the live transcript and its audio plays
        page.wait_for_selector("#transcript li.agent", timeout=30000)
        page.wait_for_function("+(document.body.dataset.agentPlayedMs || 0) > 1500", timeout=30000)
        t_open = time.monotonic() - t0
        # the callee's words, transcribed by Whisper, with the intent from the NLU
        callee = page.locator("#transcript li.callee")
        callee.first.wait_for(timeout=40000)
        page.wait_for_function(
            "[...document.querySelectorAll('#transcript li.callee')]"
            ".some(li => li.textContent.includes('confirm_identity'))",
            timeout=20000)
        t_callee = time.monotonic() - t0
        # the agent answers: a new agent turn after the callee's, and its audio reaches the page
        frames_before = body_counter(page, "agentFrames")
        page.wait_for_function(f"+(document.body.dataset.agentFrames || 0) > {frames_before + 25}", timeout=30000)
        # its text grows in the transcript as its audio is confirmed played ("…" until then)
        page.wait_for_function(
            "[...document.querySelectorAll('#transcript li.callee ~ li.agent')]"
            ".some(li => li.lastChild && li.lastChild.textContent.trim().length > 3)", timeout=30000)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
        shown = page.eval_on_selector_all(
            "#transcript li", "els => els.map(li => [li.className, li.dataset.id, li.textContent])")
        stats = page.evaluate("({...document.body.dataset})")
        # hang up as a person would
        page.click("#hangup")
        page.wait_for_selector("#status:has-text('Call ended')", timeout=15000)
        page.wait_for_function("!document.getElementById('call').disabled")
        ctx.close()
        browser.close()
    assert not errors, errors
    print(json.dumps({"opening_played_s": round(t_open, 1), "callee_turn_s": round(t_callee, 1), "stats": stats}))

    with session_scope(site["url"]) as s:
        call = s.get(Call, call_id)
        turns = list(s.scalars(select(Turn).where(Turn.call_id == call_id).order_by(Turn.seq)))
        call_state = (call.status, call.transport, call.end_reason, call.account_id)
        rows = [(t.seq, t.speaker, t.text, t.intent) for t in turns]
    assert call_state[:3] == ("ended", "browser", "hangup"), call_state
    assert call_state[3] == site["account_id"]
    agent = [r for r in rows if r[1] == "agent"]
    callee_rows = [r for r in rows if r[1] == "callee"]
    assert agent and "Emily Johnson" in agent[0][2], rows
    assert callee_rows and callee_rows[0][3] == "confirm_identity", rows
    assert "emily" in callee_rows[0][2].lower(), rows
    assert any(r[0] > callee_rows[0][0] for r in agent), rows  # the agent replied after the callee
    # what the page showed is what the DB holds, in order: the opening first, then the callee
    kinds = [c.split()[0] for c, _, _ in shown]
    assert kinds[0] == "agent" and "callee" in kinds, shown
    assert agent[0][2] in shown[0][2]
    callee_li = next(text for c, _, text in shown if c.startswith("callee"))
    assert "confirm_identity" in callee_li and callee_rows[0][2] in callee_li
    # agent audio really arrived as 20 ms frames and played on the page's AudioContext clock
    assert int(stats["agentFrames"]) * 20 >= int(stats["agentPlayedMs"]) > 1500, stats
    assert int(stats["micChunks"]) > 50, stats  # the microphone was streamed
    assert SCREENSHOT.stat().st_size > 10_000
