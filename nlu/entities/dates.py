"""Dates relative to a reference day: 明天, 下周一, 下个月15号, 12月1号, the 25th, end of the month, ...

Conventions (documented in nlu/README.md):
- bare weekday ("周五", "on Friday", "this coming Monday"): the next such day strictly after today;
- "这周五" / "this Friday": this week's Friday, or next week's if it has passed;
- "下周一" / "next Monday": the Monday of next week (weeks start on Monday);
- a day of the month ("25号", "the 25th"): this month if not passed, else next month (year rollover);
- a month and day ("12月1号", "December 1st"): this year if not passed, else next year.
"""
from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable

from nlu.entities.numbers import EN_ORDINALS, ZH_NUM_RE, parse_en_words, parse_zh_number

ZH_N = r"(?:[0-9]{1,2}|[零一二两三四五六七八九十]{1,3})"
ZH_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5,
              "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}
EN_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
EN_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
EN_MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
EN_MONTHS["sept"] = 9
EN_MONTHS.pop("may", None)
EN_MONTHS["may"] = 5
ZH_RELATIVE = {"大前天": -3, "前天": -2, "昨天": -1, "昨晚": -1, "昨儿": -1, "今天": 0, "今儿": 0, "今晚": 0,
               "今早": 0, "今日": 0, "明天": 1, "明儿": 1, "明早": 1, "明晚": 1, "明日": 1, "后天": 2, "大后天": 3}


def _zh_int(s: str) -> int | None:
    v = parse_zh_number(s)
    return int(v) if v is not None and float(v).is_integer() else None


def _month_end(y: int, m: int) -> dt.date:
    return dt.date(y, m, calendar.monthrange(y, m)[1])


def _add_months(d: dt.date, n: int) -> tuple[int, int]:
    k = d.year * 12 + d.month - 1 + n
    return k // 12, k % 12 + 1


def _safe_day(y: int, m: int, day: int) -> dt.date | None:
    if not 1 <= day <= 31 or not 1 <= m <= 12:
        return None
    return dt.date(y, m, min(day, calendar.monthrange(y, m)[1]))


def day_of_month(today: dt.date, day: int) -> dt.date | None:
    """The next date with this day of the month (today counts); rolls into next month / year."""
    if not 1 <= day <= 31:
        return None
    for n in range(0, 13):
        y, m = _add_months(today, n)
        if day <= calendar.monthrange(y, m)[1]:
            d = dt.date(y, m, day)
            if d >= today:
                return d
    return None


def month_day(today: dt.date, month: int, day: int) -> dt.date | None:
    if not 1 <= month <= 12:
        return None
    d = _safe_day(today.year, month, day)
    if d is None:
        return None
    return d if d >= today else _safe_day(today.year + 1, month, day)


def weekday(today: dt.date, wd: int, mode: str) -> dt.date:
    """mode: 'next_after' (strictly after today), 'this' (this week, else next), 'next_week'."""
    monday = today - dt.timedelta(days=today.weekday())
    if mode == "next_week":
        return monday + dt.timedelta(days=7 + wd)
    if mode == "week_after_next":
        return monday + dt.timedelta(days=14 + wd)
    if mode == "this":
        d = monday + dt.timedelta(days=wd)
        return d if d >= today else d + dt.timedelta(days=7)
    ahead = (wd - today.weekday()) % 7 or 7
    return today + dt.timedelta(days=ahead)


Rule = tuple[re.Pattern[str], Callable[[re.Match[str], dt.date], dt.date | None]]


def _zh_rules() -> list[Rule]:
    def md(m, t):
        mo, d = _zh_int(m.group(1)), _zh_int(m.group(2))
        return month_day(t, mo, d) if mo and d else None

    def next_month_day(m, t):
        d = _zh_int(m.group(2))
        y, mo = _add_months(t, 2 if m.group(1) == "下下" else 1)
        return _safe_day(y, mo, d) if d else None

    def this_month_day(m, t):
        d = _zh_int(m.group(1))
        return _safe_day(t.year, t.month, d) if d else None

    def month_end(m, t):
        y, mo = _add_months(t, 1 if m.group(1) else 0)
        return _month_end(y, mo)

    def month_start(m, t):
        y, mo = _add_months(t, 1)
        return dt.date(y, mo, 1)

    def rel(m, t):
        return t + dt.timedelta(days=ZH_RELATIVE[m.group(0)])

    def wk(m, t):
        prefix, wd = m.group(1) or "", ZH_WEEKDAY[m.group(3)]
        if prefix in ("下下",):
            return weekday(t, wd, "week_after_next")
        if prefix.startswith("下"):
            return weekday(t, wd, "next_week")
        if prefix in ("这", "本", "这个"):
            return weekday(t, wd, "this")
        return weekday(t, wd, "next_after")

    def in_days(m, t):
        n = _zh_int(m.group(1))
        unit = m.group(2)
        if n is None:
            return None
        days = n * 7 if unit in ("周", "个星期", "星期", "个礼拜", "礼拜") else n
        return t + dt.timedelta(days=days)

    def dom(m, t):
        d = _zh_int(m.group(1))
        return day_of_month(t, d) if d else None

    return [
        (re.compile(rf"({ZH_N})月({ZH_N})[号日]?"), md),
        (re.compile(rf"(下下|下)个?月({ZH_N})[号日]"), next_month_day),
        (re.compile(rf"(?:这个月|本月|这月)({ZH_N})[号日]"), this_month_day),
        (re.compile(r"(下个?)?月(?:底|末)"), month_end),
        (re.compile(r"下个?月初"), month_start),
        (re.compile(r"大后天|大前天|后天|前天|昨天|昨晚|昨儿|今天|今儿|今晚|今早|今日|明天|明儿|明早|明晚|明日"), rel),
        (re.compile(r"(下下|下个|下|这个|这|本)?(周|星期|礼拜)([一二三四五六日天末1-7])"), wk),
        (re.compile(rf"({ZH_N}|一|两)(天|周|个星期|星期|个礼拜|礼拜)(?:以?后|之后|过后)"), in_days),
        (re.compile(rf"过({ZH_N}|一|两)(天|周|个星期|个礼拜)"), in_days),
        (re.compile(rf"({ZH_N})[号日](?!元|子)"), dom),
    ]


def _en_day(token: str) -> int | None:
    m = re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)?", token)
    if m:
        return int(m.group(1))
    return EN_ORDINALS.get(token)


def _en_rules() -> list[Rule]:
    months = "|".join(sorted(EN_MONTHS, key=len, reverse=True))
    ordw = "|".join(sorted(EN_ORDINALS, key=len, reverse=True))
    day = rf"(\d{{1,2}}(?:st|nd|rd|th)?|(?:twenty |thirty )?(?:{ordw})|twenty|thirty)"

    def day_value(s: str) -> int | None:
        s = s.strip()
        v = _en_day(s)
        if v is None:
            val, used = parse_en_words(s.split())
            v = int(val) if val is not None and used == len(s.split()) else None
        return v

    def month_then_day(m, t):
        d = day_value(m.group(2))
        return month_day(t, EN_MONTHS[m.group(1)], d) if d else None

    def day_of_month_name(m, t):
        d = day_value(m.group(1))
        return month_day(t, EN_MONTHS[m.group(2)], d) if d else None

    def next_month_day(m, t):
        d = day_value(m.group(1) or m.group(2))
        y, mo = _add_months(t, 1)
        return _safe_day(y, mo, d) if d else None

    def month_end(m, t):
        y, mo = _add_months(t, 1 if m.group(1) == "next" else 0)
        return _month_end(y, mo)

    def month_start(m, t):
        y, mo = _add_months(t, 1)
        return dt.date(y, mo, 1)

    def rel(m, t):
        w = m.group(0)
        if "day after tomorrow" in w:
            return t + dt.timedelta(days=2)
        if "day before yesterday" in w:
            return t - dt.timedelta(days=2)
        if w.startswith("tomorrow"):
            return t + dt.timedelta(days=1)
        if w.startswith("yesterday") or w == "last night":
            return t - dt.timedelta(days=1)
        return t

    def in_n(m, t):
        raw = m.group(1)
        n = 1 if raw in ("a", "one", "an") else (int(raw) if raw.isdigit() else None)
        if n is None:
            val, _ = parse_en_words(raw.split())
            n = int(val) if val else None
        if n is None:
            return None
        return t + dt.timedelta(days=n * (7 if m.group(2).startswith("week") else 1))

    def wk(m, t):
        prefix = (m.group(1) or "").strip()
        wd = EN_WEEKDAYS.index(m.group(2))
        if prefix in ("next",):
            return weekday(t, wd, "next_week")
        if prefix in ("this",):
            return weekday(t, wd, "this")
        if prefix == "last":
            monday = t - dt.timedelta(days=t.weekday())
            return monday - dt.timedelta(days=7 - wd)
        return weekday(t, wd, "next_after")

    def numeric(m, t):
        return month_day(t, int(m.group(1)), int(m.group(2)))

    def dom(m, t):
        d = day_value(m.group(1))
        return day_of_month(t, d) if d else None

    wds = "|".join(EN_WEEKDAYS)
    return [
        (re.compile(rf"\b({months})\.? (?:the )?{day}\b"), month_then_day),
        (re.compile(rf"\bthe {day} of ({months})\b"), day_of_month_name),
        (re.compile(rf"\b{day} of ({months})\b"), day_of_month_name),
        (re.compile(rf"\bthe {day} of next month\b|\bnext month on the {day}\b"), next_month_day),
        (re.compile(r"\bend of (?:the |this )?(next)? ?month\b|\b(?:the )?month end\b"), month_end),
        (re.compile(r"\b(?:beginning|start) of next month\b|\bfirst of next month\b"), month_start),
        (re.compile(r"\bthe day after tomorrow\b|\bday after tomorrow\b|\bthe day before yesterday\b|"
                    r"\btomorrow\b|\byesterday\b|\btoday\b|\btonight\b|\blast night\b|"
                    r"\bthis (?:morning|afternoon|evening)\b"),
         rel),
        (re.compile(r"\bin (a|an|one|two|three|four|five|six|seven|eight|nine|ten|\d{1,2}) (days?|weeks?)\b"), in_n),
        (re.compile(r"\b(a|one|two|three|four|five|six|seven|\d{1,2}) (days?|weeks?) from (?:today|now)\b"), in_n),
        (re.compile(r"\b(a) (week) today\b"), in_n),
        (re.compile(rf"\b(this coming |coming |this |next |last |on |by )?({wds})\b"), wk),
        (re.compile(r"\b(1[0-2]|0?[1-9])/([12][0-9]|3[01]|0?[1-9])\b"), numeric),
        (re.compile(rf"\bthe {day}\b(?! (?:of )?(?:{months}))"), dom),
    ]


_RULES: dict[str, list[Rule]] = {}


def extract_date(text: str, lang: str, today: dt.date | None = None) -> str | None:
    """The first date mentioned (earliest in the text; longest match wins a tie), as YYYY-MM-DD."""
    today = today or dt.date.today()
    t = text.lower()
    if "zh" not in _RULES:
        _RULES["zh"], _RULES["en"] = _zh_rules(), _en_rules()
    best: tuple[int, int, dt.date] | None = None
    for rules in (_RULES["zh"], _RULES["en"]):
        for pattern, handler in rules:
            for m in pattern.finditer(t):
                try:
                    d = handler(m, today)
                except (ValueError, KeyError, OverflowError):
                    d = None
                if d is None:
                    continue
                key = (m.start(), -(m.end() - m.start()))
                if best is None or key < best[:2]:
                    best = (key[0], key[1], d)
                break
    return best[2].isoformat() if best else None


__all__ = ["extract_date", "day_of_month", "month_day", "weekday", "ZH_NUM_RE"]
