"""The checks every ended call gets: each finding names the turn and a stable rule id.

Rule ids are a public contract (findings table, console, `call.flagged` webhook): never rename one.
The checks read what was said (turn texts, nodes, intents, timings), not what the script meant to say,
so a script or policy bug shows up too. Script knowledge (disclosure lines, verification nodes, lines
that reveal the debt) is used when the call's script loads; text patterns in zh and en back it up.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

DISCLOSURE_IDENTITY = "audit_disclosure_identity"        # the agent said who it is (automated, lender)
DISCLOSURE_RECORDED = "audit_disclosure_recorded"        # the callee was told the call is recorded
MINI_MIRANDA = "audit_mini_miranda"                      # US collections: said before any debt detail
DEBT_BEFORE_VERIFICATION = "audit_debt_before_verification"
OPT_OUT_NOT_HONOURED = "audit_opt_out_not_honoured"
PRESSED_AFTER_DISPUTE = "audit_payment_pressed_after_dispute"
TALKED_OVER_CALLEE = "audit_talked_over_callee"
LOW_CONFIDENCE_OUTCOME = "audit_low_confidence_outcome"
AUDIT_RULES = (DISCLOSURE_IDENTITY, DISCLOSURE_RECORDED, MINI_MIRANDA, DEBT_BEFORE_VERIFICATION,
               OPT_OUT_NOT_HONOURED, PRESSED_AFTER_DISPUTE, TALKED_OVER_CALLEE, LOW_CONFIDENCE_OUTCOME)

# outcomes that commit the lender or the callee to something: they need a confident understanding
DECISIVE_OUTCOMES = {"ptp", "paid_already", "dispute", "wrong_number", "opted_out", "refused", "converted",
                     "not_interested"}
OVERLAP_MS = 1200  # the agent kept talking this long over the callee's speech without yielding

_PATTERNS = {
    "identity": {"en": r"automated assistant|virtual assistant|\bAI\b|\brobot\b",
                 "zh": r"智能语音助手|智能助手|语音助手|机器人"},
    "recorded": {"en": r"\brecorded\b|\brecording\b", "zh": r"录音"},
    "miranda": {"en": r"attempt to collect a debt", "zh": r"(?!)"},
    "verified": {"en": r"thank you for confirming", "zh": r"谢谢您的确认"},
    "debt": {"en": r"\b(overdue|past due|amount due|you owe|owed|balance|payment of|paying .* today|"
                   r"full amount|outstanding)\b|\$\s?\d|\d[\d,.]*\s*(dollars|USD)\b",
             "zh": r"逾期|欠款|欠费|需要还款|还款金额|全额还款|[零一二两三四五六七八九十百千万亿\d,.]+元"},
    "pay_ask": {"en": r"\b(can you pay|could you pay|pay (it|the|that|today|by)|payment (today|plan|by)|"
                      r"which day can you|monthly payments|payment link)\b",
                "zh": r"还款|还上|先还|分成.*期|还款链接"},
    "opt_out": {"en": r"\b(stop calling|don'?t call|do not call|remove my number)\b",
                "zh": r"(不要|别)再?(给我)?打(电话)?|不要再联系"},
}


def _rx(kind: str, lang: str) -> re.Pattern:
    return re.compile(_PATTERNS[kind].get(lang, _PATTERNS[kind]["en"]), re.IGNORECASE)


@dataclass
class TurnView:
    seq: int
    speaker: str
    text: str
    node: str | None = None
    intent: str | None = None
    confidence: float | None = None
    start_ms: int = 0
    end_ms: int = 0
    interrupted: bool = False


@dataclass
class CallView:
    language: str
    jurisdiction: str
    purpose: str
    outcome: str | None
    turns: list[TurnView]
    script: Any = None  # dialogs.script.Script when it loads
    min_confidence: float = field(default_factory=lambda: float(os.environ.get("DIALWISE_AUDIT_MIN_CONFIDENCE", "0.6")))


@dataclass(frozen=True)
class Finding:
    rule: str
    turn_seq: int | None
    detail: str
    severity: str = "high"

    def as_dict(self) -> dict:
        return {"rule": self.rule, "turn_seq": self.turn_seq, "detail": self.detail, "severity": self.severity}


def _script_facts(script, lang: str) -> tuple[set[str], set[str], dict[str, str]]:
    """(verification nodes, nodes that say a debt line, disclosure kind -> fixed text)."""
    if script is None:
        return set(), set(), {}
    verified = {n for n, node in script.nodes.items() if node.marks_verified}
    debt_slots = {k for k, s in script.slots.items() if s.debt}
    debt_words = {"balance", "due_date", "days_past_due", "promise_amount", "promise_date"} | debt_slots
    debt_lines = {k for k, ln in script.lines.items()
                  if ln.debt or set(ln.placeholders(lang)) & debt_words}
    debt_nodes = set()
    for name, node in script.nodes.items():
        says = node.say if isinstance(node.say, list) else [node.say] if node.say else []
        if set(says) & debt_lines:
            debt_nodes.add(name)
    disclosures = {ln.disclosure: ln.text(lang) for ln in script.lines.values() if ln.disclosure and ln.text(lang)}
    return verified, debt_nodes, disclosures


def audit_call(call: CallView) -> list[Finding]:
    lang = call.language if call.language in ("zh", "en") else "en"
    verified_nodes, debt_nodes, disclosures = _script_facts(call.script, lang)
    turns = sorted(call.turns, key=lambda t: t.seq)
    agent = [t for t in turns if t.speaker == "agent"]
    callee = [t for t in turns if t.speaker == "callee"]
    out: list[Finding] = []
    if not agent:
        return out
    miranda_rx = _rx("miranda", lang)

    def said(kind: str, t: TurnView) -> bool:
        key = {"identity": "automated", "recorded": "recorded", "miranda": "mini_miranda"}.get(kind, "")
        fixed = disclosures.get(key)
        return bool((fixed and fixed in t.text) or _rx(kind, lang).search(t.text))

    def reveals_debt(t: TurnView) -> bool:
        text = miranda_rx.sub("", t.text)
        return (t.node in debt_nodes) or bool(_rx("debt", lang).search(text))

    # -- disclosures: who is calling, recorded, before the callee's first answer ------------------------
    first_answer = callee[0].seq if callee else 10**9
    opening = [t for t in agent if t.seq < first_answer] or agent[:1]
    if not any(said("identity", t) for t in opening):
        out.append(Finding(DISCLOSURE_IDENTITY, opening[0].seq,
                           "the opening does not say that an automated assistant of the lender is calling"))
    if not any(said("recorded", t) for t in opening):
        out.append(Finding(DISCLOSURE_RECORDED, opening[0].seq, "the opening does not say the call is recorded",
                           "medium"))

    # -- debt detail only after right-party verification; US collections: mini-Miranda first --------------
    verified_at = next((t.seq for t in agent if t.node in verified_nodes or _rx("verified", lang).search(t.text)), None)
    first_debt = next((t for t in agent if reveals_debt(t)), None)
    if first_debt is not None and (verified_at is None or first_debt.seq < verified_at):
        out.append(Finding(DEBT_BEFORE_VERIFICATION, first_debt.seq,
                           "a debt detail was said before the right party was verified: " + first_debt.text[:120]))
    if call.purpose == "collections" and call.jurisdiction == "US" and first_debt is not None:
        if not any(miranda_rx.search(t.text) for t in agent if t.seq <= first_debt.seq):
            out.append(Finding(MINI_MIRANDA, first_debt.seq, "the mini-Miranda line was not said before the debt"))

    # -- an opt-out is honoured at once: one goodbye, outcome opted_out ------------------------------------
    stop = next((t for t in callee if t.intent == "stop_calling" or _rx("opt_out", lang).search(t.text)), None)
    if stop is not None:
        after = [t for t in agent if t.seq > stop.seq]
        if len(after) > 1 or call.outcome != "opted_out":
            out.append(Finding(OPT_OUT_NOT_HONOURED, stop.seq,
                               f"the callee asked not to be called; the agent said {len(after)} more turn(s) "
                               f"and the call ended as {call.outcome!r}, not 'opted_out'"))

    # -- no payment pressed after a dispute -------------------------------------------------------------------
    dispute = next((t for t in callee if t.intent == "dispute_debt"), None)
    if dispute is not None:
        pressed = next((t for t in agent if t.seq > dispute.seq and _rx("pay_ask", lang).search(t.text)), None)
        if pressed is not None:
            out.append(Finding(PRESSED_AFTER_DISPUTE, pressed.seq,
                               "payment was asked for after the callee disputed the debt: " + pressed.text[:120]))

    # -- the agent yields when the callee talks ---------------------------------------------------------------
    for a in agent:
        if a.interrupted or a.end_ms <= a.start_ms:
            continue
        for c in callee:
            overlap = min(a.end_ms, c.end_ms) - max(a.start_ms, c.start_ms)
            if c.end_ms > c.start_ms and overlap > OVERLAP_MS and c.start_ms >= a.start_ms:
                out.append(Finding(TALKED_OVER_CALLEE, a.seq, f"the agent kept talking {overlap} ms over the "
                                   f"callee (turn {c.seq}) without yielding", "medium"))
                break

    # -- a decisive outcome rests on a confident understanding ------------------------------------------------
    if call.outcome in DECISIVE_OUTCOMES:
        heard = [t for t in callee if t.intent]
        if heard:
            last = heard[-1]
            conf = last.confidence if last.confidence is not None else 0.0
            if conf < call.min_confidence:
                out.append(Finding(LOW_CONFIDENCE_OUTCOME, last.seq,
                                   f"outcome {call.outcome!r} rests on {last.intent!r} understood at confidence "
                                   f"{conf:.2f} (< {call.min_confidence:.2f}) from {last.text[:80]!r}"))
    return out
