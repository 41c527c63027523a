"""The console in real headless Chromium, shared by the console end-to-end tests (tests/*/test_*console_e2e.py):
a seeded database behind a live uvicorn server (`site`), the browser (`browser`), and `wait_for`."""
from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from agent.server.app import create_app
from agent.server.auth import create_key
from agent.store.db import session_scope
from agent.store.models import Call
from tests.ports import free_port as _free_port
from tests.server_helpers import add_attempt, seed_call, seed_campaign

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--autoplay-policy=no-user-gesture-required"]


def wait_for(page, expression: str, timeout: float = 10000) -> None:
    """Poll a page expression from outside: the console's Content-Security-Policy forbids the string
    evaluation that Playwright's in-page wait_for_function polling relies on."""
    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} ms: {expression}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    import uvicorn

    tmp = tmp_path_factory.mktemp("console")
    url = f"sqlite:///{tmp / 'console.sqlite3'}"
    app = create_app(url)
    with session_scope(url) as s:
        key, _ = create_key(s, "admin")
    camp = seed_campaign(url, "十一月 M1 催收")
    now = datetime.now(UTC).replace(hour=2, minute=0)  # 10:00 in Shanghai
    zh = seed_call(url, tmp, language="zh", outcome="ptp", campaign_id=camp, variant="A", started_at=now)
    en = seed_call(url, tmp, language="en", outcome="refused", campaign_id=camp, variant="B",
                   started_at=now - timedelta(hours=1))
    with session_scope(url) as s:
        acc = s.get(Call, zh).account_id
    for result in ("answered", "answered", "no_answer"):
        add_attempt(url, camp, acc, result)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           ws="websockets"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started
    yield {"base": f"http://127.0.0.1:{port}", "key": key, "url": url, "tmp": tmp, "camp": camp,
           "zh": zh, "en": en}
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()
