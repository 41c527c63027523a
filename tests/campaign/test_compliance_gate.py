"""Examples for each rule of the compliance gate, in both jurisdictions, and the CLI contract."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from agent.campaign.compliance import HistoryEvent, ProposedDial, check, check_line, load_rules

CN_TZ = timezone(timedelta(hours=8))
# Our commands on their own Typer app (as agent/cli.py registers them), so that another area's
# unfinished module cannot break these tests.
CAMPAIGN_CLI = ("import typer; from agent.campaign.cli import register; "
                "app = typer.Typer(); bench = typer.Typer(); app.add_typer(bench, name='bench'); "
                "register(app, bench); app()")


def cn(at: str, **kw) -> ProposedDial:
    base = dict(jurisdiction="CN", purpose="collections", at=datetime.fromisoformat(at), timezone="Asia/Shanghai",
                phone="+8613800000001", debt_id="d1")
    base.update(kw)
    return ProposedDial(**base)


def us(at: str, **kw) -> ProposedDial:
    base = dict(jurisdiction="US", purpose="collections", at=datetime.fromisoformat(at),
                timezone="America/New_York", phone="+12125550100", debt_id="d1")
    base.update(kw)
    return ProposedDial(**base)


def ev(at: str, typ: str, phone="+8613800000001", debt="d1", **kw) -> HistoryEvent:
    return HistoryEvent(at=datetime.fromisoformat(at), type=typ, phone=phone, debt_id=debt, **kw)


@pytest.mark.parametrize("at,allowed", [
    ("2025-03-04T07:59:00+08:00", False), ("2025-03-04T08:00:00+08:00", True),
    ("2025-03-04T21:59:00+08:00", True), ("2025-03-04T22:00:00+08:00", False),
    ("2025-03-04T00:30:00+00:00", True),   # 08:30 in Shanghai
    ("2025-03-04T14:30:00+00:00", False),  # 22:30 in Shanghai
])
def test_cn_calling_hours_are_callee_local(at, allowed):
    v = check(cn(at))
    assert v.allowed is allowed
    assert v.rule in (None, "cn_calling_hours")


@pytest.mark.parametrize("at,allowed", [
    ("2025-03-10T08:00:00-04:00", True), ("2025-03-10T07:59:00-04:00", False),
    ("2025-03-10T20:59:00-04:00", True), ("2025-03-10T21:00:00-04:00", False),
    # 2025-03-09 is the DST change in New York: 12:30 UTC is 08:30 EDT (07:30 EST the day before)
    ("2025-03-09T12:30:00+00:00", True), ("2025-03-08T12:30:00+00:00", False),
])
def test_us_calling_hours_follow_dst(at, allowed):
    assert check(us(at)).allowed is allowed


def test_cn_three_conversations_per_debtor_per_day():
    hist = [ev(f"2025-03-04T{h}:00:00+08:00", "conversation", phone=f"+86138{h}") for h in ("09", "10", "11")]
    v = check(cn("2025-03-04T15:00:00+08:00"), hist)
    assert (v.allowed, v.rule) == (False, "cn_daily_conversations")
    assert check(cn("2025-03-05T09:00:00+08:00"), hist).allowed  # a new local day


def test_cn_six_attempts_per_number_per_day_counting_conversations():
    hist = [ev(f"2025-03-04T{h:02d}:00:00+08:00", "attempt") for h in range(8, 13)]
    assert check(cn("2025-03-04T15:00:00+08:00"), hist).allowed
    hist.append(ev("2025-03-04T14:00:00+08:00", "conversation"))
    v = check(cn("2025-03-04T15:00:00+08:00"), hist)
    assert (v.allowed, v.rule) == (False, "cn_daily_attempts_per_number")
    assert check(cn("2025-03-04T15:00:00+08:00", phone="+8613900000000"), hist).allowed  # another number


def test_us_seven_calls_in_seven_days_and_quiet_after_conversation():
    hist = [ev(f"2025-03-{d:02d}T10:00:00-05:00", "attempt", phone="+12125550100") for d in range(3, 10)]
    v = check(us("2025-03-09T15:00:00-04:00"), hist)
    assert (v.allowed, v.rule) == (False, "us_7_in_7")
    assert check(us("2025-03-10T11:00:00-04:00"), hist).allowed  # the 3 Mar call left the window
    talk = [ev("2025-03-03T10:00:00-05:00", "conversation", phone="+12125550100")]
    v = check(us("2025-03-09T10:00:00-04:00"), talk)
    assert (v.allowed, v.rule) == (False, "us_7_days_after_conversation")
    # 7 x 24 h, stricter than 7 calendar days: across the DST change 10:00 local is only 6 d 23 h later
    assert not check(us("2025-03-10T10:00:00-04:00"), talk).allowed
    assert check(us("2025-03-10T11:00:00-04:00"), talk).allowed


def test_us_window_counts_planned_future_calls_too():
    hist = [ev(f"2025-03-{d:02d}T10:00:00-04:00", "attempt", phone="+12125550100") for d in range(11, 18)]
    v = check(us("2025-03-10T11:00:00-04:00"), hist)  # before all seven, but within 7 days of them
    assert check(us("2025-03-10T10:00:00-04:00"), hist).allowed  # the 17 Mar call is exactly 7 days later
    assert (v.allowed, v.rule) == (False, "us_7_in_7")


def test_opt_out_by_any_channel_and_dnc_apply_everywhere():
    opt = [ev("2025-03-04T09:00:00+08:00", "opt_out", phone="sms")]  # matched through the debt
    assert check(cn("2025-03-04T10:00:00+08:00"), opt).rule == "opt_out"
    assert check(us("2025-03-10T10:00:00-04:00", opted_out=True)).rule == "opt_out"
    rules = load_rules_dict({"dnc": ["+12125550100"]})
    assert check(us("2025-03-10T10:00:00-04:00"), [], rules).rule == "dnc_list"


def load_rules_dict(data, tmp=None):
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(data, f)
    return load_rules(f.name)


def test_marketing_needs_consent_in_us_and_stops_after_refusal():
    assert check(us("2025-03-10T10:00:00-04:00", purpose="telesales")).rule == "us_telemarketing_consent"
    assert check(us("2025-03-10T10:00:00-04:00", purpose="telesales", consent=True)).allowed
    refusal = [ev("2025-03-01T10:00:00+08:00", "refusal")]
    v = check(cn("2025-03-04T10:00:00+08:00", purpose="telesales", consent=True), refusal)
    assert v.rule == "marketing_refusal"
    assert check(cn("2025-03-04T10:00:00+08:00", purpose="collections"), refusal).allowed


def test_third_party_only_when_debtor_unreachable_and_never_told():
    d = dict(party="third_party", phone="+8613700000000")
    assert check(cn("2025-03-04T10:00:00+08:00", **d)).rule == "cn_third_party_debtor_reachable"
    tries = [ev(f"2025-03-0{k}T10:00:00+08:00", "attempt") for k in (1, 2, 3)]
    assert check(cn("2025-03-04T10:00:00+08:00", **d), tries).allowed
    assert check(cn("2025-03-04T10:00:00+08:00", discloses_debt=True, **d), tries).rule == "third_party_disclosure"
    talked = tries + [ev("2025-03-03T11:00:00+08:00", "conversation")]
    assert check(cn("2025-03-04T10:00:00+08:00", **d), talked).rule == "cn_third_party_debtor_reachable"


def test_holidays_builtin_and_configured():
    assert check(cn("2025-10-01T10:00:00+08:00")).rule == "holiday"
    assert check(cn("2025-01-29T10:00:00+08:00")).rule == "holiday"  # Spring Festival
    assert check(us("2025-11-27T10:00:00-05:00")).rule == "holiday"  # Thanksgiving
    rules = load_rules_dict({"holidays": {"US-CA": ["2025-03-31"]}})
    d = us("2025-03-31T10:00:00-07:00", timezone="America/Los_Angeles", region="US-CA")
    assert check(d, [], rules).rule == "holiday"
    assert check(us("2025-03-31T10:00:00-04:00"), [], rules).allowed  # other US regions work


def test_campaign_max_attempts_and_callback_time():
    hist = [ev(f"2025-03-0{k}T10:00:00+08:00", "attempt", campaign_id="c1") for k in (1, 2, 3)]
    third = check(cn("2025-03-04T10:00:00+08:00", campaign_id="c1", max_attempts=3), hist)
    assert third.rule == "campaign_max_attempts"
    assert check(cn("2025-03-04T10:00:00+08:00", campaign_id="c2", max_attempts=3), hist).allowed
    cb = [ev("2025-03-04T09:00:00+08:00", "callback", callback_at=datetime.fromisoformat("2025-03-04T18:00:00+08:00"))]
    assert check(cn("2025-03-04T12:00:00+08:00"), cb).rule == "callback_pending"
    assert check(cn("2025-03-04T17:55:00+08:00"), cb).allowed
    assert check(cn("2025-03-04T18:00:00+08:00"), cb).allowed


_LINE = ('{"jurisdiction": "CN", "purpose": "collections", "at": "2025-03-04T10:00:00+08:00", '
         '"timezone": "Asia/Shanghai", "phone": "1", "debt_id": "d"')  # a valid line, without its closing brace


@pytest.mark.parametrize("line,needle", [
    ("not json", "JSON"),
    (_LINE.replace('"CN"', '"FR"') + "}", "jurisdiction"),
    (_LINE.replace("10:00:00+08:00", "10:00:00") + "}", "offset"),
    (_LINE.replace("Asia/Shanghai", "Mars/Base") + "}", "zone"),
    (_LINE + ', "history": [{"at": "x", "type": "attempt"}]}', "ISO"),
    (_LINE + ', "history": [{"at": "2025-03-04T09:00:00+08:00", "type": "party"}]}', "type"),
    ("[1, 2]", "object"),
    (_LINE + ', "consent": "yes"}', "consent"),
])
def test_bad_lines_are_invalid_input_not_crashes(line, needle):
    v = check_line(line)
    assert (v.allowed, v.rule) == (False, "invalid_input")
    assert needle.lower() in v.reason.lower()


def test_cli_contract_one_line_per_input_in_order():
    lines = [
        {"jurisdiction": "CN", "purpose": "collections", "at": "2025-03-04T10:00:00+08:00", "timezone": "Asia/Shanghai",
         "phone": "+8613800000001", "debt_id": "d1", "consent": False, "opted_out": False,
         "history": [{"at": "2025-03-04T09:00:00+08:00", "type": "conversation", "phone": "+8613800000001",
                      "debt_id": "d1"}]},
        "{broken",
        {"jurisdiction": "US", "purpose": "telesales", "at": "2025-03-10T10:00:00-04:00",
         "timezone": "America/New_York", "phone": "+12125550100", "debt_id": "d2", "consent": True, "opted_out": False,
         "history": [{"at": "2025-03-01T10:00:00-05:00", "type": "refusal", "phone": "+12125550100", "debt_id": "d2"}]},
        {"jurisdiction": "CN", "purpose": "collections", "at": "2025-03-04T23:00:00+08:00", "timezone": "Asia/Shanghai",
         "phone": "+8613800000001", "debt_id": "d1", "consent": False, "opted_out": False, "history": []},
    ]
    stdin = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n"
    res = subprocess.run([sys.executable, "-c", CAMPAIGN_CLI, "compliance", "check", "--jsonl"],
                         input=stdin, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    out = [json.loads(x) for x in res.stdout.splitlines()]
    assert [o["rule"] for o in out] == [None, "invalid_input", "marketing_refusal", "cn_calling_hours"]
    assert [o["allowed"] for o in out] == [True, False, False, False]
    assert all(set(o) == {"allowed", "rule", "reason"} and o["reason"] for o in out)


def test_naive_history_times_are_invalid_input_not_a_crash():
    naive = [HistoryEvent(datetime(2025, 3, 4, 9, 0), "attempt", "+8613800000001", "d1")]
    v = check(cn("2025-03-04T10:00:00+08:00"), naive)
    assert (v.allowed, v.rule) == (False, "invalid_input") and "offset" in v.reason
