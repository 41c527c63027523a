"""Log every block with its rule: ComplianceBlock rows when a database is used."""
from __future__ import annotations

from collections.abc import Iterable

from agent.campaign.compliance.gate import check
from agent.campaign.compliance.types import HistoryEvent, ProposedDial, Verdict


def record_block(session, verdict: Verdict, *, account_id: str | None = None,
                 attempt_id: str | None = None, at=None) -> None:
    """Add a ComplianceBlock row for a refused verdict (no-op when allowed). The caller commits."""
    if verdict.allowed:
        return
    from agent.store.models import ComplianceBlock

    row = ComplianceBlock(account_id=account_id, attempt_id=attempt_id, rule=verdict.rule or "unknown",
                          reason=verdict.reason)
    if at is not None:
        row.at = at
    session.add(row)


def check_and_record(session, dial: ProposedDial, history: Iterable[HistoryEvent], rules=None, *,
                     account_id: str | None = None, attempt_id: str | None = None) -> Verdict:
    """The dispatcher's call: judge the dial and, if refused, write the block in `session`."""
    verdict = check(dial, list(history), rules)
    record_block(session, verdict, account_id=account_id, attempt_id=attempt_id)
    return verdict
