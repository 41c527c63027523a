"""The lifecycle rules of the gate, property-tested: CN telesales consent (MIIT), a pending promise to
pay, a received payment. The oracle restates each rule from the issue text, independently of the gate."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.campaign.compliance import RULE_IDS, HistoryEvent, ProposedDial, check, check_line
from agent.campaign.compliance import rules as R

SH = "Asia/Shanghai"
NY = "America/New_York"
BASE = datetime(2025, 6, 9, 2, 0, tzinfo=UTC)  # Monday, 10:00 Shanghai, 22:00 (Sun) New York
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_rule_ids_are_stable_and_listed():
    assert R.CN_TELESALES_CONSENT == "cn_telesales_consent"
    assert R.PROMISE_PENDING == "promise_pending"
    assert R.PAYMENT_RECEIVED == "payment_received"
    for rule in (R.CN_TELESALES_CONSENT, R.PROMISE_PENDING, R.PAYMENT_RECEIVED):
        assert rule in RULE_IDS
    assert len(set(RULE_IDS)) == len(RULE_IDS)


@SETTINGS
@given(consent=st.booleans(), minute=st.integers(0, 13 * 60), refused=st.booleans(),
       purpose=st.sampled_from(["collections", "telesales"]))
def test_cn_telesales_needs_recorded_consent_and_none_after_a_refusal(consent, minute, refused, purpose):
    at = datetime(2025, 6, 9, 8, 0, tzinfo=timezone(timedelta(hours=8))) + timedelta(minutes=minute)  # 08:00-21:00
    hist = [HistoryEvent(BASE - timedelta(days=3), "refusal", "+8613800000001", "d1")] if refused else []
    v = check(ProposedDial("CN", purpose, at, SH, "+8613800000001", "d1", consent=consent), hist)
    if purpose == "collections":
        assert v.allowed, v
    elif not consent:
        assert v.rule == "cn_telesales_consent", v
    elif refused:
        assert v.rule == "marketing_refusal", v
    else:
        assert v.allowed, v


def test_cn_consent_rule_over_the_jsonl_contract():
    line = ('{"jurisdiction": "CN", "purpose": "telesales", "at": "2025-06-09T10:00:00+08:00", '
            '"timezone": "Asia/Shanghai", "phone": "+8613800000001"}')
    assert check_line(line).rule == "cn_telesales_consent"
    assert check_line(line.replace('"phone"', '"consent": true, "phone"')).allowed


def _oracle_lifecycle(at, purpose, touch, events) -> str | None:
    """The lifecycle rule a collections dial breaks, restated: a payment holds every collections call
    from its time until its end; a promise holds every collections call but its reminder."""
    if purpose != "collections":
        return None
    for kind, start, end in events:
        if kind == "payment" and start <= at and (end is None or at < end):
            return "payment_received"
    for kind, start, end in events:
        if kind == "promise" and start <= at and (end is None or at < end) and touch != "ptp_reminder":
            return "promise_pending"
    return None


lifecycle_events = st.lists(st.tuples(
    st.sampled_from(["promise", "payment"]),
    st.integers(-5 * 24 * 60, 5 * 24 * 60),
    st.one_of(st.none(), st.integers(1, 6 * 24 * 60))), max_size=4)


@SETTINGS
@given(events=lifecycle_events, offset=st.integers(-3 * 24 * 60, 3 * 24 * 60),
       purpose=st.sampled_from(["collections", "collections", "telesales"]),
       touch=st.sampled_from([None, None, "ptp_reminder", "ptp_broken"]), jur=st.sampled_from(["CN", "US"]))
def test_promise_and_payment_hold_collections_calls(events, offset, purpose, touch, jur):
    # pick the dial's local day time inside calling hours so only the lifecycle rules can block
    tz = SH if jur == "CN" else NY
    day = (BASE + timedelta(minutes=offset)).astimezone(UTC)
    from zoneinfo import ZoneInfo

    local = day.astimezone(ZoneInfo(tz)).replace(hour=11, minute=offset % 60)
    if local.weekday() >= 5 or local.date().isoformat() in ("2025-06-02", "2025-05-31"):
        local += timedelta(days=2)
    at = local
    hist, spans = [], []
    for kind, start_min, length in events:
        start = at + timedelta(minutes=start_min)
        end = None if length is None else start + timedelta(minutes=length)
        hist.append(HistoryEvent(start, kind, "+1", "d1", until=end))
        spans.append((kind, start, end))
    dial = ProposedDial(jur, purpose, at, tz, "+8613800000001" if jur == "CN" else "+12125550100", "d1",
                        consent=True, touch=touch)
    v = check(dial, hist)
    expected = _oracle_lifecycle(at, purpose, touch, spans)
    if expected is None:
        assert v.rule not in ("payment_received", "promise_pending"), v
    else:
        assert v.rule == expected, (v, spans, at)


def test_events_of_another_debt_do_not_hold_this_one():
    at = datetime(2025, 6, 9, 10, 0, tzinfo=timezone(timedelta(hours=8)))
    other = [HistoryEvent(at - timedelta(hours=1), "payment", "+8613800000009", "d2"),
             HistoryEvent(at - timedelta(hours=1), "promise", "+8613800000009", "d2", until=at + timedelta(days=2))]
    assert check(ProposedDial("CN", "collections", at, SH, "+8613800000001", "d1"), other).allowed
    mine = [HistoryEvent(e.at, e.type, e.phone, "d1", until=e.until) for e in other]
    assert check(ProposedDial("CN", "collections", at, SH, "+8613800000001", "d1"), mine).rule == "payment_received"
