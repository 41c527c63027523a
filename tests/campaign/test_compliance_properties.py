"""Property tests: generated schedules, time zones across DST changes and outcomes; zero violations.

The oracle below is independent of the gate: it uses dateutil (not zoneinfo) for local time, its
own holiday table, and judges a whole schedule dial by dial from the rule text of issue 7.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from dateutil import tz as dtz
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.campaign.compliance import HistoryEvent, ProposedDial, check

ZONES = {"CN": ["Asia/Shanghai", "Asia/Urumqi"],
         "US": ["America/New_York", "America/Los_Angeles", "America/Chicago", "America/Phoenix",
                "Pacific/Honolulu", "America/Anchorage"]}
HOLIDAYS = {
    "CN": {date(2025, 1, 1), date(2025, 1, 28), date(2025, 1, 29), date(2025, 1, 30), date(2025, 1, 31),
           date(2025, 5, 1), date(2025, 10, 1), date(2025, 10, 2), date(2025, 10, 3)},
    "US": {date(2025, 1, 1), date(2025, 7, 4), date(2025, 11, 27), date(2025, 12, 25)},
}
HOURS = {"CN": (8, 22), "US": (8, 21)}
# near DST changes (US 9 Mar, 2 Nov), Spring Festival, National Day, Thanksgiving, an ordinary week
BASES = [datetime(2025, 3, 6), datetime(2025, 10, 29), datetime(2025, 1, 25), datetime(2025, 9, 27),
         datetime(2025, 11, 22), datetime(2025, 6, 10)]
WEEK = timedelta(days=7)


@dataclass
class Placed:
    seq: int
    at: datetime
    jur: str
    zone: str
    phone: str
    debt: str
    purpose: str
    consent: bool
    outcome: str            # no_answer | talk | refusal | opt_out | callback
    callback_at: datetime | None = None
    cap: int | None = None

    @property
    def talked(self) -> bool:
        return self.outcome != "no_answer"


@dataclass
class Oracle:
    placed: list[Placed] = field(default_factory=list)

    def local(self, p: Placed) -> datetime:
        return p.at.astimezone(dtz.gettz(p.zone))

    def ok(self, d: Placed) -> bool:
        """Would placing `d` after everything already placed break a rule?"""
        loc = self.local(d)
        lo, hi = HOURS[d.jur]
        if not (lo <= loc.hour < hi) or loc.date() in HOLIDAYS[d.jur]:
            return False
        if d.purpose == "telesales" and not d.consent:  # US TCPA; CN: MIIT rules on commercial calls
            return False
        same_debt = [p for p in self.placed if p.debt == d.debt]
        related = [p for p in self.placed if p.debt == d.debt or p.phone == d.phone]
        if any(p.outcome == "opt_out" for p in related):
            return False
        if d.purpose == "telesales" and any(p.outcome == "refusal" for p in related):
            return False
        if d.jur == "CN":
            day = loc.date()
            if sum(1 for p in self.placed if p.phone == d.phone and self.local(p).date() == day) >= 6:
                return False
            if sum(1 for p in same_debt if p.talked and self.local(p).date() == day) >= 3:
                return False
        else:
            if any(p.talked and p.at <= d.at < p.at + WEEK for p in same_debt):
                return False
            if sum(1 for p in same_debt if d.at - WEEK < p.at <= d.at) + 1 > 7:
                return False
        if d.cap is not None and len(same_debt) >= d.cap:
            return False
        for p in same_debt:
            if p.outcome == "callback" and p.at <= d.at < p.callback_at - timedelta(minutes=10):
                if not any(q.talked and p.at < q.at <= d.at for q in same_debt):
                    return False
        return True

    def violations(self) -> list[Placed]:
        """Re-judge a finished schedule, each dial against the dials placed before it in time."""
        bad = []
        ordered = sorted(self.placed, key=lambda p: (p.at, p.seq))
        for i, d in enumerate(ordered):
            if not Oracle(ordered[:i]).ok(d):
                bad.append(d)
        return bad


def history_of(placed: list[Placed]) -> list[HistoryEvent]:
    out = []
    for p in placed:
        out.append(HistoryEvent(p.at, "conversation" if p.talked else "attempt", p.phone, p.debt, "camp"))
        if p.outcome in ("refusal", "opt_out"):
            out.append(HistoryEvent(p.at, p.outcome, p.phone, p.debt))
        if p.outcome == "callback":
            out.append(HistoryEvent(p.at, "callback", p.phone, p.debt, callback_at=p.callback_at))
    return out


def to_dial(p: Placed) -> ProposedDial:
    return ProposedDial(jurisdiction=p.jur, purpose=p.purpose, at=p.at, timezone=p.zone, phone=p.phone,
                        debt_id=p.debt, consent=p.consent, campaign_id="camp", max_attempts=p.cap)


OUTCOMES = st.sampled_from(["no_answer"] * 6 + ["talk"] * 3 + ["refusal", "opt_out", "callback"])


@st.composite
def scenarios(draw):
    jur = draw(st.sampled_from(["CN", "US"]))
    zones = draw(st.lists(st.sampled_from(ZONES[jur]), min_size=1, max_size=2))
    base = draw(st.sampled_from(BASES)).replace(tzinfo=UTC)
    cap = draw(st.one_of(st.none(), st.integers(2, 12)))
    n = draw(st.integers(5, 60))
    cands = []
    for k in range(n):
        minute = draw(st.integers(0, 12 * 24 * 60))
        who = draw(st.integers(0, 2))
        cands.append(Placed(
            seq=k, at=base + timedelta(minutes=minute), jur=jur, zone=zones[who % len(zones)],
            phone=f"+1555000{draw(st.integers(0, 2))}", debt=f"debt{who}",
            purpose=draw(st.sampled_from(["collections", "collections", "telesales"])),
            consent=draw(st.booleans()), outcome=draw(OUTCOMES), cap=cap,
            callback_at=base + timedelta(minutes=minute + draw(st.integers(30, 48 * 60)))))
    return cands


SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(scenarios())
def test_gate_agrees_with_oracle_on_chronological_schedules(cands):
    """Placed in time order, the gate allows a dial exactly when the oracle finds it lawful."""
    oracle = Oracle()
    for c in sorted(cands, key=lambda p: (p.at, p.seq)):
        verdict = check(to_dial(c), history_of(oracle.placed))
        assert verdict.allowed == oracle.ok(c), (verdict, c)
        if verdict.allowed:
            oracle.placed.append(c)
    assert oracle.violations() == []


@SETTINGS
@given(scenarios(), st.randoms(use_true_random=False))
def test_zero_violations_when_dials_are_planned_in_any_order(cands, rnd):
    """Planners add dials out of time order; the finished schedule must still be lawful.

    Outcomes are only known after a dial, so planned dials enter the history as plain attempts."""
    rnd.shuffle(cands)
    planned: list[Placed] = []
    for c in cands:
        c.outcome = "no_answer"
        if check(to_dial(c), history_of(planned)).allowed:
            planned.append(c)
    assert Oracle(planned).violations() == []


def test_oracle_is_not_vacuous():
    """A schedule that ignores the gate does break rules the oracle sees."""
    base = datetime(2025, 3, 10, 13, 0, tzinfo=UTC)  # 09:00 New York
    dials = [Placed(k, base + timedelta(minutes=k), "US", "America/New_York", "+1", "d", "collections", False,
                    "no_answer") for k in range(9)]
    assert len(Oracle(dials).violations()) == 2  # the 8th and 9th call within 7 days
