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
    assert SipOptions(jb_init_ms=0, jb_min_pre_ms=0).jitter_buffer == (0, 0, 160, 360)
    for bad in ({"jb_min_pre_ms": 200}, {"jb_min_pre_ms": -20}, {"jb_max_pre_ms": 400},
                {"jb_init_ms": 200}, {"jb_init_ms": -2}):
        with pytest.raises(SipConfigError, match="jitter buffer"):
            SipOptions(**bad)
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
    assert o.jitter_buffer == (-1, 20, 160, 360)
    monkeypatch.setenv("SIP_JB_INIT_MS", "0")
    monkeypatch.setenv("SIP_JB_MIN_PRE_MS", "0")
    assert sip_options(Settings()).jitter_buffer == (0, 0, 160, 360)
    monkeypatch.setenv("SIP_JB_MIN_PRE_MS", "300")  # above the most prefetch: the operator is told
    with pytest.raises(DialError, match="jitter buffer"):
        sip_options(Settings())
    monkeypatch.setenv("SIP_JB_MIN_PRE_MS", "0")
    monkeypatch.setenv("SIP_CODECS", "OPUS")
    with pytest.raises(DialError, match="codecs"):
        sip_options(Settings())


def test_the_bench_gives_the_sip_test_carrier_the_dialer_s_jitter_buffer(monkeypatch):
    from agent.config import get_settings
    from agent.dialing.bench_levels import carrier_jb
    from telephony_adapter.sim.sip_carrier import arg_parser, parse_jb

    monkeypatch.setenv("SIP_JB_INIT_MS", "-1")
    monkeypatch.setenv("SIP_JB_MIN_PRE_MS", "0")
    get_settings.cache_clear()
    try:
        arg = f"--jb={carrier_jb()}"  # as the benches start the carrier: "-1,..." must not read as an option
        assert parse_jb(arg_parser().parse_args([arg]).jb) == (-1, 0, 160, 360)
    finally:
        get_settings.cache_clear()
    with pytest.raises(ValueError, match="four numbers"):
        parse_jb("0,20,160")


def test_a_received_frame_s_bytes_are_read_straight_from_pjsip_s_vector():
    import os

    import pjsua2 as pj

    from telephony_adapter.sip.vector import fast_path, vector_bytes

    for data in (os.urandom(320), b"", b"\x00\xff" * 7 + b"\x01"):
        vec = pj.ByteVector(data)
        assert vector_bytes(vec, pj) == data == bytes(tuple(vec))
    frame = pj.MediaFrame()
    frame.buf = pj.ByteVector(b"\x10\x20" * 160)
    assert vector_bytes(frame.buf, pj) == b"\x10\x20" * 160  # the frame's own buffer, as the media port gets it
    assert fast_path() is True  # this wheel's layout was recognised: no SWIG iteration per frame
