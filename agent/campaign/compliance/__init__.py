"""The one compliance gate. Every dial passes `check` at planning time and again before dialling.

    from agent.campaign.compliance import check, ProposedDial, HistoryEvent
    verdict = check(dial, history)            # Verdict(allowed, rule, reason)

Rule ids are stable (see rules.py). Blocks are logged (logger "dialwise.compliance") and written
as ComplianceBlock rows through `check_and_record` when a database session is at hand.
"""
from agent.campaign.compliance.gate import check, zone
from agent.campaign.compliance.holidays import HolidayCalendar
from agent.campaign.compliance.outcomes import REFUSAL_OUTCOMES, RIGHT_PARTY_OUTCOMES, events_for_outcome
from agent.campaign.compliance.record import check_and_record, record_block
from agent.campaign.compliance.rules import RULE_IDS, RulePack, Rules, default_rules, load_rules
from agent.campaign.compliance.types import ALLOWED, HistoryEvent, ProposedDial, Verdict
from agent.campaign.compliance.wire import check_line, dial_from_json

__all__ = [
    "ALLOWED", "HistoryEvent", "HolidayCalendar", "ProposedDial", "REFUSAL_OUTCOMES", "RIGHT_PARTY_OUTCOMES",
    "RULE_IDS", "RulePack", "Rules", "Verdict", "check", "check_and_record", "check_line", "default_rules",
    "dial_from_json", "events_for_outcome",
    "load_rules", "record_block", "zone",
]
