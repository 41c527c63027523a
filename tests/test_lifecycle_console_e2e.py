"""The lifecycle in the console, in real headless Chromium under the console's CSP: the promises page
(status filter, amounts in their currency with thousands separators, due dates, links to the calls), the
audit findings on the call page (rule id, turn, highlighted in the transcript) and the funnel chart on the
campaign page (the figures of GET /api/campaigns/{id}/funnel), in English and Chinese."""
from __future__ import annotations

import shutil
from datetime import date

import httpx
import pytest

from agent.lifecycle.audit_rules import DEBT_BEFORE_VERIFICATION, DISCLOSURE_RECORDED
from agent.store.db import session_scope
from agent.store.lifecycle_models import AuditFinding, CallAudit, Promise
from agent.store.models import Call
from tests.console_support import CHROMIUM, browser, site, wait_for  # noqa: F401 (fixtures)

pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM), reason="needs Debian chromium")


@pytest.fixture(scope="module")
def lifecycle(site):
    with session_scope(site["url"]) as s:
        zh_acc = s.get(Call, site["zh"]).account_id
        en_acc = s.get(Call, site["en"]).account_id
        rows = [Promise(account_id=zh_acc, call_id=site["zh"], amount=8800.0, currency="CNY",
                        due_date=date(2025, 6, 10), status="pending"),
                Promise(account_id=en_acc, call_id=site["en"], amount=1200.5, currency="USD",
                        due_date=date(2025, 6, 3), status="kept", paid_amount=1200.5, reason="paid by event e1"),
                Promise(account_id=zh_acc, amount=13300.0, currency="CNY", due_date=date(2025, 5, 20),
                        status="broken", reason="nothing paid by 2025-05-22")]
        s.add_all(rows)
        s.add(CallAudit(call_id=site["zh"], findings=2))
        s.add(AuditFinding(call_id=site["zh"], rule=DISCLOSURE_RECORDED, turn_seq=0, severity="medium",
                           detail="the opening does not say the call is recorded"))
        s.add(AuditFinding(call_id=site["zh"], rule=DEBT_BEFORE_VERIFICATION, turn_seq=1, severity="high",
                           detail="debt detail before the right party was verified"))
        s.flush()
        return {"pending": rows[0].id, "kept": rows[1].id, "broken": rows[2].id}


@pytest.fixture
def page(browser, site, lifecycle):
    ctx = browser.new_context(locale="en-US")
    pg = ctx.new_page()
    problems: list[str] = []
    pg.on("pageerror", lambda e: problems.append(str(e)))
    pg.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    pg.goto(site["base"] + "/console/")
    pg.fill("#login-key", site["key"])
    pg.click("#login button[type=submit]")
    pg.wait_for_selector("#calls tbody tr.row")
    yield pg
    ctx.close()
    assert not problems, problems


def test_promises_page_filters_formats_and_links_to_the_call(page, site, lifecycle):
    page.click("#nav-promises")
    page.wait_for_selector("tr.promise")
    assert page.locator("tr.promise").count() == 3
    rows = {r.get_attribute("data-id"): r for r in page.locator("tr.promise").all()}
    pending = rows[lifecycle["pending"]].inner_text()
    assert "8,800.00" in pending and "¥" in pending and "Jun 10, 2025" in pending and "pending" in pending
    assert "$1,200.50" in rows[lifecycle["kept"]].inner_text()
    assert "13,300.00" in rows[lifecycle["broken"]].inner_text()
    assert rows[lifecycle["broken"]].locator("a.call-link").count() == 0  # a promise without a call
    page.select_option("#promise-status", "broken")
    wait_for(page, "document.querySelectorAll('tr.promise').length === 1")
    assert page.locator("tr.promise").get_attribute("data-status") == "broken"
    page.select_option("#promise-status", "pending")
    wait_for(page, "document.querySelector('tr.promise')?.dataset.status === 'pending'")
    page.click("tr.promise a.call-link")
    page.wait_for_selector(".turn")
    assert f"id={site['zh']}" in page.url
    # in Chinese: the statuses and the amount with the yuan sign and separators
    page.goto(site["base"] + "/console/promises.html?status=pending")
    page.click("#lang-toggle")
    page.wait_for_selector("#nav-promises:has-text('还款承诺')")
    wait_for(page, "document.querySelector('tr.promise')?.innerText.includes('待履约')")
    text = page.locator("tr.promise").inner_text()
    assert "¥8,800.00" in text and "2025年6月10日" in text
    page.click("#lang-toggle")
    page.wait_for_selector("#nav-promises:has-text('Promises')")


def test_call_page_shows_audit_findings_on_their_turns(page, site):
    page.goto(site["base"] + f"/console/call.html?id={site['zh']}")
    page.wait_for_selector(".finding")
    findings = page.locator(".finding")
    assert findings.count() == 2
    assert {f.get_attribute("data-rule") for f in findings.all()} == {DISCLOSURE_RECORDED, DEBT_BEFORE_VERIFICATION}
    debt = page.locator(f".finding[data-rule='{DEBT_BEFORE_VERIFICATION}']")
    assert DEBT_BEFORE_VERIFICATION in debt.inner_text() and "turn 1" in debt.inner_text()
    assert "Debt detail before verification" in debt.inner_text()
    flagged = page.eval_on_selector_all(".turn.flagged", "els => els.map(e => +e.dataset.seq)")
    assert sorted(flagged) == [0, 1]
    assert DEBT_BEFORE_VERIFICATION in page.locator(".turn[data-seq='1'] .flag").inner_text()
    debt.click()
    wait_for(page, "document.querySelector('.turn.focus')?.dataset.seq === '1'")
    assert "2 findings" in page.locator("#audit-state").inner_text()
    page.click("#lang-toggle")
    page.wait_for_selector(".finding")
    wait_for(page, "document.querySelector('#audit-state').innerText.includes('项问题')")
    assert "核实身份前透露欠款信息" in page.locator(f".finding[data-rule='{DEBT_BEFORE_VERIFICATION}']").inner_text()
    assert "第 1 轮" in page.locator(f".finding[data-rule='{DEBT_BEFORE_VERIFICATION}']").inner_text()
    page.click("#lang-toggle")
    page.wait_for_selector("#nav-calls:has-text('Calls')")
    # a call that was never audited says so and flags nothing
    page.goto(site["base"] + f"/console/call.html?id={site['en']}")
    page.wait_for_selector(".turn")
    wait_for(page, "document.querySelector('#audit-state').innerText.length > 0")
    assert page.locator("#audit-state").inner_text() == "not audited yet" and page.locator(".turn.flagged").count() == 0


def test_campaign_page_draws_the_api_funnel_by_variant_and_hour(page, site):
    api = httpx.Client(base_url=site["base"], headers={"Authorization": f"Bearer {site['key']}"})
    page.goto(site["base"] + f"/console/campaign.html?id={site['camp']}")
    page.wait_for_selector("rect.funnel-cell")
    for by in ("variant", "hour", "segment"):
        if by != "variant":
            page.select_option("#funnel-by", by)
        rep = api.get(f"/api/campaigns/{site['camp']}/funnel", params={"by": by}).json()
        want = sorted((st["stage"], st["count"]) for row in rep["by"][by] for st in row["stages"])
        assert want, rep
        wait_for(page, f"document.querySelectorAll('rect.funnel-cell').length === {len(want)}")
        drawn = page.eval_on_selector_all("rect.funnel-cell",
                                          "els => els.map(e => [e.dataset.stage, +e.dataset.count])")
        assert sorted(tuple(x) for x in drawn) == want
        assert page.locator("tr.funnel-row").count() == len(rep["by"][by]) + 1  # and the total
        assert page.locator("line.ci-line").count() == len(rep["by"][by])
    total = page.locator("tr.funnel-row").last.inner_text()
    assert str(rep["total"]["dials"]) in total and "Total" in total
    page.select_option("#funnel-by", "variant")
    comparisons = api.get(f"/api/campaigns/{site['camp']}/funnel", params={"by": "variant"}).json()["comparisons"]
    wait_for(page, f"document.querySelectorAll('li.ab').length === {len(comparisons)}")
    hours = api.get(f"/api/campaigns/{site['camp']}/funnel", params={"by": "hour"}).json()["by"]["hour"]
    assert any(row["group"] == 10 for row in hours)  # the zh call at 02:00 UTC is 10:00 in Shanghai
