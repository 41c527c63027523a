"""The console in a real browser (headless Debian chromium): its pages run under the
Content-Security-Policy without a violation, and a spoken ID answer shows masked on the call page."""
from __future__ import annotations

import shutil

import pytest

from agent.store.db import session_scope
from agent.store.models import Call, Turn
from tests.console_support import CHROMIUM, browser, site, wait_for  # noqa: F401 (fixtures)
from tests.server_helpers import seed_call

pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM), reason="needs Debian chromium")


def test_console_pages_keep_the_csp_and_show_id_answers_masked(browser, site):  # noqa: F811
    call_id = seed_call(site["url"], site["tmp"], language="en", with_recording=False)
    with session_scope(site["url"]) as s:  # a row as written before masking: the digits in clear
        s.add(Turn(call_id=call_id, seq=7, speaker="callee", text="It's 8807", intent="out_of_scope",
                   entities={"last4": "8807"}, start_ms=20000, end_ms=21000))
        s.get(Call, call_id).slots = {"given_last4": "8807"}
    ctx = browser.new_context(locale="en-US")
    page = ctx.new_page()
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: violations.append(str(e)))
    try:
        page.goto(site["base"] + "/console/")
        page.fill("#login-key", site["key"])
        page.click("#login button[type=submit]")
        page.wait_for_selector("#calls tbody tr.row")
        for path in ("live.html", "webhooks.html", f"campaign.html?id={site['camp']}"):
            page.goto(f"{site['base']}/console/{path}")
            page.wait_for_load_state("networkidle")
        page.goto(f"{site['base']}/console/call.html?id={call_id}")
        wait_for(page, "document.querySelectorAll('#turns li').length >= 4")
        text = page.inner_text("body")
        assert "It's ****" in text and "8807" not in text
        cookie = next(c for c in ctx.cookies() if c["name"] == "dialwise_key")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    finally:
        ctx.close()
    assert not violations, violations
