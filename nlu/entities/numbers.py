"""Spoken and written numbers in Mandarin and English -> int/float."""
from __future__ import annotations

import re

ZH_DIGITS = {"零": 0, "〇": 0, "洞": 0, "一": 1, "幺": 1, "壹": 1, "二": 2, "两": 2, "贰": 2, "三": 3, "叁": 3,
             "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7, "八": 8, "捌": 8,
             "九": 9, "玖": 9}
ZH_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000, "万": 10_000, "亿": 100_000_000}
ZH_NUM_CHARS = "".join(ZH_DIGITS) + "".join(ZH_UNITS) + "0123456789."
# a run of Chinese numerals, possibly mixed with arabic digits ("1.5万", "2千")
ZH_NUM_RE = re.compile(r"[0-9][0-9,]*(?:\.[0-9]+)?[十百千万亿]*"
                       r"|[零〇一二两三四五六七八九十百千万亿壹贰叁肆伍陆柒捌玖拾佰仟幺洞]+")


def parse_zh_number(s: str) -> float | None:
    """'两千五' -> 2500, '三百五' -> 350, '一万二' -> 12000, '1.5万' -> 15000, '二十五' -> 25."""
    s = s.replace(",", "")
    if not s:
        return None
    m = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)([十百千万亿]*)", s)
    if m:
        value = float(m.group(1))
        for u in m.group(2):
            value *= ZH_UNITS[u]
        return value
    total = 0.0      # completed 亿/万 sections
    section = 0.0    # below 万
    number: float | None = None
    last_unit = 0
    after_zero = False
    for ch in s:
        if ch in ZH_DIGITS:
            if number is not None and last_unit == 0:  # digit after digit: not a numeral with units
                return None
            number = ZH_DIGITS[ch]
            if ch in "零〇洞":
                after_zero = True
                number = None
                continue
        elif ch in ZH_UNITS:
            unit = ZH_UNITS[ch]
            if unit >= 10_000:
                section = (section + (number or 0)) * unit if (section or number) else unit
                total += section
                section, number = 0.0, None
            else:
                section += (1 if number is None else number) * unit
                number = None
            last_unit = unit
            after_zero = False
        else:
            return None
    if number is not None:
        if last_unit >= 100 and not after_zero:  # colloquial: 两千五 = 2500, 一万二 = 12000
            number *= last_unit / 10
        section += number
    return total + section


def zh_digit_string(s: str) -> str | None:
    """'一二三四' / '幺二三洞' -> '1234' when every character is a single digit."""
    if s and all(c in ZH_DIGITS or c.isdigit() for c in s):
        return "".join(str(ZH_DIGITS[c]) if c in ZH_DIGITS else c for c in s)
    return None


EN_ONES = {"zero": 0, "oh": 0, "o": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
           "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
           "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "a": 1}
EN_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
           "eighty": 80, "ninety": 90}
EN_SCALES = {"hundred": 100, "thousand": 1000, "grand": 1000, "k": 1000, "million": 1_000_000}
EN_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
               "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
               "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
               "nineteenth": 19, "twentieth": 20, "thirtieth": 30}
EN_NUMBER_WORDS = set(EN_ONES) | set(EN_TENS) | set(EN_SCALES) | {"and"}


def parse_en_words(words: list[str]) -> tuple[float | None, int]:
    """Parse number words from the start of `words`. Returns (value, words consumed).

    'fifteen hundred' -> 1500, 'five hundred and fifty' -> 550, 'two thousand five hundred' -> 2500,
    'twenty fifth' -> 25 (ordinal ending), 'one point five k' -> 1500.
    """
    total = 0.0
    current = 0.0
    used = 0
    seen = False
    i = 0
    while i < len(words):
        w = words[i]
        if w in ("o", "a", "oh") and not seen:
            if w == "a" and i + 1 < len(words) and words[i + 1] in ("hundred", "thousand", "grand"):
                current = 1
                seen = True
                i += 1
                used = i
                continue
            break
        if w in EN_ONES and w not in ("a", "o", "oh"):
            if seen and current % 10 != 0 and current < 100 and current >= 1:
                if current < 20 and EN_ONES[w] < 10 and current >= 10:  # 'fifteen hundred' handled by scale
                    break
                break
            current += EN_ONES[w]
            seen = True
        elif w in EN_TENS:
            if seen and current % 100 != 0 and current > 0:
                # 'fifteen fifty' -> 1550 (spoken price), only if current is 10..99
                if 10 <= current < 100:
                    current = current * 100 + EN_TENS[w]
                    seen = True
                    i += 1
                    used = i
                    continue
                break
            current += EN_TENS[w]
            seen = True
        elif w in EN_ORDINALS:
            current += EN_ORDINALS[w]
            seen = True
            i += 1
            used = i
            break
        elif w in EN_SCALES and seen:
            scale = EN_SCALES[w]
            if scale == 100:
                current = (current or 1) * 100
            else:
                total += (current or 1) * scale
                current = 0
        elif w == "and" and seen and i + 1 < len(words) and (words[i + 1] in EN_ONES or words[i + 1] in EN_TENS):
            pass
        elif w == "point" and seen and i + 1 < len(words) and words[i + 1] in EN_ONES:
            frac_words = []
            j = i + 1
            while j < len(words) and words[j] in EN_ONES and words[j] not in ("a",):
                frac_words.append(str(EN_ONES[words[j]]))
                j += 1
            current += float("0." + "".join(frac_words))
            i = j
            used = i
            continue
        else:
            break
        i += 1
        used = i
    if not seen:
        return None, 0
    return total + current, used


# --------------------------------------------------------------------------------------------
# the other way: an integer spelled in Chinese numerals (the one speller: render, TTS, simulated customer)
# --------------------------------------------------------------------------------------------
_SPELL_DIGITS = "零一二三四五六七八九"
_SPELL_SMALL_UNITS = ("", "十", "百", "千")
_SPELL_BIG_UNITS = ("", "万", "亿", "万亿")


def _zh_group(n: int, liang: bool) -> str:
    """0 < n < 10000 in Chinese numerals, zeros collapsed ("一千零五")."""
    out: list[str] = []
    digits = f"{n:04d}"
    pending_zero = False
    started = False
    for i, ch in enumerate(digits):
        d = int(ch)
        unit = _SPELL_SMALL_UNITS[3 - i]
        if d == 0:
            if started:
                pending_zero = True
            continue
        if pending_zero:
            out.append("零")
            pending_zero = False
        if liang and d == 2 and unit in ("百", "千"):
            out.append("两")
        else:
            out.append(_SPELL_DIGITS[d])
        out.append(unit)
        started = True
    return "".join(out)


def spell_zh(n: int, *, liang: bool = True) -> str:
    """An integer in Chinese numerals: 2000 -> 两千, 12500 -> 一万两千五百, 305 -> 三百零五, 2 -> 两.

    `liang`: the colloquial 两 of a quantity (two before 百, 千, 万, 亿, and a bare 2). Dates, ordinals
    and decimals read 二 (二月二号, 第二, 二点五): pass liang=False."""
    if n < 0:
        return "负" + spell_zh(-n, liang=liang)
    if n == 0:
        return "零"
    if n == 2:
        return "两" if liang else "二"
    groups: list[int] = []
    while n:
        groups.append(n % 10000)
        n //= 10000
    parts: list[str] = []
    need_zero = False
    for idx in range(len(groups) - 1, -1, -1):
        g = groups[idx]
        if g == 0:
            need_zero = bool(parts)
            continue
        if parts and (need_zero or g < 1000):
            parts.append("零")
        text = _zh_group(g, liang)
        if liang and g == 2 and idx > 0:
            text = "两"
        parts.append(text + _SPELL_BIG_UNITS[idx])
        need_zero = False
    text = "".join(parts)
    if text.startswith("一十"):
        text = text[1:]
    return text
