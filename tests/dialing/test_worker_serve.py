"""A server killed mid-call leaves no ghost: after a restart its previous process's live call has ended
as interrupted (turns kept) before the API answers, and the attempt is not dialled again."""
from __future__ import annotations

import signal
import subprocess
import sys

import httpx
import pytest
from sqlalchemy import func, select

from agent.store import session_scope
from agent.store.models import Attempt, Call, Turn, Worker
from agent.worker.hold import read_log
from tests.ports import free_port as _free_port
from tests.worker_support import ROOT, any_url, seed_campaign, wait_for, worker_env  # noqa: F401

pytestmark = [pytest.mark.db, pytest.mark.timeout(180)]


def _serve(url, tmp, port: int, hold: float, log, name: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.worker_serve_app", str(port), str(hold), str(log)],
                            cwd=ROOT, env=worker_env(url, tmp), stdout=subprocess.DEVNULL,
                            stderr=open(tmp / f"{name}.stderr", "wb"))


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _call(url, attempt_id):
    with session_scope(url) as s:
        return s.scalar(select(Call).where(Call.attempt_id == attempt_id))


def _turns(url, call_id) -> int:
    with session_scope(url) as s:
        return s.scalar(select(func.count()).select_from(Turn).where(Turn.call_id == call_id)) or 0


def test_a_restarted_server_ends_the_ghost_call_of_its_killed_process(any_url, tmp_path):
    url = any_url
    _, (attempt_id,) = seed_campaign(url, 1)
    log, port = tmp_path / "dials.jsonl", _free_port()
    first = _serve(url, tmp_path, port, 120, log, "first")
    call = wait_for(lambda: (c := _call(url, attempt_id)) and c.status == "live" and c, 60, "a live call")
    # a turn is saved before the kill (under load the first one can lag the call going live), so the
    # check below shows that the kill keeps it
    wait_for(lambda: _turns(url, call.id) >= 1, 60, "the call's first saved turn")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    assert _call(url, attempt_id).status == "live"  # the ghost, until a server starts again

    second = _serve(url, tmp_path, port, 0.5, log, "second")
    try:
        wait_for(lambda: _healthy(port), 60, "the restarted server")
        ended = _call(url, attempt_id)
        assert (ended.status, ended.outcome, ended.end_reason) == ("ended", "interrupted", "interrupted")
        assert _turns(url, call.id) >= 1
        with session_scope(url) as s:
            assert s.get(Attempt, attempt_id).status == "failed"
    finally:
        second.send_signal(signal.SIGTERM)
        code = second.wait(timeout=30)
    assert code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down cleanly
    with session_scope(url) as s:
        assert s.scalar(select(func.count()).select_from(Worker).where(Worker.stopped_at.is_(None))) == 0
    assert [e["attempt_id"] for e in read_log(log) if e["event"] == "dial"] == [attempt_id]
