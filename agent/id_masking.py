"""Identity-check answers never stay in clear: the ID digits a callee says or keys are masked in the
stored transcript, the call's slots, the API, webhooks and the console.

Keyed digits are written as `[keypad 4 digits]` by the call session. Spoken ones are masked here: in an
answer to the ID question (the node expects `id_last4`) or any turn the NLU found ID digits in, every
digit, full-width digit, Chinese numeral and English digit word becomes `*`.
"""
from __future__ import annotations

import re
from typing import Any

MASK = "*"
HIDDEN = "****"
ID_ENTITY = "last4"
ID_EXPECT = "id_last4"
# slot names that hold an identity answer even when no script says so (rows written before masking)
_SECRET_SLOT = re.compile(r"last4|id_digits|id_number", re.I)

_DIGITS = re.compile(r"[0-9\uff10-\uff19零〇一二三四五六七八九幺两壹贰叁肆伍陆柒捌玖]")
_DIGIT_WORDS = re.compile(r"\b(zero|oh|one|two|three|four|five|six|seven|eight|nine|double|triple)\b", re.I)


def mask_id_answer(text: str) -> str:
    """'It's 8807' -> "It's ****"; '八八零七' -> '****'; 'eight eight oh seven' -> '* * * *'."""
    return _DIGIT_WORDS.sub(MASK, _DIGITS.sub(MASK, text or ""))


def holds_id(entities: dict[str, Any] | None) -> bool:
    """The NLU found ID digits (it always has a `last4` key; None when there were none)."""
    return bool(entities) and entities.get(ID_ENTITY) not in (None, "")


def mask_entities(entities: dict[str, Any] | None) -> dict[str, Any]:
    out = dict(entities or {})
    if out.get(ID_ENTITY) not in (None, ""):
        out[ID_ENTITY] = HIDDEN
    return out


def mask_turn(turn: dict[str, Any]) -> dict[str, Any]:
    """A turn (as the API, live monitor or a webhook shows it) with an identity answer masked."""
    if turn.get("speaker") == "callee" and holds_id(turn.get("entities")):
        turn = dict(turn)
        turn["text"] = mask_id_answer(turn.get("text", ""))
        turn["entities"] = mask_entities(turn.get("entities"))
    return turn


def id_slots(script: Any) -> set[str]:
    """Slots a script fills from the ID digits (`capture: {given_last4: last4}`)."""
    names: set[str] = set()
    for node in getattr(script, "nodes", {}).values():
        for slot, entity in (getattr(node, "capture", None) or {}).items():
            if entity == ID_ENTITY:
                names.add(slot)
    return names


def mask_slots(slots: dict[str, Any] | None, names: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    """The slots with every identity answer hidden (named ones, and any whose name says so)."""
    out = dict(slots or {})
    for key, value in out.items():
        if value not in (None, "") and (key in names or _SECRET_SLOT.search(str(key))):
            out[key] = HIDDEN
    return out
