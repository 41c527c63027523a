"""Every code the console shows, with its label in English and Chinese: one vocabulary, from the code.

Outcomes come from dialogs/outcomes.py, audit rules from agent/lifecycle/audit_rules.py and gate rules
from agent/campaign/compliance/rules.py; `labels()` refuses to answer if one of them lacks a label, and a
test holds every code to a label in both languages.
"""
from __future__ import annotations

from typing import Any

from agent.campaign.compliance.rules import RULE_IDS
from agent.lifecycle.audit_rules import AUDIT_RULES
from dialogs.outcomes import CALL_OUTCOMES
from nlu.types import intent_names

LANGS = ("en", "zh")

OUTCOMES: dict[str, tuple[str, str]] = {
    "ptp": ("Promise to pay", "承诺还款"), "paid_already": ("Already paid", "已还款"),
    "refused": ("Refused", "拒绝还款"), "dispute": ("Dispute", "提出异议"),
    "wrong_number": ("Wrong number", "号码错误"), "third_party": ("Third party", "第三方接听"),
    "callback": ("Call back", "要求回拨"), "transferred": ("Transferred", "已转人工"),
    "opted_out": ("Opted out", "拒绝来电"), "voicemail": ("Voicemail", "语音信箱"),
    "no_answer": ("No answer", "无人接听"), "hung_up": ("Hung up", "客户挂断"),
    "converted": ("Converted", "成交"), "not_interested": ("Not interested", "不感兴趣"),
    "completed": ("Reminder delivered", "提醒已送达"), "unverified": ("Not verified", "身份未核实"),
}
STATUSES = {"created": ("Created", "已创建"), "live": ("Live", "通话中"), "ended": ("Ended", "已结束")}
END_REASONS = {
    "completed": ("Completed", "正常结束"), "error": ("Error", "出错"), "hangup": ("Callee hung up", "客户挂断"),
    "hung_up": ("Callee hung up", "客户挂断"), "max_duration": ("Maximum length", "达到最长时长"),
    "no_answer": ("No answer", "无人接听"), "protocol_error": ("Protocol error", "协议错误"),
    "silence": ("Silence", "长时间无声"), "transferred": ("Transferred", "已转人工"),
}
AUDIT = {
    "audit_disclosure_identity": ("The agent did not say who it is", "坐席未表明身份"),
    "audit_disclosure_recorded": ("Recording not disclosed", "未告知录音"),
    "audit_mini_miranda": ("Mini-Miranda not said before the debt", "提及欠款前未做催收声明"),
    "audit_debt_before_verification": ("Debt detail before verification", "核实身份前透露欠款信息"),
    "audit_opt_out_not_honoured": ("Opt-out not honoured at once", "未立即执行拒绝来电请求"),
    "audit_payment_pressed_after_dispute": ("Payment pressed after a dispute", "客户提出异议后仍催促还款"),
    "audit_talked_over_callee": ("Talked over the callee", "抢话（打断客户）"),
    "audit_low_confidence_outcome": ("Outcome on a low-confidence understanding", "结果依据低置信度的理解"),
}
GATE_RULES = {
    "invalid_input": ("Invalid dial request", "拨打请求无效"),
    "dnc_list": ("On the do-not-call list", "在禁止呼叫名单中"),
    "opt_out": ("Opted out", "已拒绝来电"), "holiday": ("Public holiday", "法定节假日"),
    "cn_calling_hours": ("Outside calling hours (CN 08:00–22:00)", "不在允许拨打时段（8:00–22:00）"),
    "us_calling_hours": ("Outside calling hours (US 08:00–21:00)", "不在允许拨打时段（美国 8:00–21:00）"),
    "us_telemarketing_consent": ("No telemarketing consent (US)", "无营销来电同意（美国）"),
    "marketing_refusal": ("Refused marketing before", "曾明确拒绝营销"),
    "third_party_disclosure": ("No debt talk with a third party", "不得向第三方透露欠款"),
    "cn_third_party_debtor_reachable": ("Debtor reachable: no third-party call", "本人可联系，不得联系第三方"),
    "cn_daily_conversations": ("Daily conversations reached (3)", "当日有效通话已达上限（3 次）"),
    "cn_daily_attempts_per_number": ("Daily attempts per number reached (6)", "当日该号码拨打次数已达上限（6 次）"),
    "us_7_in_7": ("7 calls in 7 days reached", "7 天内已拨打 7 次"),
    "us_7_days_after_conversation": ("Within 7 days of a conversation", "距上次通话不足 7 天"),
    "campaign_max_attempts": ("Campaign attempts used up", "任务拨打次数已用完"),
    "callback_pending": ("A call-back is pending", "客户要求稍后回拨"),
    "cn_telesales_consent": ("No telesales consent (CN)", "无营销来电同意"),
    "promise_pending": ("A promise to pay is pending", "还款承诺履约期内"),
    "payment_received": ("Payment received", "已收到还款"),
}
SPEAKERS = {"agent": ("Agent", "坐席"), "callee": ("Callee", "客户")}
ENTITIES = {
    "amount": ("Amount", "金额"), "date": ("Date", "日期"), "time": ("Time", "时间"),
    "currency": ("Currency", "币种"), "id_last4": ("ID digits", "证件后四位"),
    "given_last4": ("ID digits given", "提供的证件后四位"),
    "phone": ("Phone", "电话"), "name": ("Name", "姓名"), "reason": ("Reason", "原因"),
    "relative_date": ("Relative date", "相对日期"), "duration": ("Duration", "时长"), "number": ("Number", "数字"),
    "percent": ("Percent", "百分比"), "last4": ("ID digits", "证件后四位"), "installments": ("Installments", "分期数"),
}
LATENCY = {
    "asr_ms": ("speech recognition", "语音识别"), "nlu_ms": ("understanding", "语义理解"),
    "policy_ms": ("decision", "决策"), "tts_first_ms": ("first speech", "首句合成"),
    "voice_to_voice_ms": ("voice to voice", "端到端响应"), "asr_speculative": ("speculative recognition", "预判识别"),
}
INTENTS = {
    "confirm_identity": ("Confirms identity", "确认身份"), "wrong_number": ("Wrong number", "打错了"),
    "third_party": ("Third party", "非本人"), "ask_who_calling": ("Asks who is calling", "询问来电方"),
    "ask_if_robot": ("Asks if a robot", "询问是否机器人"), "repeat_request": ("Asks to repeat", "请求重复"),
    "affirm": ("Yes", "肯定"), "deny": ("No", "否定"), "call_back_later": ("Call back later", "稍后再打"),
    "request_human": ("Asks for a person", "要求人工"), "stop_calling": ("Stop calling", "不要再打"),
    "complaint": ("Complaint", "投诉"), "scam_suspicion": ("Suspects a scam", "怀疑诈骗"),
    "ask_amount_due": ("Asks amount due", "询问欠款金额"), "ask_due_date": ("Asks due date", "询问还款日"),
    "promise_to_pay": ("Promise to pay", "承诺还款"), "already_paid": ("Already paid", "已经还了"),
    "cannot_pay": ("Cannot pay", "无力还款"), "request_installment": ("Asks for installments", "申请分期"),
    "dispute_debt": ("Disputes the debt", "对欠款有异议"), "ask_payment_method": ("Asks how to pay", "询问还款方式"),
    "interested": ("Interested", "有兴趣"), "not_interested": ("Not interested", "不感兴趣"),
    "ask_interest_rate": ("Asks interest rate", "询问利率"), "ask_credit_limit": ("Asks credit limit", "询问额度"),
    "how_to_apply": ("Asks how to apply", "询问如何申请"), "out_of_scope": ("Out of scope", "无关话题"),
}
# review tags a supervisor picks from (free tags are allowed too)
TAGS = {
    "complaint": ("Complaint", "投诉"), "coaching": ("Coaching", "需辅导"),
    "good_example": ("Good example", "优秀范例"),
    "script_issue": ("Script issue", "话术问题"), "asr_error": ("Recognition error", "识别错误"),
    "escalate": ("Escalate", "需升级处理"), "vulnerable": ("Vulnerable customer", "特殊关怀客户"),
}
QUEUE_REASONS = {
    "finding": ("Audit finding", "质检问题"), "complaint": ("Complaint or dispute", "投诉或异议"),
    "low_confidence": ("Low confidence", "置信度低"),
}
# the default QA scorecard: each item 0 (no) .. 1 (yes), or 0..max for a scale
DEFAULT_SCORECARD: list[dict[str, Any]] = [
    {"id": "disclosure", "en": "Disclosure said", "zh": "已做必要告知", "weight": 1, "max": 1},
    {"id": "verification", "en": "Verification done", "zh": "已核实身份", "weight": 1, "max": 1},
    {"id": "tone", "en": "Tone", "zh": "语气态度", "weight": 1, "max": 5},
    {"id": "outcome_correct", "en": "Outcome correct", "zh": "结果判定正确", "weight": 1, "max": 1},
]

GROUPS = {"outcome": OUTCOMES, "status": STATUSES, "end_reason": END_REASONS, "audit": AUDIT,
          "gate": GATE_RULES, "speaker": SPEAKERS, "entity": ENTITIES, "latency": LATENCY, "tag": TAGS,
          "intent": INTENTS,
          "queue": QUEUE_REASONS}
CODE_SOURCES = {"outcome": CALL_OUTCOMES, "audit": AUDIT_RULES, "gate": RULE_IDS, "intent": tuple(intent_names())}


def missing_labels() -> list[str]:
    """Codes of the code base that have no label here (a test keeps this empty)."""
    return [f"{group}:{code}" for group, codes in CODE_SOURCES.items() for code in codes
            if code not in GROUPS[group]]


def labels() -> dict[str, Any]:
    """{"outcome": {"ptp": {"en": ..., "zh": ...}}, ..., "outcomes": [codes in order]}"""
    out: dict[str, Any] = {g: {code: dict(zip(LANGS, pair, strict=True)) for code, pair in table.items()}
                           for g, table in GROUPS.items()}
    out["outcomes"] = list(CALL_OUTCOMES)
    out["statuses"] = list(STATUSES)
    out["tags"] = list(TAGS)
    return out
