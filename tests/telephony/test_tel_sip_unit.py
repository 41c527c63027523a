"""SIP options, settings and the response-to-result table (no network)."""
from __future__ import annotations

import pytest

from telephony_adapter.sip.options import SipConfigError, SipOptions, parse_codecs
from telephony_adapter.sip.results import describe, dial_result


def test_response_codes_map_to_dial_results():
    expected = {486: "busy", 600: "busy", 480: "no_answer", 408: "no_answer", 487: "no_answer",
                404: "invalid_number", 484: "invalid_number", 604: "invalid_number",
                403: "trunk_refused", 503: "trunk_refused", 500: "failed", 488: "failed", 402: "failed"}
    assert {code: dial_result(code) for code in expected} == expected
    assert describe(486, "Busy Here") == "SIP 486 Busy Here"


def test_results_are_the_dial_seams_results():
    from agent.dialing.base import DIAL_RESULTS

    assert {dial_result(c) for c in range(300, 700)} <= set(DIAL_RESULTS)


def test_options_derive_uris_and_refuse_nonsense():
    o = SipOptions(trunk_uri="sip:gw.example.net:5080;transport=udp", username="u1", password="p",
                   caller_id="+861088880000")
    assert o.trunk_host == "gw.example.net:5080"
    assert o.dial_uri("+8613800138000") == "sip:+8613800138000@gw.example.net:5080"
    assert o.dial_uri("123", "sip:{phone}@10.0.0.1") == "sip:123@10.0.0.1"
    assert o.from_uri() == "sip:+861088880000@gw.example.net:5080"
    assert o.registers and not SipOptions(trunk_uri="sip:gw", register=False, username="u", password="p").registers
    assert not SipOptions(trunk_uri="sip:gw").registers  # IP-authenticated trunk
    assert o.codec_ids == ["PCMA/8000/1", "PCMU/8000/1"]
    assert parse_codecs("pcmu, PCMA") == ("PCMU", "PCMA")
    with pytest.raises(SipConfigError, match="codecs"):
        SipOptions(codecs=("G729",))
    with pytest.raises(SipConfigError, match="RTP port range"):
        SipOptions(rtp_port_min=5000, rtp_port_max=4000)
    with pytest.raises(SipConfigError, match="password without a username"):
        SipOptions(password="x")
    with pytest.raises(SipConfigError, match="no SIP trunk"):
        SipOptions().dial_uri("+1")
    assert SipOptions(bind_address="0.0.0.0").advertised_address == ""
    assert SipOptions(bind_address="0.0.0.0", public_address="203.0.113.7").advertised_address == "203.0.113.7"


def test_sip_options_from_settings(monkeypatch):
    from agent.config import Settings
    from agent.dialing.base import DialError
    from agent.dialing.sip import sip_options

    monkeypatch.setenv("SIP_TRUNK_URI", "sip:carrier.example.cn")
    monkeypatch.setenv("SIP_USERNAME", "lender1")
    monkeypatch.setenv("SIP_PASSWORD", "s3cret")
    monkeypatch.setenv("SIP_CALLER_ID", "02188886666")
    monkeypatch.setenv("SIP_CODECS", "PCMU")
    monkeypatch.setenv("SIP_LOCAL_PORT", "5070")
    monkeypatch.setenv("SIP_PUBLIC_ADDRESS", "203.0.113.7")
    monkeypatch.setenv("SIP_MAX_CPS", "2.5")
    o = sip_options(Settings())
    assert (o.trunk_uri, o.username, o.password, o.caller_id, o.codecs, o.local_port, o.public_address,
            o.max_cps) == ("sip:carrier.example.cn", "lender1", "s3cret", "02188886666", ("PCMU",), 5070,
                           "203.0.113.7", 2.5)
    assert (o.rtp_port_min, o.rtp_port_max) == (40000, 40999)
    monkeypatch.setenv("SIP_CODECS", "OPUS")
    with pytest.raises(DialError, match="codecs"):
        sip_options(Settings())
