"""Speaking numbers, amounts, dates and times naturally, in zh and en.

Everything here turns a value into words a TTS engine reads well on a phone line:
"2,000 yuan" / "两千元", "Friday the 20th" / "11月20日周五", "3:30 PM" / "下午3点半".
"""
from __future__ import annotations

from datetime import date
from typing import Any

from nlu.entities.numbers import spell_zh as zh_number  # the one speller; 2000 -> 两千

_ZH_DIGITS = "零一二三四五六七八九"


_CURRENCY_WORDS: dict[str, dict[str, Any]] = {
    "CNY": {"en": ("yuan", "yuan"), "zh": "元"},
    "RMB": {"en": ("yuan", "yuan"), "zh": "元"},
    "USD": {"en": ("dollar", "dollars"), "zh": "美元"},
    "HKD": {"en": ("Hong Kong dollar", "Hong Kong dollars"), "zh": "港元"},
    "EUR": {"en": ("euro", "euros"), "zh": "欧元"},
    "GBP": {"en": ("pound", "pounds"), "zh": "英镑"},
}
_MINOR_EN = {"USD": ("cent", "cents"), "EUR": ("cent", "cents"), "GBP": ("penny", "pence"), "HKD": ("cent", "cents")}

_EN_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December")
_ZH_WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def en_number(n: int) -> str:
    """Digits grouped with commas; English TTS reads "2,000" as "two thousand"."""
    return f"{n:,}"


def speak_int(n: int, lang: str) -> str:
    return zh_number(int(n)) if lang == "zh" else en_number(int(n))


def speak_amount(value: float, currency: str, lang: str) -> str:
    """2000 CNY -> "2,000 yuan" / "两千元"; 12.5 USD -> "12 dollars and 50 cents" / "十二美元五角"."""
    cents_total = int(round(float(value) * 100))
    major, minor = divmod(abs(cents_total), 100)
    code = (currency or "").upper()
    words = _CURRENCY_WORDS.get(code)
    if lang == "zh":
        unit = words["zh"] if words else code
        text = zh_number(major) + unit
        jiao, fen = divmod(minor, 10)
        if jiao:
            text += _ZH_DIGITS[jiao] + "角"
        if fen:
            text += ("零" if not jiao else "") + _ZH_DIGITS[fen] + "分"
        return ("负" if cents_total < 0 else "") + text
    singular, plural = words["en"] if words else (code, code)
    text = f"{en_number(major)} {singular if major == 1 else plural}"
    if minor:
        if code in _MINOR_EN:
            one, many = _MINOR_EN[code]
            text += f" and {minor} {one if minor == 1 else many}"
        else:  # yuan: say the decimals
            text = f"{major:,}.{minor:02d} {plural}"
    return ("minus " if cents_total < 0 else "") + text


def _ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def speak_date(value: date | str, lang: str, today: date | None = None) -> str:
    """en: "Friday the 20th" in the current month, "Friday, December 4th" otherwise; zh: "11月20日周五"."""
    d = as_date(value)
    today = today or d
    if lang == "zh":
        prefix = f"{d.year}年" if d.year != today.year else ""
        return f"{prefix}{d.month}月{d.day}日{_ZH_WEEKDAYS[d.weekday()]}"
    weekday = _EN_WEEKDAYS[d.weekday()]
    if (d.year, d.month) == (today.year, today.month):
        return f"{weekday} the {_ordinal(d.day)}"
    text = f"{weekday}, {_EN_MONTHS[d.month - 1]} {_ordinal(d.day)}"
    if d.year != today.year:
        text += f", {d.year}"
    return text


def speak_time(value: str, lang: str) -> str:
    """ "15:30" -> "3:30 PM" / "下午3点半"; "09:00" -> "9 AM" / "上午9点"."""
    hh, mm = (int(x) for x in str(value).split(":")[:2])
    if lang == "zh":
        if hh < 6:
            part = "凌晨"
        elif hh < 12:
            part = "上午"
        elif hh < 13:
            part = "中午"
        elif hh < 18:
            part = "下午"
        else:
            part = "晚上"
        h12 = hh if hh <= 12 else hh - 12
        minutes = "" if mm == 0 else ("半" if mm == 30 else f"{mm}分")
        return f"{part}{h12}点{minutes}"
    suffix = "AM" if hh < 12 else "PM"
    h12 = hh % 12 or 12
    return f"{h12} {suffix}" if mm == 0 else f"{h12}:{mm:02d} {suffix}"


def speak_value(value: object, kind: str, lang: str, currency: str = "CNY", today: date | None = None) -> str:
    """Render one template value by its slot type."""
    if value is None:
        return ""
    if kind == "amount":
        return speak_amount(float(value), currency, lang)  # type: ignore[arg-type]
    if kind == "date":
        return speak_date(value, lang, today)  # type: ignore[arg-type]
    if kind == "time":
        return speak_time(str(value), lang)
    if kind == "int":
        return speak_int(int(value), lang)  # type: ignore[call-overload]
    if kind == "yes_no":
        yes = bool(value)
        return ("是" if yes else "否") if lang == "zh" else ("yes" if yes else "no")
    return str(value)
