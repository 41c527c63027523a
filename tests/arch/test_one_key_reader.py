"""One API-key reader (issue 17): `agent.server.auth.key_from` is the only code that reads the
Authorization header or the console's cookie; HTTP routes, the socket gate, /ws/live, /ws/listen and the
softphone all call it. Read from the source, so a new copy is caught when it is written."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READER = "agent/server/auth.py"
# not an API key: the Twilio stand-in checks Twilio's own account credentials (HTTP Basic)
OTHER_CREDENTIALS = {"telephony_adapter/sim/twilio_carrier.py"}

READS = [
    re.compile(r"""\.get\(\s*["']authorization["']""", re.IGNORECASE),  # headers.get("authorization")
    re.compile(r"""headers\[\s*["']authorization["']\s*\]""", re.IGNORECASE),
    re.compile(r"""cookies\.get\(|cookies\["""),  # the console cookie, under any name
    re.compile(r"""["']dialwise_key["']"""),  # the cookie's name, hard-coded
    re.compile(r"""SimpleCookie\("""),  # parsing the Cookie header by hand
]


def _reads() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for package in ("agent", "telephony_adapter"):
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if any(p.search(line) for p in READS):
                    found.setdefault(rel, []).append(f"{n}: {line.strip()}")
    return found


def test_only_auth_key_from_reads_the_key():
    found = _reads()
    assert set(found) - {READER} - OTHER_CREDENTIALS == set(), found
    # the cookie's name (defined once), then the header and the cookie, each read once
    assert [line.split(": ", 1)[1] for line in found[READER]] == [
        'COOKIE_NAME = "dialwise_key"', 'header = conn.headers.get("authorization", "")',
        "return conn.cookies.get(COOKIE_NAME) or None"], found[READER]


def test_every_key_check_calls_the_one_reader():
    for rel in ("agent/server/socket_gate.py", "agent/server/softphone.py"):
        assert "key_from(" in (ROOT / rel).read_text(encoding="utf-8"), rel
    for rel in ("agent/server/live.py", "agent/server/listen.py", "agent/server/softphone.py"):
        assert "socket_principal(" in (ROOT / rel).read_text(encoding="utf-8"), rel
