"""The serializers (telephony_adapter/serializers/): one protocol for every network. Round trips
(what a transport serializes, the far end's parser reads back; what the far end sends, we read as
the right events), and malformed or hostile input per network: a WireError, never an exception."""
from __future__ import annotations

import base64
import json
import uuid

import numpy as np
import pytest

from speech.audio import ulaw_decode, ulaw_encode
from telephony_adapter.base import AudioIn, DtmfIn, Hangup, MarkPlayed, Start
from telephony_adapter.serializers import audiosocket as asock
from telephony_adapter.serializers.audiosocket import AudioSocketSerializer, FrameReader, encode
from telephony_adapter.serializers.base import (
    AudioOut,
    ClearOut,
    ErrorOut,
    FrameSerializer,
    HangupOut,
    MarkOut,
    TransferOut,
    WireError,
)
from telephony_adapter.serializers.browser import BrowserSerializer, PageMessage
from telephony_adapter.serializers.loopback import FRAME_BYTES, Keypress, LineClear, LineMark, LoopbackSerializer
from telephony_adapter.serializers.sip import SipSerializer
from telephony_adapter.serializers.twilio import TwilioSerializer

ALL = [TwilioSerializer, AudioSocketSerializer, BrowserSerializer, SipSerializer, LoopbackSerializer]


def tone_frame(rate: int, hz: float = 440.0, amp: int = 8000) -> bytes:
    n = rate // 50
    t = np.arange(n) / rate
    return (np.sin(2 * np.pi * hz * t) * amp).astype("<i2").tobytes()


def pcm(frame: bytes) -> np.ndarray:
    return np.frombuffer(frame, dtype="<i2")


# --- the protocol itself --------------------------------------------------------------------------
@pytest.mark.parametrize("cls", ALL)
def test_every_network_implements_the_one_protocol(cls):
    ser = cls()
    assert isinstance(ser.network, str) and ser.wire_rate in (8000, 16000)
    typed: FrameSerializer = ser  # mypy checks the structural type; here: the methods exist
    assert callable(typed.deserialize) and callable(typed.serialize)
    for event in (HangupOut(), TransferOut("x"), ErrorOut("x"), ClearOut(), MarkOut("m")):
        ser.serialize(event)  # every outbound event is either a wire message or None, never an error


# hostile input every serializer must survive: odd types, huge, empty, binary garbage, zh and en text
HOSTILE = [b"", b"\x00", b"\xff" * 70000, bytes(range(256)), "", "{", "null", "[]", '"x"', "1e999",
           "你好，我是王芳", "hello, this is Emily", '{"event": "媒体"}', '{"type": "挂断"}', "\ud800",
           "[" * 5000 + "]" * 5000, '{"sequenceNumber": "' + "9" * 5000 + '"}', None, 42, ["media"]]


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("bad", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_input_never_raises(cls, bad):
    ser = cls()
    if isinstance(ser, TwilioSerializer):  # after a start, so nothing is dropped as "before start"
        ser.deserialize(_start())
    elif isinstance(ser, AudioSocketSerializer):
        ser.deserialize(encode(asock.KIND_UUID, uuid.uuid4().bytes))
    events = ser.deserialize(bad)
    assert isinstance(events, list)
    for ev in events:
        assert isinstance(ev, (Start, AudioIn, DtmfIn, MarkPlayed, Hangup, WireError))
        if isinstance(ev, WireError):
            assert ev.message and len(ev.message) < 300  # says what, never echoes megabytes


# --- Twilio ----------------------------------------------------------------------------------------
def _start(seq: int = 1, call_id: str = "c-1", **custom: str) -> str:
    return json.dumps({"event": "start", "sequenceNumber": str(seq), "streamSid": "MZ1",
                       "start": {"streamSid": "MZ1", "callSid": "CA1", "accountSid": "AC1",
                                 "customParameters": {"call_id": call_id, **custom},
                                 "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})


def _media(seq: int, data: bytes) -> str:
    return json.dumps({"event": "media", "sequenceNumber": str(seq), "streamSid": "MZ1",
                       "media": {"track": "inbound", "chunk": "1", "payload": base64.b64encode(data).decode()}})


def test_twilio_round_trip_in_and_out():
    ser = TwilioSerializer()
    assert ser.serialize(AudioOut(tone_frame(8000))) is None  # no stream sid before start
    assert ser.deserialize(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})) == []
    (start,) = ser.deserialize(_start(name="王芳", lang="zh"))
    assert isinstance(start, Start) and start.call_id == "c-1"
    assert start.params["custom"]["name"] == "王芳" and ser.stream_sid == "MZ1" and ser.call_sid == "CA1"
    frame = tone_frame(8000)
    out = json.loads(ser.serialize(AudioOut(frame)))
    assert out["event"] == "media" and out["streamSid"] == "MZ1"
    ulaw = base64.b64decode(out["media"]["payload"])
    assert len(ulaw) == 160 and np.array_equal(ulaw_decode(ulaw), ulaw_decode(ulaw_encode(pcm(frame))))
    # the far end's media comes back as the same audio
    (audio,) = ser.deserialize(_media(2, ulaw))
    assert isinstance(audio, AudioIn) and audio.sample_rate == 8000
    assert np.max(np.abs(audio.pcm.astype(int) - pcm(frame).astype(int))) < 300  # μ-law step
    for name in ("greet-1", "问候-2"):
        assert json.loads(ser.serialize(MarkOut(name))) == {"event": "mark", "streamSid": "MZ1", "mark": {"name": name}}
    assert json.loads(ser.serialize(ClearOut())) == {"event": "clear", "streamSid": "MZ1"}
    assert ser.serialize(HangupOut()) is None and ser.serialize(ErrorOut("x")) is None
    mark = json.dumps({"event": "mark", "sequenceNumber": "3", "streamSid": "MZ1", "mark": {"name": "问候-2"}})
    assert ser.deserialize(mark) == [MarkPlayed("问候-2")]
    dtmf = json.dumps({"event": "dtmf", "sequenceNumber": "4", "streamSid": "MZ1",
                       "dtmf": {"track": "inbound_track", "digit": "#"}})
    assert ser.deserialize(dtmf) == [DtmfIn("#")]
    stop = json.dumps({"event": "stop", "sequenceNumber": "5", "streamSid": "MZ1", "stop": {"callSid": "CA1"}})
    assert ser.deserialize(stop) == [Hangup("hangup")]


def test_twilio_sequence_order_duplicates_and_before_start():
    ser = TwilioSerializer()
    assert ser.deserialize(_media(1, b"\xff" * 160)) == []  # before start: nobody to give it to
    assert ser.stats.before_start == 1
    ser.deserialize(_start(seq=2))
    got = []
    for seq in (3, 3, 5, 4, 6):
        got += [len(e.pcm) for e in ser.deserialize(_media(seq, b"\xff" * (seq * 10)))]
    assert got == [30, 40, 50, 60] and ser.stats.duplicates == 1
    assert ser.deserialize(_start(seq=7)) == []  # a repeated start changes nothing


@pytest.mark.parametrize("text, fatal, says", [
    ('{"event": "media", "media": {"payload": ', True, "malformed JSON"),
    ("你好", True, "malformed JSON"),
    ("hello", True, "malformed JSON"),
    ('["event"]', True, "not a JSON object"),
    ('{"event": 5}', True, "not a JSON object"),
    ('{"event": "media", "sequenceNumber": "2", "media": {"payload": "不是base64"}}', False, "not valid base64"),
    ('{"event": "media", "sequenceNumber": "2", "media": {"payload": "!!!!"}}', False, "not valid base64"),
    ('{"event": "media", "sequenceNumber": "2", "media": {}}', False, "payload"),
    ('{"event": "media", "sequenceNumber": "2", "media": {"payload": ""}}', False, "empty"),
    ('{"event": "media", "sequenceNumber": "2", "media": "x"}', False, "'media' object"),
    ('{"event": "dtmf", "sequenceNumber": "2", "dtmf": {"digit": "五"}}', False, "dtmf digit"),
    ('{"event": "dtmf", "sequenceNumber": "2", "dtmf": {"digit": "x"}}', False, "dtmf digit"),
    ('{"event": "mark", "sequenceNumber": "2", "mark": {}}', False, "without a 'name'"),
    ('{"event": "media", "sequenceNumber": "二", "media": {"payload": "/w=="}}', False, "sequenceNumber"),
    ('{"event": "media", "sequenceNumber": "²", "media": {"payload": "/w=="}}', False, "sequenceNumber"),
])
def test_twilio_malformed_messages(text, fatal, says):
    ser = TwilioSerializer()
    ser.deserialize(_start())
    (err,) = ser.deserialize(text)
    assert isinstance(err, WireError) and err.fatal is fatal and says in err.message, err


def test_twilio_bad_field_keeps_the_sequence_moving():
    ser = TwilioSerializer()
    ser.deserialize(_start(seq=1))
    bad = json.dumps({"event": "dtmf", "sequenceNumber": "2", "dtmf": {"digit": "?"}})
    assert isinstance(ser.deserialize(bad)[0], WireError)
    (audio,) = ser.deserialize(_media(3, b"\xff" * 160))  # released at once: no gap to wait out
    assert isinstance(audio, AudioIn) and ser.stats.gaps == 0


@pytest.mark.parametrize("fmt", [{"encoding": "audio/x-l16", "sampleRate": 16000},
                                 {"encoding": "audio/x-mulaw", "sampleRate": "8k"}, "mulaw"])
def test_twilio_a_start_we_cannot_use_is_fatal(fmt):
    msg = json.loads(_start())
    msg["start"]["mediaFormat"] = fmt
    (err,) = TwilioSerializer().deserialize(json.dumps(msg))
    assert isinstance(err, WireError) and err.fatal


# --- AudioSocket ----------------------------------------------------------------------------------
def test_audiosocket_round_trip_and_split_tcp_chunks():
    ser = AudioSocketSerializer()
    call = uuid.uuid4()
    frame = tone_frame(8000)
    stream = encode(asock.KIND_UUID, call.bytes) + encode(asock.KIND_AUDIO, frame) + encode(asock.KIND_DTMF, b"7")
    stream += encode(asock.KIND_HANGUP)
    events = []
    for i in range(0, len(stream), 7):  # TCP hands over arbitrary pieces
        events += ser.deserialize(stream[i : i + 7])
    assert [type(e) for e in events] == [Start, AudioIn, DtmfIn, Hangup]
    assert events[0].call_id == call.hex and np.array_equal(events[1].pcm, pcm(frame)) and events[2].digit == "7"
    reader = FrameReader()  # what Asterisk reads from us
    out = ser.serialize(AudioOut(frame)) + ser.serialize(HangupOut()) + ser.serialize(ErrorOut("bad"))
    assert [(f.kind, f.payload) for f in reader.feed(out)] == [(0x10, frame), (0x00, b""), (0xFF, b"\x01")]
    assert ser.serialize(MarkOut("m")) is None and ser.serialize(ClearOut()) is None  # no such messages


def test_audiosocket_error_frame_from_asterisk_ends_the_call():
    ser = AudioSocketSerializer()
    ser.deserialize(encode(asock.KIND_UUID, uuid.uuid4().bytes))
    (ev,) = ser.deserialize(encode(asock.KIND_ERROR, b"\x02"))
    assert isinstance(ev, Hangup) and ev.reason == "error" and "code 02" in (ev.error or "")


@pytest.mark.parametrize("stream, fatal, says", [
    (b"\x42\x00\x01Z", True, "0x42"),
    (encode(asock.KIND_AUDIO, b"\x01\x02\x03"), True, "whole 16-bit"),
    (encode(asock.KIND_AUDIO, b"\x00" * 20000), True, "<= 1 s"),
    (encode(asock.KIND_DTMF, "五".encode()), False, "invalid key"),
    (encode(asock.KIND_DTMF, b"x"), False, "invalid key"),
    (encode(asock.KIND_DTMF, b""), False, "invalid key"),
    (encode(asock.KIND_AUDIO, b""), False, "empty"),
    (encode(asock.KIND_UUID, uuid.UUID(int=0x5EC0D).bytes), False, "second UUID"),
])
def test_audiosocket_malformed_frames(stream, fatal, says):
    ser = AudioSocketSerializer()
    ser.deserialize(encode(asock.KIND_UUID, uuid.uuid4().bytes))
    (err,) = ser.deserialize(stream)
    assert isinstance(err, WireError) and err.fatal is fatal and says in err.message, err
    if fatal:  # the stream cannot be framed any more: nothing after it is read
        assert ser.deserialize(encode(asock.KIND_DTMF, b"1")) == []
    else:
        assert ser.deserialize(encode(asock.KIND_DTMF, b"1")) == [DtmfIn("1")]


def test_audiosocket_frames_before_a_broken_header_are_kept():
    ser = AudioSocketSerializer()
    head = encode(asock.KIND_UUID, uuid.uuid4().bytes) + encode(asock.KIND_DTMF, b"5")
    events = ser.deserialize(head + b"\x42\x00\x00")
    assert [type(e) for e in events] == [Start, DtmfIn, WireError] and events[2].fatal


@pytest.mark.parametrize("first", [encode(asock.KIND_AUDIO, b"\x00" * 320), encode(asock.KIND_DTMF, b"1"),
                                   encode(asock.KIND_UUID, b"short")])
def test_audiosocket_the_stream_must_start_with_a_whole_uuid(first):
    (err,) = AudioSocketSerializer().deserialize(first)
    assert isinstance(err, WireError) and err.fatal


# --- browser -------------------------------------------------------------------------------------
def test_browser_round_trip_odd_bytes_and_page_messages():
    ser = BrowserSerializer()
    frame = tone_frame(16000)
    assert ser.serialize(AudioOut(frame)) == frame  # binary PCM16 16 kHz as is
    first = ser.deserialize(frame[:101])  # an odd length: the last byte waits for the next message
    rest = ser.deserialize(frame[101:])
    assert np.array_equal(np.concatenate([first[0].pcm, rest[0].pcm]), pcm(frame)) and rest[0].sample_rate == 16000
    assert ser.deserialize('{"type": "dtmf", "digit": "5"}') == [DtmfIn("5")]
    assert ser.deserialize('{"type": "hangup"}') == [Hangup("hangup")]
    (start,) = ser.deserialize('{"type": "start", "account_id": "acc-1", "script_id": "collections_m1_zh"}')
    assert start.params == {"account_id": "acc-1", "script_id": "collections_m1_zh"}
    assert json.loads(ser.serialize(ClearOut())) == {"type": "clear"}
    assert json.loads(ser.serialize(TransferOut("坐席"))) == {"type": "transfer", "target": "坐席"}
    for text in ("通话失败：账户不存在", "call failed: no such account"):
        wire = ser.serialize(ErrorOut(text))
        assert json.loads(wire) == {"type": "error", "message": text} and text in wire  # zh stays readable
    turn = {"type": "turn", "speaker": "agent", "text": "您好，王芳女士"}
    assert json.loads(ser.serialize(PageMessage(turn))) == turn
    assert ser.serialize(MarkOut("m")) is None and ser.serialize(HangupOut()) is None


@pytest.mark.parametrize("text, fatal, says", [
    ("你好", True, "not JSON"),
    ("hello", True, "not JSON"),
    ("[1, 2]", True, "'type' string"),
    ('{"kind": "dtmf"}', True, "'type' string"),
    ('{"type": "挂断"}', False, "unknown softphone message type"),
    ('{"type": "shout"}', False, "unknown softphone message type"),
    ('{"type": "dtmf", "digit": "五"}', False, "dtmf digit"),
    ('{"type": "dtmf", "digit": "A"}', False, "dtmf digit"),  # the page's keypad has no A-D
    ('{"type": "dtmf"}', False, "dtmf digit"),
])
def test_browser_malformed_messages(text, fatal, says):
    (err,) = BrowserSerializer().deserialize(text)
    assert isinstance(err, WireError) and err.fatal is fatal and says in err.message, err


def test_browser_over_a_second_of_audio_in_one_message_is_dropped():
    (err,) = BrowserSerializer().deserialize(b"\x00" * 40000)
    assert isinstance(err, WireError) and not err.fatal


# --- SIP (what the PJSIP leg hands over) -------------------------------------------------------------
def test_sip_round_trip_and_bad_frames():
    ser = SipSerializer()
    frame = tone_frame(8000)
    assert ser.serialize(AudioOut(frame)) == frame
    (audio,) = ser.deserialize(frame)
    assert isinstance(audio, AudioIn) and np.array_equal(audio.pcm, pcm(frame)) and audio.sample_rate == 8000
    assert ser.deserialize("a") == [DtmfIn("A")] and ser.deserialize("#") == [DtmfIn("#")]
    for bad in (frame[:100], b"", "五", "x", "12"):
        (err,) = ser.deserialize(bad)
        assert isinstance(err, WireError) and not err.fatal  # PJSIP parsed the packets: nothing is fatal
    assert ser.serialize(MarkOut("m")) is None and ser.serialize(ClearOut()) is None
    with pytest.raises(ValueError):
        ser.serialize(AudioOut(frame[:100]))  # a transport bug, not input: the media port takes whole frames


# --- loopback -------------------------------------------------------------------------------------
def test_loopback_round_trip_and_bad_frames():
    ser = LoopbackSerializer()
    frame = tone_frame(8000)
    wire = ser.serialize(AudioOut(frame))
    assert isinstance(wire, bytes) and len(wire) == FRAME_BYTES
    (audio,) = ser.deserialize(wire)
    assert np.max(np.abs(audio.pcm.astype(int) - pcm(frame).astype(int))) < 300
    assert ser.serialize(MarkOut("问候")) == LineMark("问候")
    assert ser.deserialize(LineMark("问候")) == [MarkPlayed("问候")]
    assert ser.serialize(ClearOut()) == LineClear() and ser.serialize(HangupOut()) is None
    assert ser.deserialize(Keypress("9")) == [DtmfIn("9")]
    (err,) = ser.deserialize(Keypress("九"))
    assert isinstance(err, WireError) and not err.fatal
    for bad in (b"", wire[:-1], wire + b"\xff", "你好", "hello", None):
        (err,) = ser.deserialize(bad)
        assert isinstance(err, WireError) and err.fatal and err.message.startswith("loopback:")
