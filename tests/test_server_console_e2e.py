"""The supervisor console end to end in real headless Chromium (Debian /usr/bin/chromium + Playwright)."""
from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime

import pytest

from agent.server.destinations import parse_networks
from agent.server.webhooks import create_subscription
from agent.store.db import session_scope
from agent.store.models import Call, Campaign, OutboxEvent, Turn, WebhookDelivery
from tests.console_support import CHROMIUM, browser, site, wait_for  # noqa: F401 (fixtures)
from tests.server_helpers import add_attempt, add_event, seed_call

pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM), reason="needs Debian chromium")


@pytest.fixture
def page(browser, site):
    ctx = browser.new_context(locale="en-US")
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(site["base"] + "/console/")
    pg.fill("#login-key", site["key"])
    pg.click("#login button[type=submit]")
    pg.wait_for_selector("#calls tbody tr.row")
    yield pg
    ctx.close()
    assert not errors, errors


def test_login_refuses_a_bad_key(browser, site):
    ctx = browser.new_context()
    pg = ctx.new_page()
    pg.goto(site["base"] + "/console/")
    pg.wait_for_selector("#login.show")
    pg.fill("#login-key", "dw_bad_key")
    pg.click("#login button[type=submit]")
    pg.wait_for_selector("#login-error:has-text('refused')")
    ctx.close()


def test_calls_list_filters_search_and_chinese_ui(page, site):
    assert page.locator("#calls tbody tr.row").count() == 2
    page.select_option("select[name=language]", "zh")
    page.click("#filters button[type=submit]")
    wait_for(page, "document.querySelectorAll('#calls tbody tr.row').length === 1")
    assert page.locator("#calls tbody tr.row").get_attribute("data-id") == site["zh"]
    page.select_option("select[name=language]", "")
    page.fill("input[name=q]", "card")
    page.click("#filters button[type=submit]")
    wait_for(page, f"document.querySelector('#calls tbody tr.row')?.dataset.id === '{site['en']}'")
    assert page.locator("#calls tbody tr.row").count() == 1
    page.click("#lang-toggle")
    page.wait_for_selector("#nav-calls:has-text('通话')")
    assert page.locator("h1").inner_text() == "通话记录"
    page.click("#lang-toggle")
    page.wait_for_selector("#nav-calls:has-text('Calls')")


def test_call_page_plays_from_a_turn_and_seeks(page, site):
    page.goto(site["base"] + f"/console/call.html?id={site['zh']}")
    page.wait_for_selector(".turn")
    assert page.locator(".turn").count() == 3
    assert page.locator("#outcome").inner_text() == "ptp"
    assert "500" in page.locator("#promise").inner_text()
    assert "confirm_identity" in page.locator(".turn").nth(1).inner_text()
    assert "asr 180ms" in page.locator(".turn").nth(1).inner_text()
    page.wait_for_selector("#wave path.lane-agent")
    wait_for(page, "document.getElementById('audio').readyState >= 1")
    start_ms = int(page.locator(".turn").nth(1).get_attribute("data-start"))
    page.locator(".turn").nth(1).click()
    wait_for(page, "!document.getElementById('audio').paused")
    t0 = page.evaluate("document.getElementById('audio').currentTime")
    assert abs(t0 - start_ms / 1000) < 0.5
    page.wait_for_timeout(700)
    t1 = page.evaluate("document.getElementById('audio').currentTime")
    assert t1 > t0 + 0.2  # really playing
    assert page.locator(".turn.playing").get_attribute("data-seq") == "1"
    # click the waveform near its end: seeks into the last (agent) turn
    box = page.locator("#wave").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.97, box["y"] + box["height"] / 2)
    wait_for(page, "document.querySelector('.turn.playing')?.dataset.seq === '2'")
    t2 = page.evaluate("document.getElementById('audio').currentTime")
    duration = page.evaluate("document.getElementById('audio').duration")
    assert t2 > 0.9 * duration - 0.5
    page.evaluate("document.getElementById('audio').pause()")


def test_live_monitor_receives_turns_as_they_are_written(page, site):
    call_id = seed_call(site["url"], site["tmp"], language="en", status="live")
    page.goto(site["base"] + "/console/live.html")
    page.wait_for_selector(f"#live-{call_id} .turn")
    assert page.locator(f"#live-{call_id} .turn").count() == 3
    with session_scope(site["url"]) as s:
        s.add(Turn(call_id=call_id, seq=3, speaker="callee", text="I can pay five hundred on Friday",
                   intent="promise_to_pay", confidence=0.88, start_ms=9000, end_ms=11000))
    page.wait_for_selector(f"#live-{call_id} .turn:has-text('five hundred on Friday')", timeout=10000)
    with session_scope(site["url"]) as s:
        call = s.get(Call, call_id)
        call.status, call.outcome = "ended", "ptp"
    page.wait_for_selector(f"#live-{call_id} .status:has-text('ptp')", timeout=10000)


def test_campaign_dashboard_funnel_variants_hours_and_pause(page, site):
    page.goto(site["base"] + f"/console/campaign.html?id={site['camp']}")
    page.wait_for_selector("rect.funnel-bar")
    counts = page.eval_on_selector_all("rect.funnel-bar", "els => els.map(e => [e.dataset.stage, +e.dataset.count])")
    assert dict(counts) == {"dialled": 3, "answered": 2, "right_party": 2, "promise_or_conversion": 1}
    assert page.locator("#variant-table tbody tr").count() == 2
    hours = page.eval_on_selector_all(
        "rect.hour-bar", "els => els.filter(e => +e.dataset.calls > 0).map(e => +e.dataset.hour)")
    assert 10 in hours  # the zh call at 02:00 UTC is 10:00 in Shanghai
    page.click("#pause")
    page.wait_for_selector("#status:has-text('paused')")
    page.click("#start")
    page.wait_for_selector("#status:has-text('running')")
    assert page.locator("tr.attempt").count() == 3 and page.locator("tr.camp-call").count() == 2
    with session_scope(site["url"]) as s:  # a new attempt shows up without a reload (2 s refresh)
        acc = s.get(Call, site["zh"]).account_id
    add_attempt(site["url"], site["camp"], acc, "busy")
    wait_for(page, "document.querySelectorAll('tr.attempt').length === 4", timeout=5000)
    page.fill("#max-concurrent", "7")
    page.select_option("#network", "sip")
    page.click("#save")
    wait_for(page, "document.getElementById('max-concurrent').value === '7'")
    with session_scope(site["url"]) as s:
        camp = s.get(Campaign, site["camp"])
        deadline = time.time() + 5
        while camp.max_concurrent != 7 and time.time() < deadline:
            s.expire_all()
            time.sleep(0.1)
        assert (camp.max_concurrent, camp.network) == (7, "sip")


def test_webhook_deliveries_can_be_resent_from_the_console(page, site):
    with session_scope(site["url"]) as s:
        sub = create_subscription(s, "http://127.0.0.1:9/hook", ["call.completed"],
                                  allow_networks=parse_networks("127.0.0.0/8"))
        sub_id = sub.id
    event_id = add_event(site["url"], "call.completed", {"call_id": site["zh"]})
    with session_scope(site["url"]) as s:
        s.get(OutboxEvent, event_id).dispatched_at = datetime.now(UTC)
        d = WebhookDelivery(event_id=event_id, subscription_id=sub_id, status="dead", attempts=14,
                            last_error="ConnectError")
        s.add(d)
        s.flush()
        delivery_id = d.id
    page.goto(site["base"] + "/console/webhooks.html")
    row = page.locator(f"tr[data-id='{delivery_id}']")
    row.wait_for()
    assert "dead" in row.inner_text()
    row.locator("button.redeliver").click()
    page.wait_for_selector(f"tr[data-id='{delivery_id}'] .st:has-text('queued')")
    with session_scope(site["url"]) as s:
        assert s.get(WebhookDelivery, delivery_id).status == "pending"
