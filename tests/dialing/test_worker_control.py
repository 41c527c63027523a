"""Campaign control reaches a running worker within 2 s: start, max_concurrent (counted across all
workers), pause (no new dials; live calls finish). Two worker processes, SQLite and PostgreSQL."""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from agent.store import session_scope
from agent.store.models import Attempt, Campaign
from tests.worker_support import any_url, seed_campaign, spawn_worker, stop, wait_for, wait_ready  # noqa: F401

pytestmark = [pytest.mark.db, pytest.mark.timeout(180)]
REACT_S = 2.0


def _set(url: str, camp_id: str, **values) -> datetime:
    with session_scope(url) as s:
        camp = s.get(Campaign, camp_id)
        for k, v in values.items():
            setattr(camp, k, v)
    return datetime.now(UTC)


def _in_flight(url: str, camp_id: str) -> int:
    with session_scope(url) as s:
        return s.scalar(select(func.count()).select_from(Attempt).where(
            Attempt.campaign_id == camp_id, Attempt.status.in_(("claimed", "dialing"))))


def _dialed_after(url: str, camp_id: str, at: datetime) -> list[datetime]:
    with session_scope(url) as s:
        return [d if d.tzinfo else d.replace(tzinfo=UTC) for d in s.scalars(
            select(Attempt.dialed_at).where(Attempt.campaign_id == camp_id, Attempt.dialed_at.is_not(None)))
            if (d if d.tzinfo else d.replace(tzinfo=UTC)) > at]


def _peak(url: str, camp_id: str, seconds: float) -> int:
    peak, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        peak = max(peak, _in_flight(url, camp_id))
        time.sleep(0.05)
    return peak


def test_start_max_concurrent_and_pause_take_effect_within_2_s(any_url, tmp_path):
    url = any_url
    camp_id, _ = seed_campaign(url, 60, max_concurrent=2, status="paused")
    log = tmp_path / "dials.jsonl"
    procs = [spawn_worker(url, tmp_path, hold=2.5, concurrency=4, log=log, name=f"w{i}") for i in range(2)]
    try:
        for p in procs:
            wait_ready(p)
        time.sleep(1.5)
        assert _dialed_after(url, camp_id, datetime.now(UTC) - timedelta(hours=1)) == []  # paused

        started = _set(url, camp_id, status="running")
        first = wait_for(lambda: _dialed_after(url, camp_id, started), 5, "a dial after start")
        assert (min(first) - started).total_seconds() <= REACT_S
        assert _peak(url, camp_id, 3.0) <= 2  # max_concurrent 2 across both workers (8 lines)

        raised = _set(url, camp_id, max_concurrent=6)
        wait_for(lambda: _in_flight(url, camp_id) >= 6, REACT_S, "6 calls in flight after raising the limit")
        assert _peak(url, camp_id, 2.0) <= 6
        assert raised

        paused = _set(url, camp_id, status="paused")
        time.sleep(REACT_S + 3.0)  # live calls (2.5 s) finish; nothing new is dialled
        assert _dialed_after(url, camp_id, paused + timedelta(seconds=REACT_S)) == []
        assert _in_flight(url, camp_id) == 0
        with session_scope(url) as s:
            assert s.scalar(select(func.count()).select_from(Attempt).where(
                Attempt.campaign_id == camp_id, Attempt.status == "planned")) > 0
    finally:
        codes = [stop(p) for p in procs]
    assert codes == [0, 0]
