"""Small pieces of Twilio's wire a test carrier needs, written from Twilio's docs:
request signatures, TwiML parsing, REST error bodies, and Basic auth.

X-Twilio-Signature = base64(HMAC-SHA1(auth token, URL + each POST parameter's name and value,
sorted by name)). For a GET (and the websocket handshake) the parameters are in the URL.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

ERROR_DOCS = "https://www.twilio.com/docs/errors/"


def signature(auth_token: str, url: str, params: dict[str, Any] | None = None) -> str:
    payload = url
    for name in sorted(params or {}):
        value = (params or {})[name]
        for v in sorted(value) if isinstance(value, (list, tuple)) else [value]:
            payload += name + str(v)
    digest = hmac.new(auth_token.encode(), payload.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def basic_auth(header: str | None) -> tuple[str, str] | None:
    """(user, password) from an `Authorization: Basic …` header, or None."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return user, password


def error_body(status: int, code: int, message: str) -> dict[str, Any]:
    """Twilio's REST error document."""
    return {"code": code, "message": message, "more_info": f"{ERROR_DOCS}{code}", "status": status}


@dataclass
class Twiml:
    """What a call does when answered. Only the verbs a Media Streams agent uses are modelled."""

    stream_url: str | None = None  # <Connect><Stream url>
    parameters: dict[str, str] = field(default_factory=dict)  # <Parameter name value/>
    transfer_to: str | None = None  # <Dial><Number|Sip> or <Enqueue>
    hangup: bool = False
    says: list[str] = field(default_factory=list)


class TwimlError(ValueError):
    """The document is not TwiML we can execute (Twilio: error 12100, the call ends)."""


def parse_twiml(text: str) -> Twiml:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise TwimlError(f"TwiML is not well-formed XML: {exc}") from None
    if root.tag != "Response":
        raise TwimlError(f"TwiML root is <{root.tag}>, not <Response>")
    out = Twiml()
    for verb in root:
        if verb.tag == "Connect":
            stream = verb.find("Stream")
            if stream is None or not stream.get("url"):
                raise TwimlError("<Connect> without a <Stream url=…>")
            url = stream.get("url", "")
            if not url.startswith(("ws://", "wss://")):
                raise TwimlError(f"<Stream url> must be ws:// or wss://, not {url!r}")
            out.stream_url = url
            out.parameters = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
            break  # <Connect> does not return while the stream runs; later verbs follow it
        if verb.tag == "Dial":
            target = verb.find("Number")
            target = target if target is not None else verb.find("Sip")
            out.transfer_to = ((target.text if target is not None else verb.text) or "").strip()
            break
        if verb.tag == "Enqueue":
            out.transfer_to = "queue:" + (verb.text or "").strip()
            break
        if verb.tag == "Hangup":
            out.hangup = True
            break
        if verb.tag == "Say":
            out.says.append(verb.text or "")
    return out
