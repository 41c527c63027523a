"""Time of day for call-backs: 下午三点以后 -> 15:00, after five -> 17:00, tomorrow morning -> 09:00.

A bare hour from 1 to 6 without am/pm or a part of day is read as afternoon (people ask to be
called back after five, not at five in the morning); 7-11 stay as they are.
"""
from __future__ import annotations

import re

from nlu.entities.numbers import parse_en_words, parse_zh_number

ZH_PART = {"凌晨": (0, 3), "早上": (0, 8), "早晨": (0, 8), "一早": (0, 8), "上午": (0, 9), "中午": (12, 12),
           "下午": (12, 14), "傍晚": (12, 18), "晚上": (12, 19), "今晚": (12, 19), "明晚": (12, 19),
           "明早": (0, 9), "夜里": (12, 21)}
EN_PART = {"morning": (0, 9), "noon": (12, 12), "lunch": (12, 12), "lunchtime": (12, 12),
           "afternoon": (12, 14), "evening": (12, 19), "tonight": (12, 19), "night": (12, 20)}
ZH_H = r"([0-9]{1,2}|[一二两三四五六七八九十]{1,3})"
ZH_TIME = re.compile(rf"(凌晨|早上|早晨|上午|中午|下午|傍晚|晚上|今晚|明晚|明早|夜里)?{ZH_H}[点点钟:：]"
                     rf"(半|一刻|三刻|([0-9]{{1,2}}|[零一二三四五六七八九十]{{1,3}})分?)?")
ZH_PART_ONLY = re.compile(r"凌晨|早上|早晨|上午|中午|下午|傍晚|晚上|今晚|明晚|明早|夜里")
EN_HOUR_WORDS = "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
EN_TIME = re.compile(
    rf"\b(at|after|before|around|by|until|till|from|about|past)?\s?(\d{{1,2}}|{EN_HOUR_WORDS})"
    rf"(?::(\d{{2}})| (thirty|fifteen|forty five|o'?clock))?\s?(a\.?m\.?|p\.?m\.?|in the morning|in the afternoon|"
    rf"in the evening|at night|tonight|o'?clock)?\b")
EN_PART_ONLY = re.compile(r"\b(morning|noon|lunchtime|lunch|afternoon|evening|tonight|night)\b")


def _fmt(h: int, m: int) -> str | None:
    if 0 <= h <= 23 and 0 <= m <= 59:
        return f"{h:02d}:{m:02d}"
    return None


def _apply(h: int, part_offset: int | None, explicit_am: bool = False) -> int:
    if part_offset == 12 and h < 12:
        return h + 12
    if part_offset is None and not explicit_am and 1 <= h <= 6:
        return h + 12
    return h


def extract_time(text: str, lang: str) -> str | None:
    t = text.lower()
    if re.search(r"[\u4e00-\u9fff]", t):
        return _zh_time(t) or _en_time(t)
    return _en_time(t)


def _zh_time(t: str) -> str | None:
    for m in ZH_TIME.finditer(t):
        part, hs, mins = m.group(1), m.group(2), m.group(3)
        h = parse_zh_number(hs)
        if h is None or not float(h).is_integer():
            continue
        h = int(h)
        after = t[m.end():m.end() + 3]
        if (h == 1 and not part and not mins
                and not re.match(r"(钟|半|以后|之后|后|前|左右|多|过)", after + (mins or ""))):
            continue  # "一点" usually means "a little"
        minute = 0
        if mins == "半":
            minute = 30
        elif mins == "一刻":
            minute = 15
        elif mins == "三刻":
            minute = 45
        elif mins:
            v = parse_zh_number(m.group(4) or "")
            minute = int(v) if v is not None else 0
        if not part:
            before = t[:m.start()]
            pm = ZH_PART_ONLY.findall(before[-6:])
            part = pm[-1] if pm else None
        offset = ZH_PART[part][0] if part else None
        out = _fmt(_apply(h, offset, explicit_am=part in ("凌晨", "早上", "早晨", "上午", "明早")), minute)
        if out:
            return out
    part_only = ZH_PART_ONLY.search(t)
    if part_only:
        return _fmt(ZH_PART[part_only.group(0)][1], 0)
    return None


def _en_time(t: str) -> str | None:
    for m in EN_TIME.finditer(t):
        prep, hs, mm, mword, suffix = m.groups()
        if not prep and not suffix and not mm and not mword:
            continue  # a bare number is not a time
        if hs.isdigit():
            h = int(hs)
        else:
            v, _ = parse_en_words([hs])
            if v is None:
                continue
            h = int(v)
        if h > 23 or (prep and not suffix and not mm and not mword and re.match(
                r"\s?(days?|weeks?|months?|dollars|bucks|%|percent|st|nd|rd|th)\b", t[m.end():])):
            continue
        if prep in ("by", "from", "about") and not (suffix or mm or mword):
            continue
        minute = int(mm) if mm else {"thirty": 30, "fifteen": 15, "forty five": 45}.get(mword or "", 0)
        sfx = (suffix or "").replace(".", "")
        offset: int | None
        if sfx.startswith("p") or sfx in ("in the afternoon", "in the evening", "at night", "tonight"):
            offset, am = 12, False
        elif sfx.startswith("a") or sfx == "in the morning":
            offset, am = 0, True
        else:
            pm = EN_PART_ONLY.search(t)
            offset = EN_PART[pm.group(1)][0] if pm else None
            am = offset == 0
        hh = h
        if sfx.startswith("a") and h == 12:
            hh = 0
        else:
            hh = _apply(h, offset, explicit_am=am)
        out = _fmt(hh, minute)
        if out:
            return out
    part_only = EN_PART_ONLY.search(t)
    if part_only:
        return _fmt(EN_PART[part_only.group(1)][1], 0)
    return None
