"""Promise follow-ups for the planner: who is out of collections for now, and who gets which touch.

`LifecycleFacts` carries what the lifecycle tables know per account id (the planner never reads them):
  out         -- accounts with nothing left to gain today: "paid" (a payment holds them), or
                 "promise_pending" (a promise is pending and today is not its reminder day);
  touch       -- "ptp_reminder" the day before a promise falls due, "ptp_broken" after it broke
                 (until a right-party conversation or MAX_BROKEN_DIALS dials since it broke);
  gate_events -- the same facts as gate history (promise, payment), so the gate judges them too.
`apply_facts` folds them into the planner's masks; the planner then dials follow-ups first, each
with a script of the `collections_<kind>_<lang>` family, through the same gate.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np

FOLLOW_UP_KINDS = ("ptp_reminder", "ptp_broken")
MAX_BROKEN_DIALS = 3


def touch_of(script_id: str | None) -> str | None:
    """The follow-up kind a script id stands for ("collections_ptp_reminder_zh_a" -> "ptp_reminder")."""
    if not script_id:
        return None
    for kind in FOLLOW_UP_KINDS:
        if f"_{kind}_" in script_id:
            return kind
    return None


@dataclass
class PromiseState:
    """One account's latest promise, as the planner needs it."""

    status: str               # pending | kept | partially_kept | broken | cancelled
    made_day: date            # account-local
    due_day: date
    closed_at: datetime | None = None
    reminded: bool = False    # a ptp_reminder dial already happened for it
    broken_dials: int = 0     # ptp_broken dials since it closed
    talked_since_close: bool = False


@dataclass
class LifecycleFacts:
    paid: dict[str, datetime] = field(default_factory=dict)        # account -> payment holding it
    promises: dict[str, PromiseState] = field(default_factory=dict)
    gate_events: dict[str, list] = field(default_factory=dict)
    follow_up: bool = True    # False: only keep accounts out (no reminder / broken-promise touches)

    def decide(self, account_id: str, day: date) -> tuple[str | None, str | None]:
        """(out reason, touch kind) for one account on `day`."""
        if account_id in self.paid:
            return "paid", None
        p = self.promises.get(account_id)
        if p is None:
            return None, None
        if p.status == "pending" or (p.status == "partially_kept" and p.closed_at is None):
            if self.follow_up and not p.reminded and p.due_day - timedelta(days=1) == day and p.made_day < day:
                return None, "ptp_reminder"
            return "promise_pending", None
        if p.status in ("broken", "partially_kept") and self.follow_up:
            if not p.talked_since_close and p.broken_dials < MAX_BROKEN_DIALS:
                return None, "ptp_broken"
        return None, None


def apply_facts(acc, facts: LifecycleFacts, day: date, catalog, fam: np.ndarray, done: np.ndarray,
                skipped: Counter) -> np.ndarray:
    """Mark accounts out (`done`, counted in `skipped`), point follow-ups at their script family (`fam`);
    returns the touch kind per account (None: an ordinary dial)."""
    touch = np.full(len(acc), None, dtype=object)
    for k, aid in enumerate(acc.ids.tolist()):
        if done[k] or acc.purpose[k] != "collections":
            continue
        out, kind = facts.decide(aid, day)
        if out is not None:
            done[k] = True
            skipped[out] += 1
        elif kind is not None:
            fi = catalog.family_index("collections", kind, acc.language[k])
            if fi >= 0:
                fam[k] = fi
                touch[k] = kind
            else:
                skipped[f"no_{kind}_script"] += 1
    return touch


def facts_from_db(s, account_ids: list[str], day: date) -> LifecycleFacts:
    """LifecycleFacts from the promises, CRM events and follow-up dials in the database."""
    from sqlalchemy import select

    from agent.campaign.compliance.outcomes import RIGHT_PARTY_OUTCOMES
    from agent.lifecycle.gate_facts import lifecycle_history
    from agent.lifecycle.promises import local_date
    from agent.store.lifecycle_models import Promise
    from agent.store.models import Account, Attempt, Call

    facts = LifecycleFacts()
    if not account_ids:
        return facts
    accounts = {a.id: a for a in s.scalars(select(Account).where(Account.id.in_(account_ids)))}
    at_day = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    for aid, acc in accounts.items():
        events = lifecycle_history(s, acc)
        if events:
            facts.gate_events[aid] = events
        for e in events:
            if e.type == "payment" and e.at <= at_day and (e.until is None or at_day < e.until):
                facts.paid[aid] = e.at
    latest = {}
    for p in s.scalars(select(Promise).where(Promise.account_id.in_(account_ids), Promise.status != "cancelled")
                       .order_by(Promise.promised_at, Promise.id)):
        latest[p.account_id] = p
    if not latest:
        return facts
    dials = s.execute(select(Attempt.account_id, Attempt.script_id, Attempt.dialed_at, Call.outcome)
                      .join(Call, Call.attempt_id == Attempt.id, isouter=True)
                      .where(Attempt.account_id.in_(list(latest)), Attempt.dialed_at.is_not(None))).all()
    for aid, p in latest.items():
        tz = accounts[aid].timezone
        made = _aware(p.promised_at)
        closed = _aware(p.closed_at) if p.closed_at else None
        state = PromiseState(p.status, local_date(made, tz), p.due_date, closed)
        for d_aid, script_id, dialed_at, outcome in dials:
            if d_aid != aid:
                continue
            when = _aware(dialed_at)
            kind = touch_of(script_id)
            if kind == "ptp_reminder" and when >= made:
                state.reminded = True
            if closed is not None and when >= closed:
                state.broken_dials += kind == "ptp_broken"
                state.talked_since_close |= outcome in RIGHT_PARTY_OUTCOMES
        facts.promises[aid] = state
    return facts


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
