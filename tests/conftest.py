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
