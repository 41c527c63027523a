"""Mandarin text -> words a Mandarin voice can read: digits, dates, times, amounts, ranges and Latin letters.

A neural Mandarin voice reads characters only: it drops Latin letters and reads "400-800" as
四百-八百. Everything that is not a Chinese character or punctuation becomes Chinese words here:

    2026-11-16 / 2026年11月16日  -> 二零二六年十一月十六日
    ¥2,300 / 2300元 / $50       -> 两千三百元 / 五十美元
    400-800-1234 (a number line)  -> 四零零八零零幺二三四
    3-5天                          -> 三到五天
    10:30                          -> 十点三十分
    VIP / App                      -> 维爱皮 / 诶屁屁 (letter by letter)
"""
from __future__ import annotations

import re

from speech.tts.text import zh_numbers_to_words

_DIGIT = "零一二三四五六七八九"
# Mandarin readings of the Latin letters, as callers say them
_LETTER = {
    "a": "诶", "b": "比", "c": "西", "d": "迪", "e": "伊", "f": "艾弗", "g": "吉", "h": "艾尺", "i": "艾",
    "j": "杰", "k": "开", "l": "艾勒", "m": "艾姆", "n": "恩", "o": "欧", "p": "屁", "q": "丘", "r": "阿",
    "s": "艾斯", "t": "提", "u": "优", "v": "维", "w": "达不溜", "x": "艾克斯", "y": "歪", "z": "贼",
}
_CURRENCY_PREFIX = {"¥": "元", "￥": "元", "$": "美元", "US$": "美元", "HK$": "港币", "€": "欧元", "£": "英镑"}
_WORD_UNITS = {"rmb": "元", "cny": "元", "usd": "美元", "hkd": "港币", "km": "公里", "kg": "公斤"}

_DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})(日|号)?")
_MONTH_DAY = re.compile(r"(?<![\d.])(\d{1,2})/(\d{1,2})(?![\d/])(日|号)?")
_TIME = re.compile(r"(?<!\d)([01]?\d|2[0-3])[:：]([0-5]\d)(?!\d)")
_PHONE = re.compile(r"(?<!\d)\d{3,4}(?:[- ]\d{3,4}){1,3}(?!\d)")
_RANGE = re.compile(r"(?<![\d-])(\d+(?:\.\d+)?)\s*[-~～—]\s*(\d+(?:\.\d+)?)(?![\d-])")
_PREFIX_MONEY = re.compile(r"(US\$|HK\$|[¥￥$€£])\s*(\d[\d,]*(?:\.\d+)?)")
_YEAR = re.compile(r"(?<!\d)(\d{4})年")
_LATIN = re.compile(r"[A-Za-z]+")


def digits(number: str, phone: bool = False) -> str:
    """Digit by digit; on a phone line 1 is read 幺."""
    out = "".join(_DIGIT[int(d)] for d in number if d.isdigit())
    return out.replace("一", "幺") if phone else out


def _date(m: re.Match[str]) -> str:
    year, month, day = m.group(1), int(m.group(2)), int(m.group(3))
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return m.group(0)
    return f"{digits(year)}年{zh_numbers_to_words(str(month))}月{zh_numbers_to_words(str(day))}{m.group(4) or '日'}"


def _month_day(m: re.Match[str]) -> str:
    month, day = int(m.group(1)), int(m.group(2))
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return m.group(0)
    return f"{zh_numbers_to_words(str(month))}月{zh_numbers_to_words(str(day))}{m.group(3) or '日'}"


def _time(m: re.Match[str]) -> str:
    hour, minute = int(m.group(1)), int(m.group(2))
    h = "两" if hour == 2 else zh_numbers_to_words(str(hour))
    if minute == 0:
        return f"{h}点"
    if minute == 30:
        return f"{h}点半"
    return f"{h}点{'零' if minute < 10 else ''}{zh_numbers_to_words(str(minute))}分"


def _money(m: re.Match[str]) -> str:
    return zh_numbers_to_words(m.group(2)) + _CURRENCY_PREFIX[m.group(1)]


def _latin(m: re.Match[str]) -> str:
    word = m.group(0)
    unit = _WORD_UNITS.get(word.lower())
    if unit:
        return unit
    return "".join(_LETTER[c] for c in word.lower())


def normalize_zh(text: str) -> str:
    """Text a Mandarin voice reads as intended (see the module doc). Idempotent."""
    text = text.replace("％", "%")
    text = _DATE.sub(_date, text)
    text = _YEAR.sub(lambda m: digits(m.group(1)) + "年", text)
    text = _TIME.sub(_time, text)
    text = _PREFIX_MONEY.sub(_money, text)
    text = _PHONE.sub(lambda m: digits(m.group(0), phone=True), text)
    text = _RANGE.sub(lambda m: f"{zh_numbers_to_words(m.group(1))}到{zh_numbers_to_words(m.group(2))}", text)
    text = _MONTH_DAY.sub(_month_day, text)
    text = re.sub(r"(\d)\s*(?:rmb|RMB|cny|CNY)\b", r"\1元", text)
    text = zh_numbers_to_words(text)
    text = _LATIN.sub(_latin, text)
    # what is left that a character voice cannot read: symbols become words or pauses
    text = text.replace("%", "百分之").replace("+", "加").replace("@", "艾特").replace("#", "井号")
    text = re.sub(r"[-~～—_/\\|*]+", "，", text)
    return re.sub(r"\s+", "", text)
