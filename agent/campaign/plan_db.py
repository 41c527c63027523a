"""The planner on the database: accounts and past dials in, planned Attempt rows out.

`plan_campaign_day(session, campaign_id, day, capacity)` reads the campaign's accounts (same purpose;
a "mixed" campaign takes all), their attempts, calls and outcomes, runs the same `plan_day` as
`dialwise plan` and adds Attempt rows (status "planned", not_before = the slot) plus a
ComplianceBlock row for every block. The caller's transaction commits. The dispatcher asks the gate
again right before dialling.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.store.models import Account, Attempt, Call, Campaign, ComplianceBlock, Outcome
from agent.timeutil import aware
from dialogs.outcomes import STICKY

PENDING = ("planned", "claimed", "dialing")
_RESULT_AS_OUTCOME = {"no_answer": "no_answer", "busy": "busy", "failed": "no_answer", "voicemail": "voicemail",
                      "answered": "right_party"}


def consent_for(acc: Account) -> bool:
    """The consent that counts for this account's purpose: marketing consent for telesales, consent
    to servicing calls for collections."""
    return bool(acc.consent_marketing if acc.purpose == "telesales" else acc.consent_calls)


def dial_for(acc: Account, at: datetime, campaign_id: str | None = None, script_id: str | None = None):
    """The gate's view of dialling `acc` at `at` with `script_id` (opt-outs, promises and payments come
    in through `gate_history`)."""
    from agent.campaign.compliance import ProposedDial
    from agent.lifecycle.follow_up import touch_of

    return ProposedDial(jurisdiction=acc.jurisdiction, purpose=acc.purpose, at=at, timezone=acc.timezone,
                        phone=acc.phone, debt_id=acc.id, consent=consent_for(acc), region=acc.region,
                        campaign_id=campaign_id, touch=touch_of(script_id))


def account_dict(acc: Account) -> dict:
    consent = consent_for(acc)
    return {"id": acc.id, "phone": acc.phone, "timezone": acc.timezone, "jurisdiction": acc.jurisdiction,
            "language": acc.language, "purpose": acc.purpose, "bucket": acc.bucket, "product": acc.product,
            "balance": acc.balance, "days_past_due": acc.days_past_due, "consent": consent,
            "region": acc.region, "features": dict(acc.custom or {})}


def history_rows(s: Session, account_ids: list[str]) -> list[dict]:
    """Plan-format history ({"account_id", "at", "script_id", "outcome", "amount", ...}) of placed dials."""
    from agent.campaign.portfolio import OUTCOME_CODE

    if not account_ids:
        return []
    calls = {c.attempt_id: c for c in s.scalars(select(Call).where(Call.account_id.in_(account_ids),
                                                                    Call.attempt_id.is_not(None)))}
    outcomes = {o.call_id: o for o in s.scalars(select(Outcome).where(Outcome.account_id.in_(account_ids)))}
    rows = []
    for a in s.scalars(select(Attempt).where(Attempt.account_id.in_(account_ids), Attempt.dialed_at.is_not(None))):
        call = calls.get(a.id)
        outcome = (call.outcome if call is not None and call.outcome
                   else _RESULT_AS_OUTCOME.get(a.result or "", "no_answer"))
        if outcome == "completed":
            outcome = "right_party"
        if outcome not in OUTCOME_CODE:
            outcome = "right_party" if call is not None and call.started_at else "no_answer"
        row = {"account_id": a.account_id, "at": aware(a.dialed_at).isoformat(), "script_id": a.script_id,
               "outcome": outcome, "amount": None, "phone": a.phone, "campaign_id": a.campaign_id}
        o = outcomes.get(call.id) if call is not None else None
        if o is not None:
            row["amount"] = o.promise_amount
            if o.promise_date:
                row["promise_date"] = o.promise_date.isoformat()
            if o.callback_at:
                row["callback_at"] = aware(o.callback_at).isoformat()
        rows.append(row)
    return rows


@dataclass
class DbPlan:
    attempt_ids: list[str]
    stats: dict
    dials: list[dict]


def plan_campaign_day(s: Session, campaign_id: str, day: date, capacity: int, *, seed: int = 0,
                      catalog=None, rules=None, account_ids: list[str] | None = None) -> DbPlan:
    from agent.campaign.catalog import Catalog, load_scripts
    from agent.campaign.planner import PlanOptions, plan_day
    from agent.campaign.portfolio import accounts_from_dicts, history_from_dicts

    camp = s.get(Campaign, campaign_id)
    if camp is None:
        raise ValueError(f"no campaign {campaign_id!r}")
    query = select(Account)
    if camp.purpose in ("collections", "telesales"):
        query = query.where(Account.purpose == camp.purpose)
    if account_ids is not None:  # a campaign over a chosen list of accounts
        query = query.where(Account.id.in_(account_ids))
    busy = set(s.scalars(select(Attempt.account_id).where(Attempt.campaign_id == campaign_id,
                                                          Attempt.status.in_(PENDING))))
    accounts = [account_dict(a) for a in s.scalars(query.order_by(Account.id)) if a.id not in busy]
    catalog = catalog or Catalog(load_scripts())
    from agent.lifecycle.follow_up import facts_from_db
    from agent.lifecycle.promises import sweep

    # the daily sweep: promises whose grace days have passed are broken before planning (never ahead of
    # time). `day` has begun everywhere by 12:00 UTC (UTC-12 is the latest zone): a promise whose last grace
    # day ended before `day` began in its account's zone is broken for `day` (00:00 UTC broke New York
    # promises a day late)
    sweep(s, now=min(datetime.now(UTC), datetime.combine(day, datetime.min.time(), tzinfo=UTC)
                     + timedelta(hours=12)))
    facts = facts_from_db(s, [a["id"] for a in accounts], day)
    acc = accounts_from_dicts(accounts)
    hist = history_from_dicts(history_rows(s, [a["id"] for a in accounts]), acc)
    plan = plan_day(acc, hist, catalog, PlanOptions(day=day, capacity=capacity, seed=seed, rules=rules,
                                                    campaign_id=campaign_id, max_attempts=camp.max_attempts,
                                                    lifecycle=facts))
    phone = {a["id"]: a["phone"] for a in accounts}
    ids = []
    for d in plan.dials:
        att = Attempt(campaign_id=campaign_id, account_id=d["account_id"], script_id=d["script_id"],
                      phone=phone[d["account_id"]], status="planned",
                      not_before=datetime.fromisoformat(d["at"]).astimezone(UTC))
        s.add(att)
        s.flush()
        ids.append(att.id)
    for b in plan.blocks:
        s.add(ComplianceBlock(account_id=b["account_id"], rule=b["rule"], reason=b["reason"],
                              at=datetime.fromisoformat(b["at"]).astimezone(UTC)))
    return DbPlan(ids, plan.stats, plan.dials)


def gate_history(s: Session, account: Account, since: datetime | None = None) -> list:
    """The gate's history for one account from the database: one event per placed dial (a conversation
    when the right party was on the line, else an attempt), plus refusals, call-backs and opt-outs
    (any channel, matched by number). `since` drops older dials but never opt-outs or refusals."""
    from agent.campaign.compliance import HistoryEvent, events_for_outcome
    from agent.store.models import OptOut

    events = []
    for r in history_rows(s, [account.id]):
        at = datetime.fromisoformat(r["at"])
        sticky = r["outcome"] in STICKY
        if since is not None and at < since and not sticky:
            continue
        cb = datetime.fromisoformat(r["callback_at"]) if r.get("callback_at") else None
        events.extend(events_for_outcome(at, r["outcome"], r.get("phone") or account.phone, account.id,
                                         r.get("campaign_id"), cb))
    for o in s.scalars(select(OptOut).where((OptOut.phone == account.phone) | (OptOut.account_id == account.id))):
        events.append(HistoryEvent(aware(o.created_at), "opt_out", o.phone, account.id))
    from agent.lifecycle.gate_facts import lifecycle_history

    events.extend(lifecycle_history(s, account))  # pending promises, payments
    return events
