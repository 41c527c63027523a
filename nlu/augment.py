"""Training-time augmentation: ASR-style noise (fillers, homophone slips, dropped spaces, casing)."""
from __future__ import annotations

import random

ZH_FILLERS_PRE = ["嗯", "啊", "呃", "那个", "喂", "哎", "嗯嗯", "就是"]
ZH_FILLERS_POST = ["啊", "吧", "呢", "哈", "嘛", "呀"]
# Common Mandarin ASR homophone slips (same or near pinyin).
ZH_HOMOPHONES = {
    "再": "在", "在": "再", "的": "得", "还": "换", "钱": "前", "是": "事", "已": "以",
    "经": "今", "借": "接", "号": "好", "期": "其", "款": "宽", "话": "画", "意": "义",
    "打": "大", "机": "鸡", "人": "仁", "骗": "片", "投": "头", "诉": "素", "电": "店",
}
EN_FILLERS_PRE = ["uh", "um", "well", "so", "like", "okay so", "hmm", "yeah"]
EN_FILLERS_POST = ["though", "you know", "man", "please", "alright"]


def _zh(text: str, rng: random.Random) -> str:
    t = text
    r = rng.random()
    if r < 0.35:
        t = rng.choice(ZH_FILLERS_PRE) + " " + t
    elif r < 0.5:
        t = t + rng.choice(ZH_FILLERS_POST)
    if rng.random() < 0.35:
        chars = list(t)
        idx = [i for i, c in enumerate(chars) if c in ZH_HOMOPHONES]
        if idx:
            i = rng.choice(idx)
            chars[i] = ZH_HOMOPHONES[chars[i]]
            t = "".join(chars)
    if rng.random() < 0.4:
        t = t.replace(" ", "")
    return t


def _en(text: str, rng: random.Random) -> str:
    words = text.split()
    r = rng.random()
    if r < 0.35:
        words = rng.choice(EN_FILLERS_PRE).split() + words
    elif r < 0.45:
        words = words + rng.choice(EN_FILLERS_POST).split()
    if rng.random() < 0.3:
        words = [w.replace("'", "") for w in words]
    if len(words) > 3 and rng.random() < 0.15:  # ASR dropped a short word
        short = [i for i, w in enumerate(words) if len(w) <= 2]
        if short:
            del words[rng.choice(short)]
    if len(words) > 2 and rng.random() < 0.15:  # stutter / repetition
        i = rng.randrange(len(words))
        words.insert(i, words[i])
    t = " ".join(words)
    if rng.random() < 0.2:
        t = t.capitalize() + rng.choice([".", "?", "!", ""])
    return t


def augment(text: str, lang: str, n: int, rng: random.Random) -> list[str]:
    """Up to n distinct noisy variants of text (not including text itself)."""
    fn = _zh if lang == "zh" else _en
    out: list[str] = []
    seen = {text}
    for _ in range(n * 3):
        v = fn(text, rng)
        if v not in seen:
            seen.add(v)
            out.append(v)
        if len(out) >= n:
            break
    return out
