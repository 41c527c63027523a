"""Who the simulated customer is, what it thinks the agent just asked, and what it answers.

Pure and deterministic: no audio, no I/O. `customer.py` turns these decisions into sound.

    persona = Persona(lang="zh", behaviour=Behaviour.PAYS, name="王芳", id_last4="0417", ...)
    mind = PersonaMind(persona)
    ask = classify_agent_prompt("请问您是王芳本人吗？", "zh", persona)   # -> Ask.IDENTITY
    reply = mind.answer(ask)                                          # -> Reply(intent="confirm_identity", ...)
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from nlu.entities.numbers import spell_zh


class Behaviour(StrEnum):
    PAYS = "pays"  # promises to pay in full, soon
    PROMISES_DATE = "promises_date"  # promises to pay on a later date
    PARTIAL = "partial"  # asks for instalments, then promises a part
    DISPUTES = "disputes"
    WRONG_NUMBER = "wrong_number"
    THIRD_PARTY = "third_party"
    ASKS_HUMAN = "asks_human"
    REFUSES = "refuses"  # collections: cannot pay; telesales: not interested
    INTERESTED = "interested"  # telesales: wants the offer
    SILENT = "silent"
    VOICEMAIL = "voicemail"
    HANGS_UP = "hangs_up"  # hangs up in the middle of a sentence
    ALREADY_PAID = "already_paid"

    @classmethod
    def _missing_(cls, value: object) -> Behaviour | None:
        key = str(value).strip().lower().replace("-", "_").replace(" ", "_")
        return cls._value2member_map_.get(key) or _ALIASES.get(key)  # type: ignore[return-value]


_ALIASES = {
    "pay": Behaviour.PAYS, "pays_in_full": Behaviour.PAYS, "promise_to_pay": Behaviour.PAYS,
    "promise_date": Behaviour.PROMISES_DATE, "promises_a_date": Behaviour.PROMISES_DATE,
    "installments": Behaviour.PARTIAL, "instalments": Behaviour.PARTIAL, "partial_payment": Behaviour.PARTIAL,
    "dispute": Behaviour.DISPUTES, "third": Behaviour.THIRD_PARTY, "human": Behaviour.ASKS_HUMAN,
    "asks_for_human": Behaviour.ASKS_HUMAN, "request_human": Behaviour.ASKS_HUMAN, "refuse": Behaviour.REFUSES,
    "not_interested": Behaviour.REFUSES, "cannot_pay": Behaviour.REFUSES, "hangup": Behaviour.HANGS_UP,
    "hangs_up_mid_call": Behaviour.HANGS_UP, "paid": Behaviour.ALREADY_PAID, "silence": Behaviour.SILENT,
}

COLLECTIONS_BEHAVIOURS = (
    Behaviour.PAYS, Behaviour.PROMISES_DATE, Behaviour.PARTIAL, Behaviour.DISPUTES,
    Behaviour.WRONG_NUMBER, Behaviour.THIRD_PARTY, Behaviour.ASKS_HUMAN, Behaviour.REFUSES,
    Behaviour.SILENT, Behaviour.VOICEMAIL, Behaviour.HANGS_UP, Behaviour.ALREADY_PAID,
)
TELESALES_BEHAVIOURS = (
    Behaviour.INTERESTED, Behaviour.REFUSES, Behaviour.ASKS_HUMAN, Behaviour.WRONG_NUMBER,
    Behaviour.THIRD_PARTY, Behaviour.SILENT, Behaviour.VOICEMAIL, Behaviour.HANGS_UP,
)


class Ask(StrEnum):
    """What the simulated customer believes the agent's last prompt asked for."""

    IDENTITY = "identity"  # "am I speaking with ...?"
    ID_LAST4 = "id_last4"  # "the last four digits of your ID"
    WHEN_PAY = "when_pay"  # "when can you pay?" / the debt reminder
    HOW_MUCH = "how_much"  # "how much can you pay?"
    CONFIRM = "confirm"  # read-back: "so that's 500 on the 5th, right?"
    OFFER = "offer"  # telesales pitch
    TRANSFER = "transfer"  # "let me transfer you"
    CLOSING = "closing"  # "thank you, goodbye"
    PRESENCE = "presence"  # "are you still there?"
    REPEAT = "repeat"  # "sorry, I didn't catch that"
    LINK = "link"  # "shall I text you the payment link?"
    PROPOSAL = "proposal"  # a plan: "3 monthly payments of 150, would that work for you?"
    STATEMENT = "statement"  # said something, no recognisable question
    UNCLEAR = "unclear"  # heard nothing usable


@dataclass
class Persona:
    lang: str  # zh | en
    behaviour: Behaviour
    name: str
    id_last4: str = "0000"
    purpose: str = "collections"  # collections | telesales
    balance: float = 0.0
    currency: str = "CNY"
    promise_date: date | None = None
    partial_amount: float | None = None
    # turn index (0 = first answer) -> interjected intent, e.g. {0: "ask_who_calling", 2: "ask_if_robot"}
    interjections: dict[int, str] = field(default_factory=dict)
    hangup_at_turn: int = 2  # HANGS_UP: cut this answer short and hang up
    id_by_dtmf: bool = False  # key the ID digits instead of saying them
    voice: str | None = None  # TTS voice for lines no fixture covers
    seed: int = 0

    def __post_init__(self) -> None:
        if self.lang not in ("zh", "en"):
            raise ValueError(f"persona language must be zh or en, not {self.lang!r}")
        self.behaviour = Behaviour(self.behaviour)
        if not (len(self.id_last4) == 4 and self.id_last4.isdigit()):
            raise ValueError(f"id_last4 must be 4 digits, not {self.id_last4!r}")

    @property
    def first_name(self) -> str:
        return self.name[1:] if self.lang == "zh" else self.name.split()[0]


@dataclass
class Reply:
    """One answer: a fixture of `intent` (when `text` is None) or TTS of `text`."""

    intent: str  # taxonomy intent the answer expresses
    text: str | None = None  # TTS line; None = pick a fixture of this intent
    fixture: str | None = None  # a specific fixture file, if wanted
    dtmf: str | None = None  # key these digits instead of speaking
    hang_up_after: bool = False  # hang up once said
    cut_short: float | None = None  # hang up after this fraction of the audio (mid-sentence)
    silent: bool = False  # say nothing


# --- hearing: classify the agent's prompt ---------------------------------------------------
_KW: dict[str, dict[Ask, tuple[str, ...]]] = {
    "en": {
        Ask.CLOSING: ("goodbye", "good bye", "bye", "have a nice day", "have a good day",
                      "have a great day", "thank you for your time", "thanks for your time", "thanks for taking"),
        Ask.PRESENCE: ("still there", "can you hear me", "are you there", "hello?"),
        Ask.REPEAT: ("didn't catch", "did not catch", "say that again", "could you repeat", "can you repeat",
                     "didn't hear", "didn't get that"),
        Ask.LINK: ("text you", "send you", "payment link", "the link"),
        Ask.PROPOSAL: ("would that work", "does that work",
                       "would that be okay", "is that okay", "and the remaining", "split it", "monthly payments"),
        Ask.TRANSFER: ("transfer you", "transferring", "connect you", "connecting you", "please hold",
                       "a colleague", "specialist will", "put you through"),
        Ask.ID_LAST4: ("last four", "last 4", "four digits", "4 digits", "id number", "date of birth",
                       "verify your identity", "social security", "your id", "of your id"),
        Ask.CONFIRM: ("to confirm", "is that right", "is that correct", "correct?", "right?",
                      "confirm that", "just to be sure", "let me repeat", "so you will", "so you'll", "so that's",
                      "so that is"),
        Ask.IDENTITY: ("speaking with", "speak with", "speak to", "talking to", "is this", "am i speaking",
                       "do you know"),
        Ask.HOW_MUCH: ("how much can you", "how much could you", "what amount", "how much are you able",
                       "how much would you", "part of it", "partial", "a portion"),
        Ask.WHEN_PAY: ("when can you", "when could you", "when will you", "what date", "which day",
                       "pay today", "make a payment", "make the payment", "overdue", "past due",
                       "was due", "is due", "payment", "balance", "pay"),
        Ask.OFFER: ("interested", "offer", "pre-approved", "preapproved", "eligible", "limit",
                    "would you like", "apply", "rate", "loan"),
    },
    "zh": {
        Ask.CLOSING: ("再见", "拜拜", "祝您生活愉快", "祝你生活愉快", "祝您愉快", "感谢您的配合",
                      "感谢您的接听", "打扰了"),
        Ask.PRESENCE: ("还在吗", "在吗", "还在听", "在听吗", "听得到吗", "听得见吗", "能听到吗", "喂?"),
        Ask.REPEAT: ("没听清", "没有听清", "再说一遍", "再说一次", "重复一下"),
        Ask.LINK: ("链接", "发给您吗"),
        Ask.PROPOSAL: ("这样可以吗", "可以吗", "行吗", "好吗", "分成", "每月还"),
        Ask.TRANSFER: ("转接", "转给", "人工客服", "稍等", "请稍候", "同事"),
        # plus what Whisper base makes of espeak-ng's Mandarin for "为了保护您的信息安全…最后四位"
        Ask.ID_LAST4: ("后四位", "后4位", "身份证", "证件号", "核实身份", "核实一下身份", "最后四", "最后之",
                       "最后思", "最后位", "为了保护", "为了抱负", "心悲暗"),
        Ask.CONFIRM: ("确认一下", "跟您确认", "和您确认", "对吗", "对吧", "是吗", "没错吧", "是否正确", "没问题吧"),
        Ask.IDENTITY: ("请问是", "请问您是", "是不是", "您是", "本人", "你是", "认识"),
        Ask.HOW_MUCH: ("能还多少", "可以还多少", "还多少", "先还一部分", "部分", "多少钱"),
        Ask.WHEN_PAY: ("什么时候", "哪天", "几号", "还款", "还上", "逾期", "到期", "欠款", "账单", "处理"),
        Ask.OFFER: ("感兴趣", "有兴趣", "额度", "优惠", "利率", "利息", "借款", "提额", "需要吗", "申请",
                    "活动", "了解一下", "再借"),
    },
}
# precedence when several match: a goodbye that also thanks is a goodbye, a read-back that
# mentions paying is a confirmation, and so on
_ORDER = (Ask.CLOSING, Ask.TRANSFER, Ask.ID_LAST4, Ask.CONFIRM, Ask.IDENTITY, Ask.HOW_MUCH, Ask.LINK,
          Ask.PROPOSAL, Ask.WHEN_PAY, Ask.OFFER, Ask.PRESENCE, Ask.REPEAT)
_CONFIRM_WEAK = {"en": ("right?", "correct?"), "zh": ("对吗", "对吧", "是吗")}


def _normalise(text: str, lang: str) -> str:
    t = text.strip().lower()
    if lang == "zh":
        try:
            import zhconv

            t = zhconv.convert(t, "zh-cn")
        except ImportError:  # pragma: no cover - zhconv is a dependency
            pass
        t = re.sub(r"\s+", "", t)
        t = t.replace("？", "?")
    else:
        t = re.sub(r"\s+", " ", t)
    return t


def classify_agent_prompt(text: str, lang: str, persona: Persona | None = None) -> Ask:
    """Decide what the agent just asked, from what the customer heard (an ASR transcript)."""
    t = _normalise(text, lang)
    core = re.sub(r"[\W_]+", "", t)
    if len(core) < 2:
        return Ask.UNCLEAR
    kw = _KW.get(lang, _KW["en"])
    hits = {ask for ask in _ORDER if any(k in t for k in kw[ask])}
    if lang == "zh":  # Whisper often writes a homophone: match on toneless pinyin too
        heard = _pinyin(t)
        hits |= {ask for ask in _ORDER if any(_pinyin_in(py, heard) for k in kw[ask] if len(py := _pinyin(k)) >= 2)}
    if persona is not None and persona.name and _mentions_name(t, persona):
        hits.add(Ask.IDENTITY)
    # the last sentence carries the question: "Your bill is due. When can you pay?"
    last = _last_sentence(t, lang)
    last_hits = {ask for ask in _ORDER if any(k in last for k in kw[ask])}
    if Ask.CONFIRM in hits and all(k not in t for k in kw[Ask.CONFIRM] if k not in _CONFIRM_WEAK[lang]):
        # only a weak tag question ("right?"): a confirmation only if the prompt reads something back
        if not re.search(r"\d|[一二三四五六七八九十百千万两]+(元|块|号|日|月)", t):
            hits.discard(Ask.CONFIRM)
    if re.search(r"\b(correct|right)\W*$", t) or re.search(r"(对吗|对吧|是吗|没错吧)\W*$", t):
        if re.search(r"\d|[一二三四五六七八九十百千万两]+(元|块|号|日|月|期)|\b(dollars?|yuan|monthly)\b", t):
            hits.add(Ask.CONFIRM)
            last_hits.add(Ask.CONFIRM)
    for ask in _ORDER:
        if ask in hits and (ask in last_hits or ask in (Ask.CLOSING, Ask.TRANSFER, Ask.ID_LAST4)):
            return ask
    for ask in _ORDER:
        if ask in hits:
            return ask
    return _closest_prototype(t, lang) or Ask.STATEMENT


# Typical phrasings of each ask. When no keyword survived the ASR, the prompt is compared with
# these by the longest common subsequence of (toneless, merged) pinyin syllables or English words.
_PROTOTYPES: dict[str, dict[Ask, tuple[str, ...]]] = {
    "zh": {
        Ask.IDENTITY: ("请问您是本人吗", "请问您认识他吗"),
        Ask.ID_LAST4: ("请说一下您身份证号码的最后四位", "请告诉我您身份证的后四位", "为了保护您的信息安全"),
        Ask.WHEN_PAY: ("请问您哪天可以还款", "请问您今天能全额还款吗", "请问您什么时候可以还款",
                       "现在已经逾期了", "请问您能按时还款吗"),
        Ask.HOW_MUCH: ("您今天能先还多少",),
        Ask.CONFIRM: ("跟您确认一下您会在那天还款对吗",),
        Ask.LINK: ("需要我把还款链接通过短信发给您吗",),
        Ask.PROPOSAL: ("我们也可以帮您分成几期每月还这样可以吗", "今天先还一部分剩下的之后还清可以吗"),
        Ask.OFFER: ("您想了解一下吗", "您有兴趣吗", "需要帮您申请提额吗"),
        Ask.CLOSING: ("谢谢您再见", "祝您生活愉快再见"),
        Ask.TRANSFER: ("现在为您转接人工客服请稍等",),
        Ask.PRESENCE: ("您好您还在听吗",),
        Ask.REPEAT: ("抱歉我没听清楚",),
    },
    "en": {
        Ask.IDENTITY: ("am i speaking with", "do you know"),
        Ask.ID_LAST4: ("please tell me the last four digits of your id number",),
        Ask.WHEN_PAY: ("which day can you make the payment", "can you pay the full amount today",
                       "will you be able to pay it on time"),
        Ask.HOW_MUCH: ("how much can you pay today",),
        Ask.CONFIRM: ("so that's on correct",),
        Ask.LINK: ("would you like me to text you a payment link",),
        Ask.PROPOSAL: ("we can also split it into monthly payments would that work for you",),
        Ask.OFFER: ("would you like to hear more", "would you like me to apply the increase"),
        Ask.CLOSING: ("thank you goodbye",),
        Ask.TRANSFER: ("i'm connecting you to a colleague now please hold",),
        Ask.PRESENCE: ("are you still there",),
        Ask.REPEAT: ("sorry i didn't catch that",),
    },
}
_PROTO_MIN = 0.6


def _units(text: str, lang: str) -> tuple[str, ...]:
    if lang == "zh":
        return _pinyin(text)
    return tuple(re.findall(r"[a-z']+", text.lower()))


def _lcs(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def _closest_prototype(t: str, lang: str) -> Ask | None:
    heard = _units(t, lang)
    if len(heard) < 3:
        return None
    scores: dict[Ask, float] = {}
    for ask in _ORDER:
        for proto in _PROTOTYPES.get(lang, {}).get(ask, ()):
            units = _units(proto, lang)
            common = _lcs(units, heard)
            if common >= min(4, len(units)):
                scores[ask] = max(scores.get(ask, 0.0), common / len(units))
    good = {a: v for a, v in scores.items() if v >= _PROTO_MIN}
    # "sorry, I didn't catch that" followed by the question again: answer the question
    content = {a: v for a, v in good.items() if a not in (Ask.REPEAT, Ask.PRESENCE)}
    pool = content or good
    return max(pool, key=lambda a: pool[a]) if pool else None


def _pinyin(text: str) -> tuple[str, ...]:
    """Toneless pinyin with the common confusions merged (zh/z, ch/c, sh/s, -ng/-n, l/n)."""
    from pypinyin import lazy_pinyin

    out = []
    for syl in lazy_pinyin(re.sub(r"[^\u4e00-\u9fff]", "", text)):
        if not syl:
            continue
        syl = re.sub(r"^([zcs])h", r"\1", syl)
        syl = re.sub(r"ng$", "n", syl)
        syl = re.sub(r"^l", "n", syl)
        out.append(syl)
    return tuple(out)


def _pinyin_in(needle: tuple[str, ...], hay: tuple[str, ...]) -> bool:
    n = len(needle)
    if n == 0 or n > len(hay):
        return False
    for i in range(len(hay) - n + 1):
        if hay[i : i + n] == needle:
            return True
    return False


def _mentions_name(t: str, persona: Persona) -> bool:
    if persona.lang == "zh":
        if persona.name in t or (len(persona.name) >= 2 and persona.name[1:] in t):
            return True
        return _pinyin_in(_pinyin(persona.name), _pinyin(t))
    parts = [p.lower() for p in persona.name.split() if len(p) > 2]
    return any(re.search(rf"\b{re.escape(p)}\b", t) for p in parts)


def _last_sentence(t: str, lang: str) -> str:
    parts = [p for p in re.split(r"[.!?。！？;；]+", t) if p.strip()]
    if not parts:
        return t
    last = parts[-1]
    if len(re.sub(r"\W+", "", last)) < 4 and len(parts) > 1:  # "…, okay?" -> keep the one before too
        last = parts[-2] + " " + last
    return last


# --- speaking: what this persona answers ---------------------------------------------------
_EN_ORDINALS = (
    "", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
    "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth",
    "eighteenth", "nineteenth", "twentieth", "twenty-first", "twenty-second", "twenty-third",
    "twenty-fourth", "twenty-fifth", "twenty-sixth", "twenty-seventh", "twenty-eighth",
    "twenty-ninth", "thirtieth", "thirty-first",
)
_ZH_DIGITS = "零一二三四五六七八九"


def say_date(d: date, lang: str) -> str:
    if lang == "zh":
        # within this month people say just the day ("二十七号"); espeak-ng's "十一月" also tends to
        # reach Whisper as "是一月", so the shorter form is both natural and heard right
        if d.month == date.today().month and d.year == date.today().year:
            return f"{spell_zh(d.day, liang=False)}号"
        return f"{spell_zh(d.month, liang=False)}月{spell_zh(d.day, liang=False)}号"
    return f"{d.strftime('%B')} {_EN_ORDINALS[d.day]}"


def say_amount(amount: float, currency: str, lang: str) -> str:
    n = int(round(amount))
    if lang == "zh":
        return f"{spell_zh(n)}块"
    unit = {"USD": "dollars", "CNY": "yuan"}.get(currency, currency)
    return f"{n} {unit}"


def say_digits(digits: str, lang: str) -> str:
    if lang == "zh":
        return "".join(_ZH_DIGITS[int(c)] for c in digits)
    words = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
    return " ".join(words[int(c)] for c in digits)


def _line(lang: str, zh: str, en: str, **kw: str) -> str:
    return (zh if lang == "zh" else en).format(**kw)


class PersonaMind:
    """The persona's conversational state. `answer(ask)` is deterministic given the seed."""

    def __init__(self, persona: Persona) -> None:
        self.p = persona
        self.turn = 0  # answers given so far
        self.said: list[Reply] = []
        self.counts: dict[str, int] = {}
        self.identity_done = False
        self.main_done = 0  # how many times the main point was answered
        self.confirmed = False
        self.last_ask: Ask | None = None
        self.offer_questions = ["ask_interest_rate", "ask_credit_limit", "how_to_apply"]

    def rng(self, salt: str) -> random.Random:
        return random.Random(f"{self.p.seed}:{self.turn}:{salt}")

    def infer(self, ask: Ask, prompt_s: float = 2.0) -> Ask:
        """What a listener expects when the words were lost: identity first, then the point of the
        call, then a read-back of a promise. A short unclear burst stays unclear."""
        if ask not in (Ask.STATEMENT, Ask.UNCLEAR) or (ask is Ask.UNCLEAR and prompt_s < 1.0):
            return ask
        if not self.identity_done:
            return Ask.IDENTITY
        if self.main_done == 0:
            return Ask.OFFER if self.p.purpose == "telesales" else Ask.WHEN_PAY
        if self.said and self.said[-1].intent == "promise_to_pay":
            return Ask.CONFIRM
        return Ask.STATEMENT

    def answer(self, ask: Ask, prompt_s: float = 2.0) -> Reply:
        """Answer a prompt heard as `ask` (after `infer`); advances the conversation state."""
        ask = self.infer(ask, prompt_s)
        self.last_ask = ask
        reply = self._answer(ask)
        self.said.append(reply)
        self.counts[reply.intent] = self.counts.get(reply.intent, 0) + 1
        self.turn += 1
        return reply

    # ------------------------------------------------------------------------------------
    def _answer(self, ask: Ask) -> Reply:
        p, b = self.p, self.p.behaviour
        if b in (Behaviour.SILENT, Behaviour.VOICEMAIL):
            return Reply("silence", silent=True)
        if ask is Ask.CLOSING:
            return Reply("affirm", _line(p.lang, "好的，再见。", "Okay, bye."), hang_up_after=True)
        if ask is Ask.TRANSFER:
            return Reply("affirm", _line(p.lang, "好的，我等一下。", "Okay, I'll hold."))
        if ask is Ask.PRESENCE:
            return Reply("affirm", _line(p.lang, "在的，你说。", "Yes, I'm here."))
        if ask is Ask.REPEAT and self.said and not self.said[-1].silent:
            last = self.said[-1]
            return Reply(last.intent, last.text, last.fixture, last.dtmf)
        if ask is Ask.REPEAT:
            ask = Ask.UNCLEAR
        extra = p.interjections.get(self.turn)
        if extra and ask not in (Ask.CONFIRM, Ask.ID_LAST4):
            return Reply(extra)
        reply = self._by_behaviour(ask)
        if b is Behaviour.HANGS_UP and self.turn >= p.hangup_at_turn and not reply.silent:
            reply.cut_short = 0.5
        return reply

    def _by_behaviour(self, ask: Ask) -> Reply:
        p, b = self.p, self.p.behaviour
        if b is Behaviour.WRONG_NUMBER:
            if self.counts.get("wrong_number", 0) >= 1:
                return Reply("wrong_number", _line(p.lang, "我说了你打错了。", "I told you, wrong number."),
                             hang_up_after=True)
            return Reply("wrong_number")
        if b is Behaviour.THIRD_PARTY:
            if self.counts.get("third_party", 0) == 0:
                return Reply("third_party")
            if ask is Ask.CONFIRM or ask is Ask.STATEMENT:
                return Reply("affirm", _line(p.lang, "好的，我会转告他的。", "Okay, I'll pass the message on."))
            return Reply("deny", _line(p.lang, "这个我不清楚，你自己找他吧。",
                                       "I don't know about that, ask him yourself."))
        if ask is Ask.UNCLEAR:
            if self.counts.get("repeat_request", 0) < 2:
                return Reply("repeat_request")
            return Reply("affirm")
        if ask is Ask.IDENTITY:
            return self._confirm_identity()
        if ask is Ask.ID_LAST4:
            digits = p.id_last4
            if p.id_by_dtmf:
                return Reply("confirm_identity", dtmf=digits)
            spoken = " ".join(say_digits(digits, p.lang)) if p.lang == "zh" else say_digits(digits, p.lang)
            return Reply("confirm_identity", _line(p.lang, "是{d}。", "It's {d}.", d=spoken))
        if b is Behaviour.ASKS_HUMAN:
            return Reply("request_human")
        if p.purpose == "telesales":
            return self._telesales(ask)
        return self._collections(ask)

    def _confirm_identity(self) -> Reply:
        p = self.p
        self.identity_done = True
        if self.rng("identity").random() < 0.5:
            return Reply("confirm_identity", _line(p.lang, "对，我是{n}。", "Yes, this is {n}.", n=p.name))
        return Reply("confirm_identity", fixture=_GENERIC_IDENTITY[p.lang])

    def _proposal(self, ask: Ask) -> Reply | None:
        """A yes/no proposal. A link: the willing say yes. A plan: the partial payer says yes, the
        payers restate their own promise (None), the unwilling say no."""
        b = self.p.behaviour
        if b in (Behaviour.REFUSES, Behaviour.DISPUTES, Behaviour.ALREADY_PAID):
            return Reply("deny")
        if ask is Ask.LINK or b in (Behaviour.PARTIAL, Behaviour.INTERESTED):
            return Reply("affirm")
        if self.p.purpose == "collections" and b in (Behaviour.PAYS, Behaviour.PROMISES_DATE):
            return None
        return Reply("affirm")

    def _collections(self, ask: Ask) -> Reply:
        p, b = self.p, self.p.behaviour
        if ask in (Ask.LINK, Ask.PROPOSAL):
            reply = self._proposal(ask)
            if reply is not None:
                return reply
            ask = Ask.WHEN_PAY
        if ask is Ask.CONFIRM:
            if b is Behaviour.DISPUTES:
                return Reply("deny")
            self.confirmed = True
            return Reply("affirm")
        if ask is Ask.STATEMENT and self.confirmed:
            return Reply("affirm")
        if ask is Ask.OFFER:
            ask = Ask.WHEN_PAY
        self.main_done += 1
        first = self.main_done == 1
        amount = say_amount(p.balance, p.currency, p.lang)
        when = say_date(p.promise_date, p.lang) if p.promise_date else _line(p.lang, "明天", "tomorrow")
        if b is Behaviour.PAYS:
            if p.promise_date is None and p.lang == "zh":  # a recorded voice: "tomorrow afternoon, 2,000"
                return Reply("promise_to_pay", fixture=_TOMORROW_FIXTURE[p.lang])
            if ask is Ask.HOW_MUCH:
                return Reply("promise_to_pay", _line(p.lang, "全部还清，{a}。", "All of it, {a}.", a=amount))
            return Reply("promise_to_pay", _line(p.lang, "我{w}把{a}全部还清。", "I'll pay the full {a} on {w}.",
                                                 a=amount, w=when))
        if b is Behaviour.PROMISES_DATE:
            if ask is Ask.HOW_MUCH:
                return Reply("promise_to_pay", _line(p.lang, "全部，{a}。", "The whole {a}.", a=amount))
            if p.promise_date is None:  # no date of its own: "on payday", from a recording
                return Reply("promise_to_pay", fixture=_PAYDAY_FIXTURE[p.lang])
            return Reply("promise_to_pay", _line(p.lang, "我{w}还。", "I can pay on {w}.", w=when))
        if b is Behaviour.PARTIAL:
            if first and ask is not Ask.HOW_MUCH:
                return Reply("request_installment")
            part = say_amount(p.partial_amount or p.balance / 3, p.currency, p.lang)
            return Reply("promise_to_pay", _line(p.lang, "我{w}先还{a}，剩下的下个月还。",
                                                 "I can pay {a} on {w}, and the rest next month.", a=part, w=when))
        if b is Behaviour.DISPUTES:
            return Reply("dispute_debt")
        if b is Behaviour.REFUSES:
            if first:
                return Reply("cannot_pay")
            if self.main_done == 2:
                return Reply("deny", _line(p.lang, "真的没有钱，还不了。", "I really have no money, I can't pay."))
            return Reply("stop_calling", hang_up_after=True)
        if b is Behaviour.ALREADY_PAID:
            if first:
                return Reply("already_paid")
            return Reply("already_paid", _line(p.lang, "我真的已经还了，你们再查查。",
                                               "I really did pay it already, check again."))
        if b is Behaviour.HANGS_UP:
            return Reply("cannot_pay")
        # INTERESTED or anything else in a collections call: behave like a payer
        return Reply("promise_to_pay", _line(p.lang, "我{w}还。", "I can pay on {w}.", w=when))

    def _telesales(self, ask: Ask) -> Reply:
        b = self.p.behaviour
        if ask is Ask.CONFIRM:
            return Reply("deny") if b is Behaviour.REFUSES else Reply("affirm")
        if ask in (Ask.LINK, Ask.PROPOSAL) and self.main_done > 0:
            return self._proposal(ask) or Reply("affirm")
        self.main_done += 1
        if b is Behaviour.REFUSES:
            if self.main_done == 1:
                return Reply("not_interested")
            return Reply("stop_calling", hang_up_after=True)
        if b is Behaviour.HANGS_UP:
            return Reply("not_interested")
        # INTERESTED (and payers reused in a sales call)
        if self.main_done == 1:
            return Reply("interested")
        if self.offer_questions and self.main_done <= 3:
            q = self.offer_questions.pop(self.rng("offer-q").randrange(len(self.offer_questions)))
            return Reply(q)
        return Reply("affirm")


_GENERIC_IDENTITY = {"zh": "zh_001.wav", "en": "en_041.wav"}
_PAYDAY_FIXTURE = {"zh": "zh_017.wav", "en": "en_057.wav"}
_TOMORROW_FIXTURE = {"zh": "zh_016.wav"}  # 我明天下午把两千块钱还上


def voicemail_greeting(persona: Persona) -> str:
    if persona.lang == "zh":
        return "您好，您拨打的用户暂时无法接听，请在提示音后留言。"
    return (f"Hi, you've reached {persona.first_name}. "
            "I can't take your call right now, please leave a message after the tone.")
