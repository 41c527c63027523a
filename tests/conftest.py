"""Shared fixtures. Databases: a fresh SQLite file per test by default; with DATABASE_URL set to a
PostgreSQL URL, the `db_url` fixture gives each test its own schema in that database instead."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest

FIXTURE_VOICES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "telephony_adapter", "sim", "voices")


def _pg_base() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith("postgresql") else None


@pytest.fixture
def db_url(tmp_path) -> Iterator[str]:
    """A migrated, empty database for one test: SQLite, or a fresh PostgreSQL schema."""
    from agent.store import init_db

    base = _pg_base()
    if base is None:
        url = f"sqlite:///{tmp_path}/test.sqlite3"
        init_db(url)
        yield url
        return
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    init_db(url)
    try:
        yield url
    finally:
        from agent.store.db import engine_for

        engine_for(url).dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def settings_env(tmp_path, monkeypatch, db_url):
    """Point the process settings at a temporary var dir and the test database."""
    from agent.config import get_settings

    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


# --- Parallel runs (pytest-xdist; tools/test.sh, README "Tests") ---------------------------------------------
# tools/test.sh runs the suite in two phases: `--phase parallel` on several xdist workers with `--dist loadgroup`,
# then `--phase serial` on one process, alone on the machine. A plain `pytest` (no --phase) runs everything.
#
# - Every module is one xdist group, so its module fixtures (models, servers, a browser) are built once, on one
#   worker; a module listed in SPREAD has cheap, independent tests and is spread over all workers.
# - SAME_WORKER modules share one group, because they use fixed port ranges (PJSIP's RTP ports) or another
#   resource that two processes must not hold at once.
# - SERIAL modules (or single tests, as `path::name`) assert real-time bounds (latency, reaction time,
#   wall-clock seeking): they get the `serial` marker and run in the serial phase, so other workers' load
#   cannot make them flaky. Tests that only wait on real time within generous limits stay parallel.
SPREAD = {
    "tests/nlu/test_nlu_entities.py",
    "tests/dialogs/test_dialog_render.py",
    "tests/dialogs/test_dialog_policy.py",
    "tests/security/test_webhook_destinations.py",
    "tests/campaign/test_compliance_gate.py",
    "tests/session/test_call_session.py",  # ~4 min of real-time calls: each worker loads the models once
}
SAME_WORKER = {
    # PJSIP media in RTP ports 42000-42999 (the test carrier 43000-43799); the campaign test runs a SIP
    # worker process: all on one xdist worker, so SIP calls never compete with each other for the cores
    "sip": ("tests/telephony/test_tel_sip.py", "tests/telephony/test_tel_sip_auth.py",
            "tests/telephony/test_tel_sip_campaign.py", "tests/telephony/test_tel_sip_lifetime.py",
            "tests/telephony/test_tel_baresip_callee.py"),
}
SERIAL = {
    "tests/telephony/test_sim_loopback.py",  # heard latency within 280-380 ms
    "tests/telephony/test_tel_sip_carrier.py",  # greeting < 400 ms, voice-to-voice 200-600 ms; RTP 43000-43799
    # two tests of the module: its voicemail, silence, hang-up and dead-line tests wait on real-time audio
    # with generous limits, and run spread over the parallel workers
    "tests/session/test_call_session.py::test_barge_in_stops_the_agent_within_200ms",  # stops within 200 ms
    # the simulated callee must hear each prompt through its own Whisper before the agent's silence re-prompt
    "tests/session/test_call_session.py::test_full_calls_with_simulated_customers_in_zh_and_en_at_once",
    "tests/session/test_session_turns.py",  # turn taken within 350-600 ms windows
    "tests/session/test_first_call_greeting.py",  # a fresh process's first greeting within 5x the later ones'
    "tests/dialing/test_worker_control.py",  # a paused campaign stops dialling within 2 s
    "tests/server/test_server_console_e2e.py",  # the player seeks within 0.5 s
    "tests/dialing/test_dial_rate.py",  # dials at least 0.25 s apart (the carrier's CPS)
    "tests/dialing/test_worker_race.py",  # two worker processes must each win a share of 200 attempts
    "tests/campaign/test_demo_cli.py",  # the demo's simulated callees answer real-time speech within limits
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--phase", choices=("parallel", "serial"), default=None,
                     help="run only the parallel-safe tests, or only the timing-sensitive `serial` ones")


# The parallel phase hands out modules in collection order (alphabetical). tests/telephony/ comes last, when the
# phase's load falls off: its real-time calls (SIP campaign, Twilio carrier) failed when they were moved to the
# front, into the burst of every worker loading its models (session 8).
def _module_path(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


@pytest.hookimpl(tryfirst=True)  # before xdist's worker hook reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    group_of = {path: name for name, paths in SAME_WORKER.items() for path in paths}
    for item in items:
        path = _module_path(item)
        if path in SERIAL or item.nodeid.split("[", 1)[0] in SERIAL:
            item.add_marker(pytest.mark.serial)
        if path not in SPREAD and not any(True for _ in item.iter_markers("xdist_group")):
            item.add_marker(pytest.mark.xdist_group(group_of.get(path, path)))
    phase = config.getoption("--phase")
    if phase is None:
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        serial = item.get_closest_marker("serial") is not None
        (keep if serial == (phase == "serial") else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
