"""One call-outcome vocabulary (dialogs/outcomes.py): every part judges outcomes by the same groups, and
the two decisions that used to differ between copies are pinned here."""
from __future__ import annotations

from datetime import UTC, datetime

from dialogs import outcomes as O


def test_every_copy_is_the_vocabulary():
    from agent.campaign import audit, portfolio, report
    from agent.campaign.compliance import outcomes as compliance
    from agent.campaign.scores import features
    from agent.server import stats
    from dialogs import types

    assert types.OUTCOMES is O.CALL_OUTCOMES
    assert portfolio.OUTCOMES is features.OUTCOMES is O.HISTORY_OUTCOMES
    copies = (compliance.RIGHT_PARTY_OUTCOMES, audit.RIGHT_PARTY, features.RIGHT_PARTY, stats.RIGHT_PARTY,
              report.RIGHT_PARTY)
    assert all(c is O.RIGHT_PARTY for c in copies)
    assert compliance.REFUSAL_OUTCOMES is audit.REFUSAL is O.REFUSAL
    assert stats.NOT_CONNECTED == O.NOT_CONNECTED | O.NOT_PLACED
    known = set(O.CALL_OUTCOMES) | set(O.HISTORY_OUTCOMES)
    for group in (O.NOT_CONNECTED, O.WRONG_PARTY, O.RIGHT_PARTY, O.REFUSAL, O.NEGATIVE, O.PROMISE_OR_PAID,
                  O.SUCCESS, O.SCRIPT_SUCCESS, O.STICKY):
        assert group <= known, group - known


def test_a_completed_reminder_is_a_right_party_contact_everywhere():
    from agent.campaign.compliance import events_for_outcome

    assert "completed" in O.RIGHT_PARTY  # the audit, the features and the stats used to say no
    at = datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert [e.type for e in events_for_outcome(at, "completed", "+8613900000000", None)] == ["conversation"]


def test_paid_already_is_a_success_of_the_call_not_of_the_script():
    from agent.campaign.portfolio import OUTCOME_CODE, SUCCESS

    assert "paid_already" in O.SUCCESS and "paid_already" not in O.SCRIPT_SUCCESS
    assert sorted(SUCCESS) == sorted([OUTCOME_CODE["ptp"], OUTCOME_CODE["converted"]])


def test_campaign_stats_count_a_completed_call_as_right_party(db_url):
    from agent.server.stats import campaign_stats
    from agent.store import session_scope
    from agent.store.models import Account, Call, Campaign

    with session_scope(db_url) as s:
        acc = Account(name="Wang Fang", phone="+8613900000000")
        camp = Campaign(name="reminders")
        s.add_all([acc, camp])
        s.flush()
        for outcome in ("completed", "paid_already", "no_answer"):
            s.add(Call(account_id=acc.id, script_id="s", language="zh", transport="loopback",
                       campaign_id=camp.id, outcome=outcome, status="ended"))
        s.flush()
        stats = campaign_stats(s, camp.id)
    funnel = {stage["stage"]: stage["count"] for stage in stats["funnel"]}
    assert funnel["right_party"] == 2  # completed and paid_already
    assert funnel["promise_or_conversion"] == 1  # paid_already: the call's goal reached
