"""A deterministic sample portfolio for `dialwise demo`: accounts, each with a simulated persona.

    accounts = sample_portfolio(20, seed=7)
    accounts[0].account_fields()   # kwargs for agent.store.models.Account
    accounts[0].persona            # who picks up the phone

Half the accounts are Mandarin speakers in mainland China (Asia/Shanghai, CNY, +86 mobiles),
half English speakers in the US (US time zones, USD, +1 numbers in the fictional 555-01xx
range). Each language mixes pre-due reminders (M0), overdue collections (M1, M2) and telesales
offers (reborrow, limit_increase, reactivation).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from telephony_adapter.sim.persona import (
    COLLECTIONS_BEHAVIOURS,
    TELESALES_BEHAVIOURS,
    Behaviour,
    Persona,
)

TELESALES_OFFERS = ("reborrow", "limit_increase", "reactivation")

_ZH_SURNAMES = "王李张刘陈杨黄赵周吴徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾"
_ZH_GIVEN = ("芳", "伟", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛",
             "明", "超", "秀英", "霞", "平", "刚", "桂英", "建华", "志强", "晓燕", "海燕", "国庆", "春梅",
             "丽娟", "文博", "子涵", "浩然", "欣怡", "俊杰")
_ZH_REGIONS = (("Guangdong", "020"), ("Beijing", "010"), ("Shanghai", "021"), ("Zhejiang", "0571"),
               ("Sichuan", "028"), ("Hubei", "027"), ("Jiangsu", "025"), ("Henan", "0371"))
_CN_MOBILE_PREFIXES = ("130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152", "157",
                       "158", "159", "166", "177", "180", "181", "182", "186", "187", "188", "189", "199")

_EN_FIRST = ("Emily", "James", "Olivia", "Michael", "Sophia", "David", "Emma", "Daniel", "Ava", "Robert",
             "Mia", "William", "Grace", "Joseph", "Chloe", "Thomas", "Hannah", "Christopher", "Natalie",
             "Anthony", "Lauren", "Kevin", "Megan", "Brian", "Rachel", "Jason")
_EN_LAST = ("Johnson", "Smith", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Martinez",
            "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson",
            "White", "Harris", "Clark", "Lewis", "Walker", "Young")
# (state, time zone, area code)
_US_PLACES = (("NY", "America/New_York", "212"), ("FL", "America/New_York", "305"),
              ("GA", "America/New_York", "404"), ("IL", "America/Chicago", "312"),
              ("TX", "America/Chicago", "214"), ("CO", "America/Denver", "303"),
              ("AZ", "America/Phoenix", "602"), ("CA", "America/Los_Angeles", "415"),
              ("WA", "America/Los_Angeles", "206"))


@dataclass
class SimAccount:
    """One account of the sample portfolio and the persona who answers its phone."""

    external_id: str
    name: str
    phone: str  # E.164
    timezone: str
    jurisdiction: str  # CN | US
    region: str
    language: str  # zh | en
    purpose: str  # collections | telesales
    product: str  # cash_loan | installment_loan | reborrow | limit_increase | reactivation
    bucket: str | None  # M0 | M1 | M2 (collections only)
    balance: float
    currency: str
    due_date: date | None
    days_past_due: int
    id_last4: str
    credit_limit: float | None
    consent_marketing: bool
    persona: Persona
    custom: dict[str, Any] = field(default_factory=dict)

    def account_fields(self) -> dict[str, Any]:
        """Keyword arguments for `agent.store.models.Account` (the persona kept in `custom`)."""
        return {
            "external_id": self.external_id, "name": self.name, "phone": self.phone,
            "timezone": self.timezone, "jurisdiction": self.jurisdiction, "region": self.region,
            "language": self.language, "purpose": self.purpose, "product": self.product,
            "bucket": self.bucket, "balance": self.balance, "currency": self.currency,
            "due_date": self.due_date, "days_past_due": self.days_past_due, "id_last4": self.id_last4,
            "credit_limit": self.credit_limit, "consent_calls": True,
            "consent_marketing": self.consent_marketing, "consent_recording": True,
            "custom": {**self.custom, "persona": persona_to_dict(self.persona)},
        }


def persona_to_dict(p: Persona) -> dict[str, Any]:
    return {
        "lang": p.lang, "behaviour": p.behaviour.value, "name": p.name, "id_last4": p.id_last4,
        "purpose": p.purpose, "balance": p.balance, "currency": p.currency,
        "promise_date": p.promise_date.isoformat() if p.promise_date else None,
        "partial_amount": p.partial_amount, "interjections": {str(k): v for k, v in p.interjections.items()},
        "hangup_at_turn": p.hangup_at_turn, "id_by_dtmf": p.id_by_dtmf, "voice": p.voice, "seed": p.seed,
    }


def persona_from_dict(d: dict[str, Any]) -> Persona:
    """Inverse of persona_to_dict (e.g. from Account.custom["persona"])."""
    promise = d.get("promise_date")
    return Persona(
        lang=d["lang"], behaviour=Behaviour(d["behaviour"]), name=d["name"], id_last4=d.get("id_last4", "0000"),
        purpose=d.get("purpose", "collections"), balance=float(d.get("balance", 0.0)),
        currency=d.get("currency", "CNY"), promise_date=date.fromisoformat(promise) if promise else None,
        partial_amount=d.get("partial_amount"),
        interjections={int(k): v for k, v in (d.get("interjections") or {}).items()},
        hangup_at_turn=int(d.get("hangup_at_turn", 2)), id_by_dtmf=bool(d.get("id_by_dtmf", False)),
        voice=d.get("voice"), seed=int(d.get("seed", 0)),
    )


# the slots of one language's half, in order: (purpose, bucket or offer)
_SLOTS = (("collections", "M0"), ("collections", "M1"), ("telesales", "reborrow"),
          ("collections", "M2"), ("collections", "M1"), ("telesales", "limit_increase"),
          ("collections", "M0"), ("collections", "M2"), ("telesales", "reactivation"),
          ("collections", "M1"))


def _behaviour_orders(rng: random.Random) -> dict[str, dict[str, list[Behaviour]]]:
    """Per language and purpose, the order behaviours are handed out. The common outcomes come
    first in both languages; the rest is shuffled once and split so the two halves complement
    each other (20 accounts cover nearly every behaviour)."""
    first_c = (Behaviour.PAYS, Behaviour.PROMISES_DATE, Behaviour.PARTIAL)
    first_t = (Behaviour.INTERESTED, Behaviour.REFUSES)
    rest_c = [b for b in COLLECTIONS_BEHAVIOURS if b not in first_c]
    rest_t = [b for b in TELESALES_BEHAVIOURS if b not in first_t]
    rng.shuffle(rest_c)
    rng.shuffle(rest_t)
    half_c, half_t = len(rest_c) // 2, len(rest_t) // 2
    return {
        "zh": {"collections": [*first_c, *rest_c], "telesales": [*first_t, *rest_t]},
        "en": {"collections": [*first_c, *rest_c[half_c:], *rest_c[:half_c]],
               "telesales": [*first_t, *rest_t[half_t:], *rest_t[:half_t]]},
    }


def sample_portfolio(n: int = 20, seed: int = 0, today: date | None = None) -> list[SimAccount]:
    """n accounts (half zh, half en, interleaved), deterministic for a given seed and day."""
    if n < 1:
        raise ValueError("a portfolio needs at least one account")
    today = today or date.today()
    rng = random.Random(seed)
    per_lang = _behaviour_orders(rng)
    used_names: set[str] = set()
    accounts: list[SimAccount] = []
    counters = {("zh", "collections"): 0, ("zh", "telesales"): 0, ("en", "collections"): 0, ("en", "telesales"): 0}
    for i in range(n):
        lang = "zh" if i % 2 == 0 else "en"
        purpose, kind = _SLOTS[(i // 2) % len(_SLOTS)]
        order = per_lang[lang][purpose]
        k = counters[(lang, purpose)]
        counters[(lang, purpose)] += 1
        behaviour = order[k % len(order)]
        accounts.append(_account(i, lang, purpose, kind, behaviour, rng, today, seed, used_names))
    return accounts


def _account(i: int, lang: str, purpose: str, kind: str, behaviour: Behaviour, rng: random.Random,
             today: date, seed: int, used_names: set[str]) -> SimAccount:
    name = _name(lang, rng, used_names)
    if lang == "zh":
        region, _ = rng.choice(_ZH_REGIONS)
        tz, jurisdiction, currency = "Asia/Shanghai", "CN", "CNY"
        phone = "+86" + rng.choice(_CN_MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
    else:
        region, tz, area = rng.choice(_US_PLACES)
        jurisdiction, currency = "US", "USD"
        phone = f"+1{area}55501{rng.randrange(100):02d}"  # 555-0100..0199: reserved for fiction
    if purpose == "collections":
        product = rng.choice(("cash_loan", "installment_loan"))
        bucket = kind
        if lang == "zh":
            balance = float(rng.randrange(8, 200) * 100)
        else:
            balance = float(rng.randrange(15, 300) * 10)
        dpd = {"M0": 0, "M1": rng.randrange(3, 31), "M2": rng.randrange(31, 61)}[kind]
        due = today + timedelta(days=rng.randrange(1, 6)) if kind == "M0" else today - timedelta(days=dpd)
        credit_limit = None
        consent_marketing = False
    else:
        product, bucket, dpd, due = kind, None, 0, None
        balance = 0.0 if kind != "limit_increase" else float(rng.randrange(5, 50) * (100 if lang == "zh" else 10))
        credit_limit = float(rng.randrange(5, 51) * (1000 if lang == "zh" else 100))
        consent_marketing = True
    persona = _persona(lang, purpose, behaviour, name, balance, currency, due, rng, today, seed * 1000 + i)
    return SimAccount(
        external_id=f"SIM-{seed}-{i:03d}", name=name, phone=phone, timezone=tz, jurisdiction=jurisdiction,
        region=region, language=lang, purpose=purpose, product=product, bucket=bucket, balance=balance,
        currency=currency, due_date=due, days_past_due=dpd, id_last4=persona.id_last4,
        credit_limit=credit_limit, consent_marketing=consent_marketing, persona=persona,
    )


def _persona(lang: str, purpose: str, behaviour: Behaviour, name: str, balance: float, currency: str,
             due: date | None, rng: random.Random, today: date, seed: int) -> Persona:
    if behaviour is Behaviour.PAYS:
        promise = today + timedelta(days=rng.randrange(0, 3))
    else:
        promise = today + timedelta(days=rng.randrange(3, 11))
    if due is not None and due > today and behaviour is Behaviour.PAYS:
        promise = min(promise, due)
    step = 100 if lang == "zh" else 10
    partial = float(max(step, round(balance * rng.uniform(0.3, 0.5) / step) * step)) if balance else None
    interjections: dict[int, str] = {}
    roll = rng.random()
    if behaviour not in (Behaviour.SILENT, Behaviour.VOICEMAIL, Behaviour.WRONG_NUMBER):
        if roll < 0.25:
            interjections[0] = "ask_who_calling"
        elif roll < 0.45:
            interjections[1] = "ask_if_robot"
        elif roll < 0.55 and purpose == "collections":
            interjections[1] = "ask_amount_due"
    return Persona(
        lang=lang, behaviour=behaviour, name=name, id_last4=f"{rng.randrange(10000):04d}", purpose=purpose,
        balance=balance, currency=currency, promise_date=promise, partial_amount=partial,
        interjections=interjections, hangup_at_turn=rng.randrange(1, 3), id_by_dtmf=rng.random() < 0.15,
        seed=seed,
    )


def _name(lang: str, rng: random.Random, used: set[str]) -> str:
    for _ in range(100):
        if lang == "zh":
            name = rng.choice(_ZH_SURNAMES) + rng.choice(_ZH_GIVEN)
        else:
            name = f"{rng.choice(_EN_FIRST)} {rng.choice(_EN_LAST)}"
        if name not in used:
            used.add(name)
            return name
    return name
