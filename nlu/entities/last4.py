"""The last four digits of an ID or phone number, written or spoken (一二三四, one two three four, "1 2 3 4")."""
from __future__ import annotations

import re

from nlu.entities.numbers import ZH_DIGITS

EN_DIGIT_WORDS = {"zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
                  "six": "6", "seven": "7", "eight": "8", "nine": "9", "to": "2", "too": "2", "for": "4",
                  "won": "1", "ate": "8", "niner": "9"}
HOMOPHONE_DIGITS = {"to", "too", "for", "won", "ate"}
ZH_CUE = re.compile(r"(后四位|后4位|最后四位|最后4位|末四位|末4位|尾号|尾数|后四个数|后面四位)")
EN_CUE = re.compile(r"\b(last (four|4)|ending (in|with)|ends (in|with)|digits|last digits)\b")
SKIP_WORDS = {"uh", "um", "er", "is", "are", "it's", "its", "it", "the", "my", "last", "four", "digits", "and",
              "yes", "yeah", "ok", "okay", "so", "that's", "thats", "number", "id"}


def extract_last4(text: str, lang: str, context: str | None = None) -> str | None:
    t = text.lower()
    cue = bool(ZH_CUE.search(t) or EN_CUE.search(t)) or context == "id_last4"
    for run in _digit_runs(t):
        if len(run) >= 4:
            return run[-4:]
    # a plain 4-digit number counts only with a cue, or when it is (nearly) all that was said
    m = re.search(r"(?<![\d,.$])(\d{4})(?![\d,.])", t)
    if m:
        rest = re.sub(r"[^a-z\u4e00-\u9fff]+", " ", t[:m.start()] + " " + t[m.end():]).split()
        rest = [w for w in rest if w not in SKIP_WORDS]
        if cue or not rest or all(re.fullmatch(r"[是的嗯啊对号码尾后四位]+", w) for w in rest):
            return m.group(1)
    return None


def _digit_runs(t: str) -> list[str]:
    """Runs of individually spoken digits: '一二三四', '1 2 3 4', 'one two three four', 'five six 7 8'."""
    runs: list[str] = []
    # Chinese: consecutive digit characters with no unit characters
    for m in re.finditer(r"[零〇洞一幺二两三四五六七八九0-9\s]{4,}", t):
        chunk = re.sub(r"\s+", "", m.group(0))
        if len(chunk) >= 4 and re.search(r"[零〇洞一幺二两三四五六七八九]", chunk) and not re.search(r"\d{2}", chunk):
            runs.append("".join(str(ZH_DIGITS[c]) if c in ZH_DIGITS else c for c in chunk))
    tokens = re.findall(r"[a-z]+|\d+", t)
    cur: list[str] = []
    for tok in tokens + ["<end>"]:
        digit = None
        if tok.isdigit() and len(tok) == 1:
            digit = tok
        elif tok == "double" or tok == "triple":
            cur.append(tok)
            continue
        elif tok in EN_DIGIT_WORDS and (tok not in HOMOPHONE_DIGITS or cur):
            digit = EN_DIGIT_WORDS[tok]
        if digit is not None:
            if cur and cur[-1] in ("double", "triple"):
                k = 2 if cur.pop() == "double" else 3
                cur.extend([digit] * k)
            else:
                cur.append(digit)
            continue
        digits = [c for c in cur if c.isdigit()]
        if len(digits) >= 4:
            runs.append("".join(digits))
        cur = []
    return runs
