"""Money amounts: 2000, 1,250, $49.99, 1.5k, 1.5万, 两千五, 三百五, 一万二, fifteen hundred, five hundred and fifty."""
from __future__ import annotations

import re

from nlu.entities.numbers import EN_NUMBER_WORDS, EN_ONES, ZH_NUM_RE, parse_en_words, parse_zh_number

ZH_NOT_AMOUNT_AFTER = re.compile(r"^(:|：|号|日|月|点|年|天|周|个|期|分钟|小时|岁|次|星期|礼拜|"
                                 r"楼|位|成|折|倍|%|号线|遍|下|半)")
ZH_NOT_AMOUNT_BEFORE = re.compile(r"(:|：|周|星期|礼拜|尾号|后四位|后4位|第|分|打)$")
ZH_CURRENCY_AFTER = re.compile(r"^\s*(块钱|块|元|rmb|人民币|美元|美金|刀|万块|千块|k|w)")
ZH_UNITS_IN = re.compile(r"[十百千万亿]")

EN_NUM_RE = re.compile(r"(\$)?\s?(\d[\d,]*(?:\.\d+)?)\s?(k|grand|thousand|hundred|bucks|dollars|usd)?\b")
EN_NOT_AFTER = re.compile(r"^\s?(st|nd|rd|th|am|pm|a m|p m|o'?clock|:\d|days?|weeks?|months?|years?|minutes?|hours?|"
                          r"mins?|hrs?|percent|%|times|installments|payments|people|kids|digits?|o'clock)\b")
EN_NOT_BEFORE = re.compile(r"\b(at|after|before|around|until|till|by|past|from|on|the|of|in|"
                           r"january|february|march|april|may|june|july|august|september|october|november|december|"
                           r"jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|last|ending|digits|number|room|apt)\s?$")


def extract_amount(text: str, lang: str) -> float | None:
    t = text.lower()
    found = _zh_amount(t) if lang == "zh" else None
    if found is None:
        found = _en_amount(t)
    if found is None and lang != "zh" and re.search(r"[\u4e00-\u9fff]", t):
        found = _zh_amount(t)
    return found


def _zh_amount(t: str) -> float | None:
    for m in ZH_NUM_RE.finditer(t):
        s = m.group(0).rstrip(".")
        before, after = t[:m.start()], t[m.end():]
        if ZH_NOT_AMOUNT_AFTER.match(after) or ZH_NOT_AMOUNT_BEFORE.search(before):
            continue
        if re.fullmatch(r"[0-9]+", s) and re.match(r"^\s?(st|nd|rd|th|am|pm|:)", after):
            continue
        value = parse_zh_number(s)
        if value is None:
            continue
        cur = ZH_CURRENCY_AFTER.match(after)
        if cur and cur.group(1) in ("k", "千块"):
            value *= 1000
        elif cur and cur.group(1) in ("w", "万块"):
            value *= 10000
        has_digits = bool(re.search(r"[0-9]", s))
        if cur or ZH_UNITS_IN.search(s) and value >= 10 or (has_digits and value >= 10):
            if re.search(r"[一二三四五六七八九]", s) and value < 10 and not cur:
                continue
            return float(value)
    return None


def _en_amount(t: str) -> float | None:
    candidates: list[tuple[int, float]] = []
    for m in EN_NUM_RE.finditer(t):
        dollar, num, suffix = m.group(1), m.group(2).rstrip(".,"), m.group(3)
        before, after = t[:m.start()], t[m.end():]
        if not dollar and not suffix:
            if EN_NOT_AFTER.match(after) or EN_NOT_BEFORE.search(before):
                continue
            if before.endswith(":") or re.match(r"^\s?\d\b", after) or re.search(r"\b\d\s?$", before):
                continue
            if re.fullmatch(r"\d{1,2}", num) and re.match(r"^\s?(:|/)", after):
                continue
        try:
            value = float(num.replace(",", ""))
        except ValueError:
            continue
        if suffix in ("k", "grand", "thousand"):
            value *= 1000
        elif suffix == "hundred":
            value *= 100
        if not dollar and not suffix and value < 10:
            continue
        candidates.append((m.start(), value))
    words = re.findall(r"[a-z']+|\$|\d[\d,.]*", t)
    pos = 0
    i = 0
    while i < len(words):
        w = words[i]
        starts_a_number = w in EN_NUMBER_WORDS and w not in ("and", "a", "o", "oh", "k", "grand") or (
            w == "a" and i + 1 < len(words) and words[i + 1] in ("hundred", "thousand", "grand"))
        if starts_a_number:
            spoken, used = parse_en_words(words[i:])
            if spoken is not None and used:
                nxt = words[i + used] if i + used < len(words) else ""
                prev = words[i - 1] if i else ""
                nxt_is_digit = nxt in EN_ONES and nxt not in ("a",)
                spoken_digits = spoken < 10 and nxt_is_digit
                money_after = nxt in ("dollars", "bucks", "dollar", "usd")
                blocked = (EN_NOT_BEFORE.search(prev + " ") is not None and prev != "") or \
                    EN_NOT_AFTER.match(" " + nxt) is not None and nxt != ""
                if not spoken_digits and (money_after or (not blocked and spoken >= 10)):
                    idx = t.find(w, pos)
                    candidates.append((idx if idx >= 0 else 10_000, float(spoken)))
                i += used
                continue
        i += 1
    if not candidates:
        return None
    candidates.sort()
    return candidates[0][1]
