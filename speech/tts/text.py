"""Text preparation for speech synthesis: clause splitting, Mandarin numbers and pinyin."""
from __future__ import annotations

import re

from nlu.entities.numbers import spell_zh

# A sentence ends after 。！？； or !?; wherever they stand, and after "." only before whitespace
# (so "2,000.50" and "acme.com" stay whole).
_SENTENCE_END = r"(?<=[。！？；!?;])\s*|(?<=[.])\s+"
_SENTENCES = re.compile(_SENTENCE_END)
# streaming synthesis also cuts after commas and colons, but not inside a number ("2,000", "10:30")
_CLAUSES = re.compile(_SENTENCE_END + r"|(?<=[，：])\s*|(?<=[,:])(?!\d)\s*")
_DIGITS = re.compile(r"\d[\d,，]*(?:\.\d+)?%?")


def split_clauses(text: str, *, at_commas: bool = False, min_chars: int = 6) -> list[str]:
    """The clauses a line is spoken in, stripped; [] for blank text. The one splitter of the project.

    By default, sentence by sentence: the call session synthesises each clause and sends a playback
    mark after it, so a barge-in keeps exactly the clauses that were heard. Pieces are never merged.
    `at_commas=True` (the TTS engines' `stream()`) also cuts at commas and colons for a sooner first
    chunk, and merges a piece shorter than `min_chars` into the next one."""
    if not at_commas:
        return [p.strip() for p in _SENTENCES.split(text) if p.strip()]
    pieces = [p.strip() for p in _CLAUSES.split(text.strip()) if p.strip()]
    out: list[str] = []
    buf = ""
    for piece in pieces:
        buf = f"{buf} {piece}".strip() if buf and not _is_cjk(piece[0]) else buf + piece
        if len(buf) >= min_chars:
            out.append(buf)
            buf = ""
    if buf:
        if out:
            out[-1] = out[-1] + (" " if not _is_cjk(buf[0]) else "") + buf
        else:
            out.append(buf)
    return out


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff"


def zh_numbers_to_words(text: str) -> str:
    """Arabic numbers in Mandarin text -> Chinese words (2000 -> 两千, 3.5% -> 百分之三点五).

    Digits that look like phone or account numbers (6+ digits without separators, or a leading 0) are read
    digit by digit. A bare 2 reads 二 (it may be an ordinal: 第2, 2号); 两 before a unit (两千, 一万两千).
    """
    def convert(match: re.Match[str]) -> str:
        token = match.group(0)
        percent = token.endswith("%")
        number = token.rstrip("%").replace(",", "").replace("，", "")
        if not number or number.startswith("."):
            return token
        integer = number.split(".")[0]
        if (len(integer) >= 6 and "," not in token and "." not in number) or (len(integer) > 1 and integer[0] == "0"):
            return "".join("零一二三四五六七八九"[int(d)] for d in number if d.isdigit())
        if len(integer) > 16 or not integer.isdigit():  # beyond 万亿 or not a plain number: digit by digit
            return "".join("零一二三四五六七八九"[int(d)] for d in number if d.isdigit())
        fraction = number.partition(".")[2]
        words = "二" if int(integer) == 2 else spell_zh(int(integer))
        if fraction:
            words += "点" + "".join("零一二三四五六七八九"[int(d)] for d in fraction)
        return f"百分之{words}" if percent else words

    return _DIGITS.sub(convert, text)


# 还 is huán (repay) all over a collections call, but pypinyin often picks hái (still) after a verb
# or modal (能还款 -> hai2). 还欠 (still owe) stays hái.
_REPAY = {"还款": "huán kuǎn", "还钱": "huán qián", "还清": "huán qīng", "还上": "huán shàng",
          "还给": "huán gěi", "能还": "néng huán", "先还": "xiān huán", "再还": "zài huán",
          "分期还": "fēn qī huán", "还不上": "huán bú shàng", "还不起": "huán bù qǐ", "按时还": "àn shí huán",
          "全部还": "quán bù huán", "今天还": "jīn tiān huán", "明天还": "míng tiān huán", "就还": "jiù huán",
          "逾期": "yú qī", "欠款": "qiàn kuǎn"}
_PHRASES_LOADED = False


def _load_phrases() -> None:
    global _PHRASES_LOADED
    if not _PHRASES_LOADED:
        from pypinyin import load_phrases_dict

        load_phrases_dict({k: [[syl] for syl in v.split()] for k, v in _REPAY.items()})
        _PHRASES_LOADED = True


def zh_to_pinyin(text: str) -> str:
    """Mandarin text -> pinyin with tone numbers (tone 5 = neutral) for espeak-ng's cmn-latn-pinyin voice."""
    from pypinyin import Style, lazy_pinyin

    _load_phrases()

    text = zh_numbers_to_words(text)
    # a callable may return a list (pypinyin's documented use); its stubs only allow str
    syllables = lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True,
                            errors=lambda s: [s])  # type: ignore[arg-type,return-value]
    out: list[str] = []
    for syl in syllables:
        syl = syl.replace("ü", "v")
        if re.fullmatch(r"[a-zv]+[1-5]", syl):
            out.append(syl)
        else:  # punctuation / latin: keep pauses, map CJK punctuation to ASCII
            punct = syl.translate(str.maketrans("，。！？；：、", ",.!?;:,"))
            out.append(punct)
    joined = " ".join(out)
    return re.sub(r"\s+([,.!?;:])", r"\1", joined).strip()
