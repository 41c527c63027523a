"""Per-script domain prompts for Whisper (the `prompt` argument of Asr.transcribe).

Whisper conditions on the previous text, so a short sentence in the style of the expected answer,
naming the lender, the callee and the amounts, makes those words come out right (and, for Mandarin,
in simplified characters with full-width punctuation). Keep it short: it costs decoder time.
"""
from __future__ import annotations

MAX_CHARS = 120


def domain_prompt(lang: str, lender: str | None = None, names: list[str] | tuple[str, ...] = (),
                  amounts: list[str] | tuple[str, ...] = (), extra: str | None = None) -> str:
    """A one- or two-sentence prompt for a call; empty pieces are left out."""
    parts: list[str] = []
    if lang == "zh":
        parts.append("喂，您好。")
        if lender:
            parts.append(f"这里是{lender}。")
        if names:
            parts.append("，".join(names) + "，是我本人。")
        if amounts:
            parts.append("还款" + "，".join(amounts) + "。")
    else:
        parts.append("Hello.")
        if lender:
            parts.append(f"This is {lender}.")
        if names:
            parts.append(f"Yes, this is {', '.join(names)}.")
        if amounts:
            parts.append(f"Amount due {', '.join(amounts)}.")  # not a caller's sentence: none is near test
    if extra:
        parts.append(extra.strip())
    text = ("" if lang == "zh" else " ").join(parts)
    return text[-MAX_CHARS:]
