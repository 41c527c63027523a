"""A carrier's calls-per-second limit holds across every worker: slots come from the database."""
from __future__ import annotations

import multiprocessing as mp
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from agent.dialing.rate import claim_slot
from agent.runner import run_attempts
from agent.store import session_scope
from agent.store.models import Attempt, Campaign
from tests.dial_support import RecordingDialer, add_account

pytestmark = pytest.mark.db


def _take(args):
    db_url, n = args
    claimed: list[float] = []
    while len(claimed) < n:
        at, wait = claim_slot("twilio:ACtest", 10.0, db_url=db_url)
        if at is None:
            time.sleep(wait)
        else:
            claimed.append(at.timestamp())
    return claimed


def test_processes_taking_slots_together_never_exceed_the_limit(db_url):
    with mp.get_context("spawn").Pool(3) as pool:
        slots = sorted(s for chunk in pool.map(_take, [(db_url, 6)] * 3) for s in chunk)
    assert len(slots) == 18
    gaps = [b - a for a, b in pairwise(slots)]
    assert min(gaps) >= 0.1 - 1e-6, gaps  # 10 a second, whoever asked
    with pytest.raises(ValueError):
        claim_slot("x", 0, db_url=db_url)


def test_a_slot_that_is_not_due_is_not_taken_and_says_how_long_to_wait(db_url):
    t0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    assert claim_slot("k", 4.0, now=t0, db_url=db_url) == (t0, 0.0)
    at, wait = claim_slot("k", 4.0, now=t0 + timedelta(seconds=0.1), db_url=db_url)
    assert at is None and abs(wait - 0.15) < 1e-6
    # a dial that comes late is claimed when it comes; the next one is a full gap after it
    late = t0 + timedelta(seconds=1)
    assert claim_slot("k", 4.0, now=late, db_url=db_url) == (late, 0.0)
    at, wait = claim_slot("k", 4.0, now=late + timedelta(seconds=0.2), db_url=db_url)
    assert at is None and abs(wait - 0.05) < 1e-6


async def test_a_campaign_dials_no_faster_than_its_carrier_allows(db_url):
    with session_scope(db_url) as s:
        camp = Campaign(name="c", status="running", max_concurrent=8)
        s.add(camp)
        s.flush()
        cid = camp.id
    for i in range(5):
        acc = add_account(db_url, phone=f"+1415555020{i}")
        with session_scope(db_url) as s:
            s.add(Attempt(campaign_id=cid, account_id=acc, script_id="collections_m1_en_a",
                          phone=f"+1415555020{i}", not_before=datetime.now(UTC)))
    dialer = RecordingDialer(rate_limit=("carrier:test", 4.0))
    await run_attempts(campaign_id=cid, deps=None, dialer=dialer, concurrency=8, db_url=db_url)  # type: ignore[arg-type]
    times = sorted(dialer.dialled_at)
    assert len(times) == 5
    assert min(b - a for a, b in pairwise(times)) >= 0.25 - 0.02, times
