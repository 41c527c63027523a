"""The one compliance gate: every dial, planned or about to be placed, is judged here.

`check(dial, history, rules)` is pure: no clock, no I/O. Asked at planning time and again by the
dispatcher right before dialling. Returns the first rule that blocks, or ALLOWED.
History may contain events after `dial.at` (planning ahead); counting rules then count them too,
so the verdict stays safe whatever order dials are added in.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from agent.campaign.compliance import rules as R
from agent.campaign.compliance.types import (
    ALLOWED,
    DIAL_EVENTS,
    PARTIES,
    PURPOSES,
    HistoryEvent,
    ProposedDial,
    Verdict,
)
from agent.timeutil import zone  # (re-exported by agent.campaign.compliance)

log = logging.getLogger("dialwise.compliance")


def _block(rule: str, reason: str) -> Verdict:
    v = Verdict(False, rule, reason)
    if log.isEnabledFor(logging.INFO):
        log.info("blocked rule=%s reason=%s", rule, reason)
    return v


def _invalid(reason: str) -> Verdict:
    return Verdict(False, R.INVALID_INPUT, reason)


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def check(dial: ProposedDial, history: Iterable[HistoryEvent] = (), rules: R.Rules | None = None) -> Verdict:
    """Judge one proposed dial against the history of its callee and debt."""
    rules = rules or R.default_rules()
    pack = rules.packs.get(dial.jurisdiction)
    if pack is None:
        return _invalid(f"unknown jurisdiction {dial.jurisdiction!r}; use one of {sorted(rules.packs)}")
    if dial.purpose not in PURPOSES:
        return _invalid(f"unknown purpose {dial.purpose!r}; use collections or telesales")
    if dial.party not in PARTIES:
        return _invalid(f"unknown party {dial.party!r}; use debtor or third_party")
    if dial.at.tzinfo is None or dial.at.utcoffset() is None:
        return _invalid("'at' needs a UTC offset, e.g. 2025-03-04T10:00:00+08:00")
    try:
        tz = zone(dial.timezone)
    except ValueError as exc:
        return _invalid(str(exc))
    if not dial.phone:
        return _invalid("'phone' is empty")

    at = dial.at
    local = at.astimezone(tz)
    phone, debt = dial.phone, dial.debt_id
    telesales = dial.purpose == "telesales"

    # -- permanent lists ------------------------------------------------------------------------
    if phone in rules.dnc:
        return _block(R.DNC_LIST, f"{phone} is on the do-not-call list")
    if dial.opted_out:
        return _block(R.OPT_OUT, "the callee has opted out of calls")
    hist = history if isinstance(history, (list, tuple)) else list(history)
    for e in hist:
        if e.at.tzinfo is None:
            return _invalid(f"history event at {e.at.isoformat()} has no UTC offset")
        if e.type == "opt_out" and (e.phone == phone or (debt and e.debt_id == debt)):
            return _block(R.OPT_OUT, f"opted out on {e.at.isoformat()} (any channel applies at once)")

    # -- calendar and clock ---------------------------------------------------------------------
    region = dial.region or dial.jurisdiction
    if rules.holidays.is_holiday(region, local.date()):
        return _block(R.HOLIDAY, f"{local.date().isoformat()} is a holiday in {region}")
    minute = local.hour * 60 + local.minute
    if not (pack.start_minute <= minute < pack.end_minute):
        return _block(pack.hours_rule, f"{local.strftime('%H:%M')} callee-local ({dial.timezone}) is outside "
                      f"{_hhmm(pack.start_minute)}-{_hhmm(pack.end_minute)}")

    # -- consent and refusals -------------------------------------------------------------------
    if telesales and pack.telemarketing_needs_consent and not dial.consent:
        return _block(pack.consent_rule, "telemarketing call without recorded consent")
    if telesales and pack.refusal_blocks_marketing:
        for e in hist:
            if e.type == "refusal" and (e.phone == phone or (debt and e.debt_id == debt)):
                return _block(R.MARKETING_REFUSAL, f"explicit refusal of marketing on {e.at.isoformat()}")

    debt_events = [e for e in hist if debt and e.debt_id == debt]

    # -- the collections lifecycle: a payment, a pending promise ---------------------------------
    if not telesales:
        for e in debt_events:
            if e.type == "payment" and e.at <= at and (e.until is None or at < e.until):
                return _block(R.PAYMENT_RECEIVED, f"payment received on {e.at.isoformat()}: out of collections")
        if dial.touch != "ptp_reminder":
            for e in debt_events:
                if e.type == "promise" and e.at <= at and (e.until is None or at < e.until):
                    until = e.until.isoformat() if e.until else "its settlement"
                    return _block(R.PROMISE_PENDING, f"a promise to pay made on {e.at.isoformat()} is pending "
                                  f"until {until}")

    # -- third parties --------------------------------------------------------------------------
    if dial.party == "third_party":
        if dial.discloses_debt:
            return _block(R.THIRD_PARTY_DISCLOSURE, "a third party must never be told about the debt")
        if pack.third_party_needs_unreachable:
            lo = at - pack.unreachable_window
            talked = any(e.type == "conversation" and lo <= e.at <= at for e in debt_events)
            tries = sum(1 for e in debt_events
                        if e.type in DIAL_EVENTS and lo <= e.at <= at and e.phone != phone)
            if talked or tries < pack.unreachable_min_attempts:
                return _block(R.CN_THIRD_PARTY_REACHABLE,
                              "third-party contact only when the debtor is unreachable "
                              f"(conversation in window: {talked}, failed debtor attempts: {tries}"
                              f"/{pack.unreachable_min_attempts})")

    # -- requested call-back time ---------------------------------------------------------------
    for e in debt_events:
        if e.type == "callback" and e.callback_at is not None and e.at <= at < e.callback_at - pack.callback_tolerance:
            answered_since = any(x.type == "conversation" and e.at < x.at <= at for x in debt_events)
            if not answered_since:
                return _block(R.CALLBACK_PENDING, f"callee asked to be called at {e.callback_at.isoformat()}")

    # -- frequency limits -----------------------------------------------------------------------
    if pack.max_conversations_per_day is not None or pack.max_attempts_per_number_per_day is not None:
        day = local.date()
        convs = tries = 0
        for e in hist:
            if e.type not in DIAL_EVENTS or e.at.astimezone(tz).date() != day:
                continue
            if e.phone == phone:
                tries += 1
            if e.type == "conversation" and debt and e.debt_id == debt:
                convs += 1
        if pack.max_conversations_per_day is not None and convs >= pack.max_conversations_per_day:
            return _block(R.CN_DAILY_CONVERSATIONS, f"{convs} effective conversations with this debtor on "
                          f"{day.isoformat()} (max {pack.max_conversations_per_day})")
        if pack.max_attempts_per_number_per_day is not None and tries >= pack.max_attempts_per_number_per_day:
            return _block(R.CN_DAILY_ATTEMPTS, f"{tries} dial attempts to {phone} on {day.isoformat()} "
                          f"(max {pack.max_attempts_per_number_per_day})")

    if pack.after_conversation_quiet is not None:
        q = pack.after_conversation_quiet
        for e in debt_events:
            if e.type == "conversation" and e.at <= at < e.at + q:
                return _block(R.US_AFTER_CONVERSATION,
                              f"conversation about this debt on {e.at.isoformat()}: no call for {q.days} days")

    if pack.max_calls_per_window is not None:
        w = pack.calls_window
        times = sorted(e.at for e in debt_events if e.type in DIAL_EVENTS and at - w < e.at < at + w)
        if _window_overflows(times, at, w, pack.max_calls_per_window):
            return _block(R.US_7_IN_7, f"more than {pack.max_calls_per_window} calls within "
                          f"{w.days} days for this debt")

    cap = dial.max_attempts if dial.max_attempts is not None else pack.max_attempts_per_campaign
    if cap is not None:
        n = sum(1 for e in debt_events if e.type in DIAL_EVENTS and e.campaign_id == dial.campaign_id)
        if n >= cap:
            return _block(R.CAMPAIGN_MAX_ATTEMPTS, f"{n} attempts already in this campaign (max {cap})")

    return ALLOWED


def _window_overflows(times: list[datetime], at: datetime, w: timedelta, cap: int) -> bool:
    """Would adding a call at `at` put more than `cap` calls in some window [s, s + w)?"""
    starts = [t for t in times if t <= at] + [at]
    for s in starts:
        end = s + w
        if at >= end:
            continue
        n = 1 + sum(1 for t in times if s <= t < end)
        if n > cap:
            return True
    return False
