"""`dialwise serve` loads (and warms) the call models at start and says so on /health/ready, so the
first call's greeting is not held up by model loading."""
from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from agent.server.app import create_app

pytestmark = pytest.mark.db


def test_readiness_is_503_until_the_models_load(db_url, settings_env):
    with TestClient(create_app(db_url)) as client:  # models load on the first call here
        r = client.get("/health/ready")
        assert r.status_code == 503 and "first call" in r.json()["detail"]
        assert client.get("/health").json()["ready"] is False


@pytest.mark.slow
def test_serve_loads_the_models_at_start(db_url, settings_env):
    with TestClient(create_app(db_url, load_models=True)) as client:
        deadline = time.time() + 120
        r = client.get("/health/ready")
        while r.status_code != 200 and time.time() < deadline:
            assert r.status_code == 503 and "loading" in r.json()["detail"]
            time.sleep(0.2)
            r = client.get("/health/ready")
        assert r.status_code == 200, r.text
        health = client.get("/health").json()
        assert health["ready"] is True and health["models_load_s"] > 0 and health["models_error"] is None
