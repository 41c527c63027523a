"""Digest authentication of the SIP user agent against an independent peer: SIPp (Debian `sip-tester`) as a
registrar that challenges REGISTER with 401 and verifies the digest (`<verifyauth>`), and as a trunk that
challenges INVITE with 407. Scenarios: tests/sipp/. SIPp is installed with apt when missing (tools/setup.sh
lists it); the tests skip, saying why, only where that cannot be done."""
from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from telephony_adapter.sim.baresip import free_udp_port
from telephony_adapter.sim.procs import stop_process
from telephony_adapter.sip import SipOptions, SipUserAgent

pytestmark = pytest.mark.timeout(90)
SCENARIOS = Path(__file__).resolve().parents[1] / "sipp"
USER, PASSWORD = "dialwise", "s3cret-pw"  # what the scenarios verify against
# per-process options of the one PJSIP endpoint: the same as the other SIP test modules
PROCESS = dict(local_port=0, bind_address="127.0.0.1", rtp_port_min=42000, rtp_port_max=42999)


def ensure_sipp() -> str | None:
    if shutil.which("sipp"):
        return shutil.which("sipp")
    apt = ["apt-get"] if shutil.which("apt-get") else None
    if apt is None:
        return None
    sudo = [] if _root() else (["sudo", "-n"] if shutil.which("sudo") else None)
    if sudo is None:
        return None
    subprocess.run(sudo + ["apt-get", "update", "-qq"], capture_output=True, timeout=300, check=False)
    subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "sip-tester"], capture_output=True, timeout=300,
                   check=False, env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    return shutil.which("sipp")


def _root() -> bool:
    import os

    return os.geteuid() == 0


if ensure_sipp() is None:
    pytest.skip("SIPp is not installed and cannot be (needs apt-get as root: apt-get install sip-tester): the "
                "digest tests need an independent registrar", allow_module_level=True)


class Sipp:
    def __init__(self, proc: subprocess.Popen, port: int, log: Path) -> None:
        self.proc, self.port, self.log = proc, port, log

    @property
    def uri(self) -> str:
        return f"sip:127.0.0.1:{self.port}"

    def wait(self, timeout: float = 20) -> int:
        return self.proc.wait(timeout)

    def messages(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@contextmanager
def sipp(tmp: Path, scenario: str) -> Iterator[Sipp]:
    """SIPp as a UAS running `scenario` once (-m 1), logging every message it sends and receives. A free port can
    be taken by another test worker between its check and SIPp's bind ("Address already in use"): then SIPp is
    started again on other ports, up to three times."""
    log = tmp / "sipp_messages.log"
    for _ in range(3):
        port = free_udp_port()
        proc = subprocess.Popen(
            ["sipp", "-sf", str(SCENARIOS / scenario), "-i", "127.0.0.1", "-p", str(port), "-mp",
             str(free_udp_port()), "-m", "1", "-nostdin", "-timeout", "40s", "-timeout_error", "-trace_msg",
             "-message_file", str(log)],
            cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.5)  # SIPp binds its port
        if proc.poll() is None:
            break
        err = proc.stderr.read().decode() if proc.stderr else ""
        assert "Address already in use" in err, err
    assert proc.poll() is None, "SIPp found no free port in three tries"
    try:
        yield Sipp(proc, port, log)
    finally:
        stop_process(proc)


def options(**kw) -> SipOptions:
    return SipOptions(**{**PROCESS, "keepalive_s": 0, **kw})


async def until(pred, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not pred() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def test_register_answers_the_401_challenge_with_a_valid_digest(tmp_path):
    with sipp(tmp_path, "registrar_digest.xml") as peer:
        ua = await SipUserAgent(options(trunk_uri=peer.uri, username=USER, password=PASSWORD)).start()
        try:
            await until(lambda: ua.trunk.reg_code)
            trunk = ua.trunk
        finally:
            await ua.close()
        rc = await asyncio.to_thread(peer.wait)
        msgs = peer.messages()
    assert (trunk.registered, trunk.reg_code) == (True, 200), trunk  # SIPp's verifyauth took our digest
    assert rc == 0, msgs[-2000:]
    assert f'Authorization: Digest username="{USER}", realm="dialwise.test"' in msgs
    assert "WWW-Authenticate" in msgs and "SIP/2.0 403" not in msgs


async def test_a_wrong_password_is_refused_and_dials_end_trunk_refused(tmp_path):
    from agent.dialing.base import DialTarget
    from agent.dialing.sip import SipDialer

    ran = []

    async def runner(call_id, transport):
        ran.append(call_id)

    with sipp(tmp_path, "registrar_digest.xml") as peer:
        dialer = SipDialer(options(trunk_uri=peer.uri, username=USER, password="not-the-password"), runner)
        try:
            outcome = await dialer.dial(DialTarget(call_id="c1", account_id="a1", phone="+8613800138000",
                                                   script_id="s", language="zh"))
            trunk = dialer.ua.trunk
        finally:
            await dialer.close()
        msgs = peer.messages()
    assert (trunk.registered, trunk.reg_code) == (False, 403), trunk
    assert outcome.result == "trunk_refused" and outcome.call is None and not ran
    assert outcome.detail.startswith("the trunk refused our registration: SIP 403 Forbidden")
    assert "SIP_PASSWORD" in outcome.detail
    assert "INVITE sip:" not in msgs  # refused before any INVITE


def digest_params(header: str) -> dict[str, str]:
    return {k: v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|[^,\s]+)', header)}


async def test_an_invite_challenged_with_407_is_retried_with_a_valid_proxy_digest(tmp_path):
    """SIPp's verifyauth reads only Authorization:, so it checks that Proxy-Authorization is there and the test
    checks the digest (RFC 2617, no qop) from SIPp's message log."""
    with sipp(tmp_path, "invite_407.xml") as peer:
        ua = await SipUserAgent(options(trunk_uri=peer.uri, username=USER, password=PASSWORD, register=False)).start()
        try:
            attempt = await ua.dial("+8613800138000")
            assert attempt.answered, attempt.detail
            assert attempt.extra["codec"] == "PCMA"
            await asyncio.sleep(0.5)
            await attempt.transport.hangup()  # our BYE; SIPp's scenario ends with its 200
            rc = await asyncio.to_thread(peer.wait)
        finally:
            await ua.close()
        msgs = peer.messages()
    assert rc == 0, msgs[-2000:]
    assert "REGISTER" not in msgs  # a trunk that authenticates INVITEs: no registration
    assert msgs.count("INVITE sip:+8613800138000@127.0.0.1") == 2
    header = re.search(r"^Proxy-Authorization: Digest (.*)$", msgs, re.M)
    assert header, msgs[-2000:]
    d = digest_params(header.group(1))
    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 (RFC 2617 digest)

    ha1, ha2 = md5(f"{USER}:{d['realm']}:{PASSWORD}"), md5(f"INVITE:{d['uri']}")
    expected = md5(f"{ha1}:{d['nonce']}:{ha2}")
    assert (d["username"], d["realm"], d["nonce"]) == (USER, "dialwise.test", "0b9f2a6e5d7c4e1f8a3b")
    assert d["response"] == expected


@pytest.mark.parametrize("password", [PASSWORD, "nope"])
async def test_an_invite_challenged_with_401_is_verified_by_the_trunk(tmp_path, password):
    with sipp(tmp_path, "invite_401.xml") as peer:
        ua = await SipUserAgent(options(trunk_uri=peer.uri, username=USER, password=password, register=False)).start()
        try:
            attempt = await ua.dial("+8613800138000", ring_timeout_s=10)
            if attempt.answered:
                await asyncio.sleep(0.3)
                await attempt.transport.hangup()
            rc = await asyncio.to_thread(peer.wait)
        finally:
            await ua.close()
        msgs = peer.messages()
    assert rc == 0, msgs[-2000:]
    assert f'Authorization: Digest username="{USER}", realm="dialwise.test"' in msgs
    if password == PASSWORD:  # SIPp's verifyauth took our digest
        assert attempt.answered and attempt.extra["codec"] == "PCMA"
    else:
        assert (attempt.answered, attempt.result, attempt.status) == (False, "trunk_refused", 403), attempt.detail
