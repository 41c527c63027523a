"""Every block is written as a ComplianceBlock row with its rule when a database is used."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from agent.campaign.compliance import HistoryEvent, ProposedDial, check_and_record
from agent.store.models import Base, ComplianceBlock


def test_blocks_are_recorded_with_their_rule_and_allowed_dials_are_not():
    eng = create_engine("sqlite://")
    Base.metadata.create_all(eng)
    night = ProposedDial("CN", "collections", datetime.fromisoformat("2025-03-04T23:00:00+08:00"), "Asia/Shanghai",
                         "+8613800000001", "acc1")
    day = ProposedDial("CN", "collections", datetime.fromisoformat("2025-03-04T10:00:00+08:00"), "Asia/Shanghai",
                       "+8613800000001", "acc1")
    opted = [HistoryEvent(datetime.fromisoformat("2025-03-01T10:00:00+08:00"), "opt_out", "+8613800000001", "acc1")]
    with Session(eng) as s:
        assert not check_and_record(s, night, [], account_id="acc1", attempt_id="att1").allowed
        assert check_and_record(s, day, [], account_id="acc1", attempt_id="att2").allowed
        assert not check_and_record(s, day, opted, account_id="acc1", attempt_id="att3").allowed
        s.commit()
        rows = s.scalars(select(ComplianceBlock).order_by(ComplianceBlock.id)).all()
    assert [(r.attempt_id, r.rule) for r in rows] == [("att1", "cn_calling_hours"), ("att3", "opt_out")]
    assert all(r.reason and r.account_id == "acc1" for r in rows)
