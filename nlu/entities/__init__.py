"""Entity extraction: amount, date, time of day and last-4 digits, in zh and en."""
from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

from nlu.entities.amount import extract_amount
from nlu.entities.dates import extract_date
from nlu.entities.last4 import extract_last4
from nlu.entities.timeofday import extract_time

ENTITY_KEYS = ("amount", "date", "time", "last4")


def _prepare(text: str) -> str:
    t = unicodedata.normalize("NFKC", text or "")
    try:
        import zhconv

        t = zhconv.convert(t, "zh-cn")
    except ImportError:  # pragma: no cover
        pass
    t = t.replace("，", ",").replace("。", " ").replace("’", "'")
    return "".join(c if c.isprintable() else " " for c in t).lower()[:1000]


def extract(text: str, lang: str = "en", today: dt.date | None = None, context: str | None = None) -> dict[str, Any]:
    """{"amount": float|None, "date": "YYYY-MM-DD"|None, "time": "HH:MM"|None, "last4": str|None}."""
    t = _prepare(text)
    if not t.strip():
        return {k: None for k in ENTITY_KEYS}
    last4 = extract_last4(t, lang, context)
    amount = None if context == "id_last4" else extract_amount(t, lang)
    if last4 is not None and amount is not None and context != "amount" and amount == float(last4):
        amount = None  # the digits were an ID tail, not money
    return {"amount": amount, "date": extract_date(t, lang, today), "time": extract_time(t, lang), "last4": last4}


__all__ = ["extract", "extract_amount", "extract_date", "extract_time", "extract_last4", "ENTITY_KEYS"]
