"""Engine and session factory. One engine per URL per process; no other global state."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from agent.config import get_settings


@lru_cache(maxsize=8)
def engine_for(db_url: str) -> Engine:
    if db_url.startswith("sqlite"):
        path = db_url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        eng = create_engine(db_url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(eng, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # durable and concurrent enough for one machine
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return eng
    return create_engine(db_url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def get_engine(db_url: str | None = None) -> Engine:
    return engine_for(db_url or get_settings().resolved_database_url())


@lru_cache(maxsize=8)
def _factory(db_url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=engine_for(db_url), expire_on_commit=False)


@contextmanager
def session_scope(db_url: str | None = None) -> Iterator[Session]:
    """A short transaction: commit on success, roll back on any error."""
    s = _factory(db_url or get_settings().resolved_database_url())()
    try:
        yield s
        s.commit()
    except BaseException:
        s.rollback()
        raise
    finally:
        s.close()
