"""Durable storage: SQLAlchemy models, sessions, and Alembic migrations."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from agent.store import lifecycle_models as _lifecycle_models  # noqa: F401  (its tables share models.Base)
from agent.store import review_models as _review_models  # noqa: F401  (its tables share models.Base)
from agent.store.db import get_engine, session_scope

MIGRATIONS = Path(__file__).with_name("migrations")

__all__ = ["init_db", "alembic_config", "get_engine", "session_scope"]


def alembic_config(db_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", db_url.replace("%", "%%"))
    return cfg


def init_db(db_url: str | None = None) -> str:
    """Bring the database at `url` (default: settings) to the newest schema. Idempotent."""
    from agent.config import get_settings

    db_url = db_url or get_settings().resolved_database_url()
    engine = get_engine(db_url)
    with engine.begin() as conn:
        cfg = alembic_config(db_url)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return db_url
