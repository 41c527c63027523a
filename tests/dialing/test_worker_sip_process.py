"""What a call-running process does when it may run SIP calls: CPython's GIL switch interval comes from
GIL_SWITCH_INTERVAL_MS (1 ms when the sip network is enabled, else Python's own), set by the worker runtime
that `dialwise worker` and `dialwise serve`'s embedded worker share; and it runs at most PJSUA_MAX_CALLS lines
(what the pjsua2 wheel holds per process), saying so in its log. No models, no SIP peer: `dialwise worker`
itself is driven over SIP in tests/telephony/test_tel_sip_campaign.py."""
from __future__ import annotations

import asyncio
import logging
import sys

import pytest

from agent.config import Settings
from agent.dialing.sip import PJSUA_MAX_CALLS
from agent.worker.embed import ServerWorker
from agent.worker.hold import HoldDialer
from agent.worker.runtime import Runtime, line_count

pytestmark = pytest.mark.timeout(60)
PYTHON_DEFAULT_S = 0.005


@pytest.fixture(autouse=True)
def python_s_own_interval():
    saved = sys.getswitchinterval()
    sys.setswitchinterval(PYTHON_DEFAULT_S)
    yield
    sys.setswitchinterval(saved)


def test_the_interval_follows_the_sip_network_and_the_setting():
    assert Settings().switch_interval_s() is None  # loopback only: Python's own
    assert Settings(dial_network="sip").switch_interval_s() == pytest.approx(0.001)
    assert Settings(sip_trunk_uri="sip:10.0.0.5").switch_interval_s() == pytest.approx(0.001)  # campaigns may name sip
    assert Settings(dial_network="sip", gil_switch_interval_ms=2.5).switch_interval_s() == pytest.approx(0.0025)
    assert Settings(gil_switch_interval_ms=3).switch_interval_s() == pytest.approx(0.003)  # asked for: set anyway
    with pytest.raises(ValueError):
        Settings(gil_switch_interval_ms=0)


def test_sip_lines_are_capped_at_what_one_process_holds(caplog):
    caplog.set_level(logging.WARNING, "dialwise.worker")
    assert line_count(Settings(), 8) == 8
    assert line_count(Settings(dial_network="sip"), 3) == 3 and not caplog.records
    assert line_count(Settings(dial_network="sip"), 8) == PJSUA_MAX_CALLS == 4
    assert "8 lines asked, 4 run" in caplog.text and "more `dialwise worker` processes" in caplog.text


def test_the_worker_runtime_sets_the_interval_and_its_lines(db_url, caplog):
    caplog.set_level(logging.INFO, "dialwise.worker")

    async def run(settings: Settings) -> tuple[float, int]:
        rt = Runtime(kind="worker", db_url=db_url, take_attempts=False, concurrency=8, settings=settings,
                     dialers=lambda network: HoldDialer(0.1, db_url=db_url))
        await rt.start()
        try:
            return sys.getswitchinterval(), rt.concurrency
        finally:
            await rt.stop(grace=1)

    assert asyncio.run(run(Settings(database_url=db_url))) == (PYTHON_DEFAULT_S, 8)
    interval, lines = asyncio.run(run(Settings(database_url=db_url, dial_network="sip")))
    assert interval == pytest.approx(0.001) and lines == 4
    assert "GIL switch interval 1.0 ms (the sip network is enabled)" in caplog.text


def test_serve_s_embedded_worker_sets_it_from_the_environment(db_url, monkeypatch):
    from agent.config import get_settings

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("GIL_SWITCH_INTERVAL_MS", "2")
    get_settings.cache_clear()

    async def run() -> float:
        worker = ServerWorker(db_url, dials=False, dialers=lambda network: HoldDialer(0.1, db_url=db_url))
        await worker.start()
        try:
            return sys.getswitchinterval()
        finally:
            await worker.stop()

    try:
        assert asyncio.run(run()) == pytest.approx(0.002)
    finally:
        get_settings.cache_clear()
