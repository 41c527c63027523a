"""Plan one campaign day: whom to call, at which local time, with which script variant.

Pipeline (vectorised over accounts with numpy; the gate is asked once per chosen dial):
  history -> who is done (paid, converted, opted out, wrong number) or waiting (fresh promise,
  call-back later) -> scores (agent.campaign.scores, or a rule prior) -> contact model (best local
  hour, Thompson sampling) -> bandit (script variant) -> rank by P(right party) x score ->
  compliance gate against history + dials already planned that day -> at most `capacity` dials.
The planner sees only accounts and history, never a simulator's truth.
"""
from __future__ import annotations

import itertools
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timezone

import numpy as np

from agent.campaign import compliance as C
from agent.campaign.bandit import ScriptBandit
from agent.campaign.catalog import Catalog, norm_kind
from agent.campaign.compliance import rules as R
from agent.campaign.compliance.outcomes import events_for_outcome
from agent.campaign.contact_model import ContactModel
from agent.campaign.portfolio import OUTCOME_CODE, SUCCESS, Accounts, History
from agent.campaign.scores import fit_scorer
from dialogs.outcomes import STICKY

log = logging.getLogger("dialwise.plan")

# Blocks that another hour of the same day may clear; other blocks skip the account for the day.
HOUR_RULES = {R.CN_CALLING_HOURS, R.US_CALLING_HOURS}
TIME_RULES = HOUR_RULES | {R.CALLBACK_PENDING, R.US_AFTER_CONVERSATION, R.US_7_IN_7}
CONNECTED = OUTCOME_CODE["wrong_number"]
RP = OUTCOME_CODE["right_party"]


@dataclass
class PlanOptions:
    day: date
    capacity: int
    seed: int = 0
    explore: float = 0.1            # minimum share of random script variants
    promise_grace_days: int = 5     # a promise without a date is not chased for this many days
    dispute_hold_days: int = 30     # an open dispute goes to a human; no calls for this many days
    rules: C.Rules | None = None
    campaign_id: str | None = None
    max_attempts: int | None = None
    per_hour: int | None = None     # at most this many dials starting in any one clock hour (lines x calls/hour)
    lifecycle: object | None = None  # agent.lifecycle.follow_up.LifecycleFacts: payments, promises, follow-ups


@dataclass
class Plan:
    dials: list[dict]
    stats: dict = field(default_factory=dict)
    blocks: list[dict] = field(default_factory=list)


def _codes(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Small integer codes for the distinct values of an object column."""
    seen: dict = {}
    codes = np.fromiter((seen.setdefault(v, len(seen)) for v in values.tolist()), np.int64, len(values))
    return codes, max(len(seen), 1)


def _families(acc: Accounts, catalog: Catalog) -> tuple[np.ndarray, np.ndarray]:
    """Script kind (bucket or product, lower case) and family index (-1: no script fits) per account."""
    n = len(acc)
    dpd_bucket = np.where(acc.days_past_due <= 0, "m0", np.where(acc.days_past_due <= 30, "m1", "m2")).astype(object)
    coll = acc.purpose == "collections"
    raw = np.where(coll, acc.bucket, acc.product)
    missing = coll & np.equal(acc.bucket, None)
    raw[missing] = dpd_bucket[missing]
    cache: dict = {}
    kinds = np.empty(n, dtype=object)
    fam = np.empty(n, np.int64)
    for i, key in enumerate(zip(acc.purpose.tolist(), raw.tolist(), acc.language.tolist(), strict=True)):
        hit = cache.get(key)
        if hit is None:
            kind = norm_kind(key[1])
            hit = cache[key] = (kind, catalog.family_index(key[0], kind, key[2]))
        kinds[i], fam[i] = hit
    return kinds, fam


def segments(acc: Accounts, kinds: np.ndarray) -> tuple[np.ndarray, int]:
    """Segment index per account: jurisdiction, purpose, bucket/product, language + low-cardinality strings."""
    if len(acc) == 0:
        return np.zeros(0, np.int64), 1
    combined = np.zeros(len(acc), np.int64)
    for col in [acc.jurisdiction, acc.purpose, kinds, acc.language] + [acc.strings[k] for k in sorted(acc.strings)]:
        codes, size = _codes(col)
        combined = combined * size + codes
    uniq, inv = np.unique(combined, return_inverse=True)
    return inv.astype(np.int64).ravel(), max(len(uniq), 1)


def _latest(idx: np.ndarray, at: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """Per account, the history row (from `rows`) with the latest time; -1 if none."""
    out = np.full(n, -1, np.int64)
    if len(rows):
        order = rows[np.lexsort((at[rows], idx[rows]))]
        out[idx[order]] = order  # later rows overwrite earlier ones
    return out


def _scores(acc: Accounts, history: History, mask: np.ndarray) -> tuple[np.ndarray, dict]:
    """P(pay or promise | called) (collections) / P(convert | called) (telesales) per account."""
    out = np.zeros(len(acc))
    info: dict = {}
    for purpose in ("collections", "telesales"):
        m = mask & (acc.purpose == purpose)
        if not m.any():
            continue
        cols = acc.columns(m)
        ids = set(cols["id"].tolist())
        hist = [r for r in history.rows if str(r.get("account_id")) in ids] if len(history) else []
        scorer = fit_scorer(cols, hist, purpose=purpose)
        out[m] = scorer.score_many(cols)
        info[purpose] = scorer.info.mode
    return out, info


class _Offsets:
    """Local wall time on the plan day -> aware datetime, per (zone, hour)."""

    def __init__(self, day: date) -> None:
        self.day = day
        self.cache: dict[tuple[str, int], timezone] = {}

    def at(self, tz: str, hour: int, minute: int) -> datetime:
        key = (tz, hour)
        fixed = self.cache.get(key)
        if fixed is None:
            z = C.zone(tz)
            off = datetime(self.day.year, self.day.month, self.day.day, hour, 30, tzinfo=z).utcoffset()
            fixed = self.cache[key] = timezone(off)
        return datetime(self.day.year, self.day.month, self.day.day, hour, minute, tzinfo=fixed)


def _gate_events(acc: Accounts, history: History, keep: np.ndarray) -> dict[int, list[C.HistoryEvent]]:
    """History events the gate needs, by account: recent dials, and every opt-out, refusal, call-back."""
    events: dict[int, list[C.HistoryEvent]] = defaultdict(list)
    rows = history.rows
    utc = UTC
    for i in np.flatnonzero(keep).tolist():
        k = int(history.acc[i])
        r = rows[i]
        events[k].extend(events_for_outcome(datetime.fromtimestamp(float(history.at[i]), utc), r.get("outcome"),
                                            r.get("phone") or acc.phone[k], acc.ids[k], r.get("campaign_id"),
                                            history.callback_at[i]))
    return events


def plan_day(acc: Accounts, history: History, catalog: Catalog, opts: PlanOptions) -> Plan:
    rules = opts.rules or C.default_rules()
    rng = np.random.default_rng(opts.seed)
    n = len(acc)
    day_ord = opts.day.toordinal()
    skipped: Counter = Counter()

    # -- script family of each account ------------------------------------------------------------
    kinds, fam = _families(acc, catalog)
    eligible = fam >= 0
    skipped["no_matching_script"] = int((~eligible).sum())
    seg, n_seg = segments(acc, kinds)

    # -- what history says about each account ---------------------------------------------------------
    H = history
    known = H.acc >= 0
    hk = np.flatnonzero(known)
    ha = H.acc
    o = H.outcome

    def any_outcome(names, extra=None) -> np.ndarray:
        sel = known & np.isin(o, [OUTCOME_CODE[x] for x in names])
        if extra is not None:
            sel &= extra
        out = np.zeros(n, bool)
        out[ha[sel]] = True
        return out

    done = np.zeros(n, bool)
    for reason, flag in (
        ("opted_out", any_outcome(["opted_out"])),
        ("paid", any_outcome(["paid_already"]) & (acc.purpose == "collections")),
        ("converted", any_outcome(["converted"]) & (acc.purpose == "telesales")),
    ):
        new = flag & eligible & ~done
        skipped[reason] += int(new.sum())
        done |= flag
    last_conn = _latest(ha, H.at, hk[o[hk] >= CONNECTED], n)
    wrong = _take(o, last_conn, -1) == OUTCOME_CODE["wrong_number"]
    skipped["wrong_number"] += int((wrong & eligible & ~done).sum())
    done |= wrong
    last_rp = _latest(ha, H.at, hk[o[hk] >= RP], n)
    disputed = ((_take(o, last_rp, -1) == OUTCOME_CODE["dispute"]) & (acc.purpose == "collections")
                & (_take(H.local_day, last_rp, 0) + opts.dispute_hold_days >= day_ord))
    skipped["dispute_open"] += int((disputed & eligible & ~done).sum())  # a human verifies the debt first
    done |= disputed
    touch = np.full(n, None, dtype=object)
    if opts.lifecycle is not None:  # payments and promise records: out of collections, or a follow-up
        from agent.lifecycle.follow_up import apply_facts

        touch = apply_facts(acc, opts.lifecycle, opts.day, catalog, fam, done, skipped)
        eligible = fam >= 0
    last_ptp = _latest(ha, H.at, hk[o[hk] == OUTCOME_CODE["ptp"]], n)
    has_ptp = last_ptp >= 0
    pday = _take(H.promise_day, last_ptp, -1)
    due = np.where(pday >= 0, pday, _take(H.local_day, last_ptp, 0) + opts.promise_grace_days)
    waiting = has_ptp & (day_ord <= due) & (acc.purpose == "collections") & np.equal(touch, None)
    skipped["promise_pending"] += int((waiting & eligible & ~done).sum())
    done |= waiting
    # call-backs the callee asked for: honour today's, wait for later ones
    cb_rows = hk[(o[hk] == OUTCOME_CODE["callback"])]
    cb_rows = np.array([i for i in cb_rows.tolist() if H.callback_at[i] is not None], np.int64)
    last_cb = _latest(ha, H.at, cb_rows, n)
    callback_today: dict[int, datetime] = {}
    for k in np.flatnonzero(last_cb >= 0).tolist():
        i = int(last_cb[k])
        if H.at[last_rp[k]] > H.at[i]:
            continue  # talked since the request
        local = H.callback_at[i].astimezone(C.zone(acc.timezone[k]))
        if local.date() == opts.day:
            callback_today[k] = H.callback_at[i]
        elif local.date() > opts.day:
            done[k] = True
            skipped["callback_later"] += 1
    eligible &= ~done

    # -- scores, contact model, bandit -----------------------------------------------------------------
    score, score_info = _scores(acc, H, eligible)
    cm = ContactModel.fit(n, seg, n_seg, ha, H.local_how, H.right_party)
    idx = np.flatnonzero(eligible)
    wd = opts.day.weekday()
    hours = np.arange(24)
    start = {j: p.start_minute for j, p in rules.packs.items()}
    end = {j: p.end_minute for j, p in rules.packs.items()}
    lo_h = min(start.values()) // 60
    hi_h = max((e + 59) // 60 for e in end.values())
    cand = hours[lo_h:hi_h]
    jur = acc.jurisdiction[idx]
    allowed = np.zeros((len(idx), len(cand)), bool)
    for j in rules.packs:
        m = jur == j
        ok = (cand * 60 >= start[j]) & ((cand + 1) * 60 <= end[j])
        allowed[m] = ok[None, :]
    how = wd * 24 + cand
    order_h = np.empty(allowed.shape, np.int8)
    for lo in range(0, len(idx), 100_000):  # in blocks: bounded memory for millions of accounts
        sl = slice(lo, lo + 100_000)
        draws = cm.sample(rng, idx[sl, None], seg[idx[sl]][:, None], how[None, :])
        order_h[sl] = np.argsort(-np.where(allowed[sl], draws, -1.0), axis=1)
    best = order_h[:, 0].astype(np.int64)
    p_rpc = cm.mean(idx, seg[idx], how[best])
    p_rpc = np.where(allowed[np.arange(len(idx)), best], p_rpc, 0.0)

    bfam, bvar, bctx, bsucc = [], [], [], []
    rp_rows = hk[o[hk] >= RP]
    for i in rp_rows.tolist():
        fv = catalog.by_id.get(H.script[i])
        if fv is not None:
            bfam.append(fv[0])
            bvar.append(fv[1])
            bctx.append(seg[ha[i]])
            bsucc.append(o[i] in SUCCESS)
    n_var = np.array([len(catalog.variants(f)) for f in range(len(catalog.family_keys))], np.int64)
    bandit = ScriptBandit.fit(n_var, n_seg, np.array(bfam, np.int64), np.array(bvar, np.int64),
                              np.array(bctx, np.int64), np.array(bsucc, bool))
    variant, v_mean = bandit.choose(rng, fam[idx], seg[idx], opts.explore)

    priority = p_rpc * np.maximum(score[idx], 1e-6)
    callback_today = {k: v for k, v in callback_today.items() if eligible[k]}
    cb_pos = np.array([np.searchsorted(idx, k) for k in callback_today], np.int64)
    if len(cb_pos):
        priority[cb_pos] = np.inf  # requested call-backs first
    priority[~np.equal(touch[idx], None)] = np.inf  # then promise follow-ups
    ranking = np.argsort(-priority, kind="stable")
    minutes = rng.integers(0, 60, len(idx))

    # -- the gate, dial by dial -----------------------------------------------------------------------
    recent = known & (H.at >= datetime(opts.day.year, opts.day.month, opts.day.day, tzinfo=UTC).timestamp() - 9 * 86400)
    sticky = known & np.isin(o, [OUTCOME_CODE[x] for x in sorted(STICKY)])
    events = _gate_events(acc, H, recent | sticky)
    if opts.lifecycle is not None:
        for k, aid in enumerate(acc.ids.tolist()):
            extra = opts.lifecycle.gate_events.get(aid)
            if extra:
                events[k].extend(extra)
    by_phone: dict[str, set[int]] = defaultdict(set)
    for k in events:
        by_phone[acc.phone[k]].add(k)
    shared_phone = _shared_phones(acc.phone)
    offsets = _Offsets(opts.day)
    dials: list[dict] = []
    blocks: list[dict] = []
    blocked: Counter = Counter()
    cap = opts.capacity
    per_hour = opts.per_hour
    hour_load: Counter = Counter()
    for r in ranking.tolist():
        if len(dials) >= cap:
            break
        k = int(idx[r])
        aid, tz, phone = acc.ids[k], acc.timezone[k], acc.phone[k]
        shared = phone in shared_phone
        hist = events.get(k, ())
        if shared:
            hist = list(hist)
            for other in by_phone.get(phone, ()):
                if other != k:
                    hist.extend(events.get(other, ()))
        slots = (offsets.at(tz, int(cand[h]), int(minutes[r])) for h in order_h[r].tolist() if allowed[r, h])
        if k in callback_today:  # the requested time if allowed, else the best hours after it
            slots = itertools.chain([callback_today[k].astimezone(C.zone(tz)).replace(second=0, microsecond=0)], slots)
        for at in slots:
            if per_hour is not None:
                hour_key = int(at.timestamp()) // 3600
                if hour_load[hour_key] >= per_hour:
                    continue  # the lines are full in that hour: the next best hour
            dial = C.ProposedDial(jurisdiction=acc.jurisdiction[k], purpose=acc.purpose[k], at=at, timezone=tz,
                                  phone=phone, debt_id=aid, consent=bool(acc.consent[k]), region=acc.region[k],
                                  campaign_id=opts.campaign_id, max_attempts=opts.max_attempts, touch=touch[k])
            v = C.check(dial, hist, rules)
            if v.allowed:
                script = catalog.variants(int(fam[k]))[int(variant[r])].id
                dials.append({"account_id": aid, "at": at.isoformat(), "script_id": script})
                if per_hour is not None:
                    hour_load[hour_key] += 1
                if shared:  # one dial per account: only another account on this number can meet it again
                    events.setdefault(k, []).append(C.HistoryEvent(at, "attempt", phone, aid, opts.campaign_id))
                    by_phone[phone].add(k)
                break
            blocked[v.rule] += 1
            blocks.append({"account_id": aid, "at": at.isoformat(), "rule": v.rule, "reason": v.reason})
            if v.rule not in TIME_RULES:
                break
            if v.rule not in HOUR_RULES and k not in callback_today:
                # a block that lifts at some instant: give up unless the day's last slot is free
                last = offsets.at(tz, int(cand[allowed[r]].max()), 59)
                if not C.check(replace(dial, at=last), hist, rules).allowed:
                    break
    stats = {"accounts": n, "eligible": int(eligible.sum()), "planned": len(dials),
             "skipped": {k: v for k, v in skipped.items() if v}, "blocked": dict(blocked), "scores": score_info}
    return Plan(dials, stats, blocks)


def _take(col: np.ndarray, rows: np.ndarray, fill) -> np.ndarray:
    """col[rows] where rows >= 0, else `fill` (safe with an empty history)."""
    if len(col) == 0:
        return np.full(len(rows), fill, dtype=col.dtype)
    return np.where(rows >= 0, col[np.maximum(rows, 0)], fill)


def _shared_phones(phones: np.ndarray) -> set[str]:
    if len(phones) == 0:
        return set()
    u, c = np.unique(phones.astype(str), return_counts=True)
    return set(u[c > 1].tolist())
