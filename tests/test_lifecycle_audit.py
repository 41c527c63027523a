"""Every call audited when it ends: planted violations in zh and en each raise their rule at their turn;
a clean call (a real policy run of the M1 script) raises none; findings are stored, flagged by webhook,
served by the API and the CLI. Real SQLite / PostgreSQL."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from agent.call_store import TurnRecord
from agent.lifecycle import audit_rules as A
from agent.store.db import session_scope
from agent.store.lifecycle_models import AuditFinding, CallAudit
from agent.store.models import OutboxEvent
from dialogs.library import load_script
from dialogs.policy import Policy
from dialogs.types import Account, Heard
from nlu.types import Understanding
from tests.lifecycle_support import finished_call, make_account

pytestmark = pytest.mark.db
TODAY = date(2025, 6, 9)
CALLEE = {
    "zh": {"confirm_identity": "对，我是", "last4": "五六七八", "promise_to_pay": "我后天还两千",
           "affirm": "对", "dispute_debt": "这笔钱我根本没借过", "stop_calling": "以后不要再给我打电话了"},
    "en": {"confirm_identity": "Yes, speaking", "last4": "one two three four",
           "promise_to_pay": "I can pay it on Wednesday", "affirm": "Yes, that's right",
           "dispute_debt": "I never borrowed this money", "stop_calling": "Stop calling me"},
}


def conversation(lang: str, answers: list[tuple[str, dict]], conf: float = 0.92) -> tuple[list[TurnRecord], str]:
    """A real run of the M1 script: agent lines and nodes from the policy, callee turns with intents."""
    acc_last4 = "5678" if lang == "zh" else "1234"
    acc = Account(name="王芳" if lang == "zh" else "Jane Doe", language=lang, balance=2000.0,
                  currency="CNY" if lang == "zh" else "USD", due_date=TODAY - timedelta(days=12),
                  days_past_due=12, id_last4=acc_last4, jurisdiction="CN" if lang == "zh" else "US")
    policy = Policy(load_script(f"collections_m1_{lang}_a"), acc, TODAY)
    d = policy.start()
    turns, t = [], 0

    def agent(dec):
        nonlocal t
        text = " ".join(ln.text for ln in dec.lines)
        turns.append(TurnRecord("agent", text, t, t + 2000, node=dec.node))
        t += 2200

    agent(d)
    for intent, ents in answers:
        if d.end:
            break
        key = "last4" if "last4" in ents else intent
        turns.append(TurnRecord("callee", CALLEE[lang][key], t, t + 1200, intent=intent, confidence=conf,
                                entities=ents))
        t += 1400
        if intent == "affirm" and "last4" in ents:
            ents = {"last4": acc_last4}
        d = policy.step(Heard(Understanding(intent, conf, lang=lang, entities=ents)))
        agent(d)
    return turns, d.outcome


def ptp_answers(lang):
    day = (TODAY + timedelta(days=2)).isoformat()
    return [("confirm_identity", {}), ("affirm", {"last4": "x"}), ("promise_to_pay", {"date": day}),
            ("affirm", {}), ("affirm", {})]


def audit_of(db_url, lang, turns, outcome, **acc):
    import uuid

    acc_id = make_account(db_url, f"au-{uuid.uuid4().hex[:12]}", lang, **acc)
    call_id = finished_call(db_url, acc_id, outcome, {}, turns=turns, lang=lang)
    with session_scope(db_url) as s:
        rows = s.scalars(select(AuditFinding).where(AuditFinding.call_id == call_id)).all()
        assert s.get(CallAudit, call_id) is not None  # audited at the end of the call
        return call_id, {(r.rule, r.turn_seq) for r in rows}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_clean_call_raises_no_finding(db_url, lang):
    turns, outcome = conversation(lang, ptp_answers(lang))
    assert outcome == "ptp"
    call_id, found = audit_of(db_url, lang, turns, outcome)
    assert found == set()
    with session_scope(db_url) as s:
        assert s.scalars(select(OutboxEvent).where(OutboxEvent.type == "call.flagged")).all() == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_planted_violations_each_raise_their_rule_at_their_turn(db_url, lang):
    turns, outcome = conversation(lang, ptp_answers(lang))
    # 1. the opening loses its identity and recording disclosures
    bad = [TurnRecord(**{**vars(t)}) for t in turns]
    bad[0].text = "请问您是王芳本人吗？" if lang == "zh" else "Am I speaking with Jane Doe?"
    _, found = audit_of(db_url, lang, bad, outcome)
    assert (A.DISCLOSURE_IDENTITY, 1) in found and (A.DISCLOSURE_RECORDED, 1) in found
    # 2. the debt is named before verification (in the turn asking for the ID digits)
    bad = [TurnRecord(**{**vars(t)}) for t in turns]
    bad[2].text += (" 您已经逾期12天，欠款两千元。" if lang == "zh"
                    else " You are 12 days past due on a balance of $2,000.")
    _, found = audit_of(db_url, lang, bad, outcome)
    assert (A.DEBT_BEFORE_VERIFICATION, 3) in found
    # 3. a low-confidence understanding carries the promise (the 对，就是我被研究 case)
    bad = [TurnRecord(**{**vars(t)}) for t in turns]
    last_callee = max(i for i, t in enumerate(bad) if t.speaker == "callee")
    bad[last_callee].confidence = 0.35
    bad[last_callee].text = "对，就是我被研究" if lang == "zh" else "yeah it's me being studied"
    _, found = audit_of(db_url, lang, bad, outcome)
    assert (A.LOW_CONFIDENCE_OUTCOME, last_callee + 1) in found
    # 4. the agent talks over the callee
    bad = [TurnRecord(**{**vars(t)}) for t in turns]
    bad[3].start_ms, bad[3].end_ms = bad[2].start_ms + 500, bad[2].end_ms + 3000
    _, found = audit_of(db_url, lang, bad, outcome)
    assert (A.TALKED_OVER_CALLEE, 3) in found


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_opt_out_and_dispute_violations(db_url, lang):
    honoured, outcome = conversation(lang, [("confirm_identity", {}), ("stop_calling", {})])
    assert outcome == "opted_out"
    _, found = audit_of(db_url, lang, honoured, outcome)
    assert found == set()
    ignored = honoured[:-1] + [
        TurnRecord("agent", "我们再谈谈还款吧" if lang == "zh" else "Let's talk about your payment", 30000, 31000),
        TurnRecord("agent", "再见" if lang == "zh" else "Goodbye", 32000, 33000),
    ]
    _, found = audit_of(db_url, lang, ignored, "hung_up")
    assert (A.OPT_OUT_NOT_HONOURED, 4) in found
    disputed, outcome = conversation(lang, [("confirm_identity", {}), ("affirm", {"last4": "x"}), ("dispute_debt", {})])
    assert outcome == "dispute"
    _, found = audit_of(db_url, lang, disputed, outcome)
    assert found == set()
    pressed = disputed + [
        TurnRecord("agent", "那您今天能先还五百元吗？" if lang == "zh" else "Could you pay 500 today?", 40000, 41000),
    ]
    _, found = audit_of(db_url, lang, pressed, outcome)
    assert (A.PRESSED_AFTER_DISPUTE, len(pressed)) in found


def test_us_collections_need_the_mini_miranda_before_the_debt(db_url):
    turns, outcome = conversation("en", ptp_answers("en"))
    for t in turns:
        t.text = t.text.replace("This is an attempt to collect a debt and any information obtained will be used "
                                "for that purpose.", "")
    call_id, found = audit_of(db_url, "en", turns, outcome)
    assert any(rule == A.MINI_MIRANDA for rule, _ in found), found
    with session_scope(db_url) as s:
        flagged = s.scalars(select(OutboxEvent).where(OutboxEvent.type == "call.flagged")).all()
        assert [e.payload["call_id"] for e in flagged] == [call_id]
        assert {f["rule"] for f in flagged[0].payload["findings"]} == {A.MINI_MIRANDA}


def test_rule_ids_are_stable():
    assert A.AUDIT_RULES == ("audit_disclosure_identity", "audit_disclosure_recorded", "audit_mini_miranda",
                             "audit_debt_before_verification", "audit_opt_out_not_honoured",
                             "audit_payment_pressed_after_dispute", "audit_talked_over_callee",
                             "audit_low_confidence_outcome")


def test_findings_over_the_api_and_the_cli(db_url, tmp_path, monkeypatch):
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from agent.cli import app as cli
    from agent.server.app import create_app
    from agent.server.auth import create_key

    turns, outcome = conversation("zh", ptp_answers("zh"))
    turns[0].text = "请问您是王芳本人吗？"
    call_id, found = audit_of(db_url, "zh", turns, outcome)
    with session_scope(db_url) as s:
        key, _ = create_key(s, "supervisor")
    h = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(db_url)) as c:
        got = c.get(f"/api/audit/calls/{call_id}", headers=h).json()
        assert {(f["rule"], f["turn_seq"]) for f in got["findings"]} == found
        listed = c.get("/api/audit/findings", params={"rule": A.DISCLOSURE_IDENTITY}, headers=h).json()
        assert [f["call_id"] for f in listed["items"]] == [call_id]
        assert c.get("/api/audit/findings", params={"rule": "nope"}, headers=h).status_code == 422
        assert c.get("/api/audit/calls/nope", headers=h).status_code == 404
        again = c.post(f"/api/audit/calls/{call_id}", headers=h).json()
        assert {(f["rule"], f["turn_seq"]) for f in again["findings"]} == found
    monkeypatch.setenv("DATABASE_URL", db_url)
    from agent.config import get_settings

    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(cli, ["audit", call_id])
        assert r.exit_code == 0, r.output
        assert A.DISCLOSURE_IDENTITY in r.output
        r = CliRunner().invoke(cli, ["audit", "--since", "2000-01-01"])
        assert r.exit_code == 0 and '"flagged": 1' in r.output, r.output
    finally:
        get_settings.cache_clear()
    with session_scope(db_url) as s:  # re-audits with the same findings raise no second webhook
        assert len(s.scalars(select(OutboxEvent).where(OutboxEvent.type == "call.flagged")).all()) == 1
