"""Fixtures of the security suite: the app on real SQLite / PostgreSQL with a key per scope, and a real
`uvicorn` process for what only a real server shows (shutdown, its own access log)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from agent.server.app import create_app
from agent.server.auth import create_key
from agent.store.db import session_scope
from telephony_adapter.sim.procs import stop_process
from tests.ports import free_port
from tests.server_helpers import backends, drop_schema, make_database_url

ROOT = Path(__file__).resolve().parents[2]


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_problem(resp: httpx.Response, status: int) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.text[:300])
    assert resp.headers["content-type"].startswith("application/problem+json")
    doc = resp.json()
    assert doc["status"] == status and doc["detail"] and "Traceback" not in resp.text
    return doc


@pytest.fixture(params=backends())
def db_url(request, tmp_path):
    url = make_database_url(tmp_path, request.param)
    yield url
    drop_schema(url)


@pytest.fixture
def env(db_url, tmp_path):
    app = create_app(db_url)
    keys = {}
    with session_scope(db_url) as s:
        for scope in ("admin", "supervisor", "crm"):
            keys[scope], _ = create_key(s, scope)
    with TestClient(app) as client:
        yield {"url": db_url, "client": client, "keys": keys, "tmp": tmp_path, "app": app}


class Server:
    """`uvicorn agent.server.app:create_app` in its own process, logging to a file."""

    def __init__(self, url: str, tmp: Path, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / "server.log"
        env = {**os.environ, "DATABASE_URL": url, "VAR_DIR": str(tmp / "var"), "PYTHONPATH": str(ROOT),
               "SERVE_DIALS": "false", **(extra_env or {})}
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "agent.server.app:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "info"],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("the server exited:\n" + self.log())
            try:
                if httpx.get(self.base + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("the server did not come up:\n" + self.log())

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        stop_process(self.proc, grace_s=15)
        self._log.close()


@pytest.fixture
def server(db_url, tmp_path):
    from agent.server.app import prepare_database

    prepare_database(db_url)
    keys = {}
    with session_scope(db_url) as s:
        for scope in ("admin", "supervisor", "crm"):
            keys[scope], _ = create_key(s, scope)
    srv = Server(db_url, tmp_path)
    srv.keys = keys
    srv.db_url = db_url
    yield srv
    srv.stop()
