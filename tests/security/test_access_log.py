"""Finding 4: what the logs keep. Query strings are decoded, then masked; keys are never logged."""
from __future__ import annotations

import logging
import time

import httpx
import pytest

from agent.server.masking import MaskingFilter, mask_target, mask_text
from tests.security.conftest import auth

pytestmark = pytest.mark.db

PHONE = "8613812345678"
NAME = "张三丰"
KEY = "dw_0a1b2c3d_S3cretS3cretS3cretS3cretS3cretS3cret1234"

TARGETS = [
    f"/api/accounts?q=%2B{PHONE}",
    f"/api/accounts?q=+{PHONE}",
    "/api/accounts?q=%2B86%20138%201234%205678",
    "/api/accounts?q=138-1234-5678",
    "/api/accounts?q=%E5%BC%A0%E4%B8%89%E4%B8%B0",
    "/api/accounts?name=%E5%BC%A0%E4%B8%89%E4%B8%B0&limit=5",
    f"/api/me?key={KEY}",
    f"/api/me?KEY={KEY.replace('_', '%5F')}",
    f"/api/me?token={KEY}&x=1",
    f"/api/calls/%2B{PHONE}",
    f"/api/calls?account_id=%2B{PHONE}",
]


@pytest.mark.parametrize("target", TARGETS)
def test_a_request_target_is_decoded_before_it_is_masked(target):
    shown = mask_target(target)
    assert PHONE not in shown.replace(" ", "").replace("-", "") and "12345678" not in shown
    assert NAME not in shown and "张三" not in shown
    assert "S3cret" not in shown and "%5F" not in shown


def test_uvicorns_own_access_record_is_masked_too():
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5555", "GET", f"/api/accounts?q=%2B{PHONE}&key={KEY}", "1.1", 200),
                               None)
    MaskingFilter().filter(record)
    line = record.getMessage()
    assert PHONE not in line and "S3cret" not in line and "GET /api/accounts?q=+86" in line


def test_keys_and_secrets_are_masked_anywhere_in_a_message():
    assert "S3cret" not in mask_text(f"login with {KEY}") and "dw_0a1b2c3d_***" in mask_text(KEY)
    assert "abcdef" not in mask_text("secret whsec_abcdefABCDEF123")


def test_the_running_servers_log_keeps_no_phone_name_or_key(server):
    key = server.keys["supervisor"]
    with httpx.Client(base_url=server.base, headers=auth(key)) as c:
        for target in TARGETS:
            c.get(target)
        c.get(f"/api/me?key={key}")
        c.get("/api/me", headers={"Authorization": f"Bearer {key}x"})  # a wrong key
    time.sleep(0.5)
    log = server.log()
    assert "GET /api/accounts?q=" in log  # the requests were logged
    assert PHONE not in log and "12345678" not in log and NAME not in log
    assert "%E5%BC%A0" not in log and "%2B86" not in log
    assert key not in log and key.split("_", 2)[2] not in log and "S3cret" not in log
