"""Everything the SIP user agent needs to know about its trunk, in one typed record.

The app builds a `SipOptions` from its settings (agent.dialing.sip.sip_options); tests build their own.
Options marked *per process* configure the single PJSIP endpoint and cannot differ between the
dialers of one process; the others apply per call.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote

CODEC_IDS = {"PCMA": "PCMA/8000/1", "PCMU": "PCMU/8000/1"}  # G.711 A-law (China, Europe), μ-law (US, Japan)


class SipConfigError(ValueError):
    """Options that cannot work (clear text for the operator)."""


@dataclass(frozen=True)
class SipOptions:
    # the trunk: a carrier's SBC or the lender's FreeSWITCH/Asterisk, e.g. "sip:trunk.example.net:5060"
    trunk_uri: str = ""
    # digest credentials. Empty username: an IP-authenticated trunk (no REGISTER, no auth).
    username: str = ""
    password: str = ""
    # REGISTER with the trunk when credentials are given. Some trunks only challenge INVITEs: False.
    register: bool = True
    registration_expiry_s: int = 300
    # the number shown to the callee: the From user (plus a P-Asserted-Identity header)
    caller_id: str = ""
    # offered in this order (per process); telephone-event (RFC 4733 DTMF) is always offered too
    codecs: tuple[str, ...] = ("PCMA", "PCMU")
    # SIP over UDP (per process). bind_address "0.0.0.0" listens on every interface.
    local_port: int = 5060
    bind_address: str = "0.0.0.0"
    # RTP ports, one even/odd pair per call (per process)
    rtp_port_min: int = 40000
    rtp_port_max: int = 40999
    # the address the trunk must reach us at, behind NAT: put in Contact, Via and the SDP (per process).
    # Empty: the bind address, when it is a concrete address.
    public_address: str = ""
    # new calls per second across workers. Enforced by the app (the dialer), carried here.
    max_cps: float = 1.0
    # OPTIONS to the trunk every N seconds (0: off); the last answer is kept on the user agent
    keepalive_s: float = 30.0
    # no answer (no 200 OK) within this many seconds: CANCEL, result no_answer (per call)
    ring_timeout_s: float = 45.0
    # after 200 OK, drop this much received audio: what the jitter buffer still holds is early media
    # (ringback, an announcement), never the callee (per call)
    answer_guard_ms: int = 60
    # request-URI of a dial; {phone} is the E.164 number, {host} the trunk's host[:port] (per call)
    uri_template: str = "sip:{phone}@{host}"
    # PJSIP's adaptive jitter buffer, in ms (per process): playout starts after jb_init ms of
    # audio (-1: PJSIP decides), prefetch kept between jb_min_pre and jb_max_pre, at most jb_max.
    jb_init_ms: int = -1
    jb_min_pre_ms: int = 20
    jb_max_pre_ms: int = 160
    jb_max_ms: int = 360
    # nice value for PJSIP's media threads (the conference clock and the RTP receiver; per process). Below 0
    # needs root or CAP_SYS_NICE (refused: logged, normal priority); 0 leaves them alone.
    media_thread_nice: int = -10
    # PJSIP log level to stderr (0-6; per process)
    log_level: int = 1
    # extra SIP headers for every INVITE, e.g. {"X-Campaign": "m1"}
    headers: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        unknown = [c for c in self.codecs if c.upper() not in CODEC_IDS]
        if unknown or not self.codecs:
            raise SipConfigError(f"SIP codecs must be a list of {', '.join(CODEC_IDS)}; got {','.join(self.codecs)!r}")
        if not (0 < self.rtp_port_min < self.rtp_port_max <= 65535):
            raise SipConfigError(f"RTP port range {self.rtp_port_min}-{self.rtp_port_max} is not a range of ports")
        if self.password and not self.username:
            raise SipConfigError("a SIP password without a username")
        if self.max_cps <= 0:
            raise SipConfigError("SIP max calls per second must be > 0")
        if not (0 <= self.jb_min_pre_ms <= self.jb_max_pre_ms <= self.jb_max_ms) or self.jb_init_ms < -1 \
                or self.jb_init_ms > self.jb_max_pre_ms:
            raise SipConfigError(
                "SIP jitter buffer: need 0 <= min prefetch <= max prefetch <= max, and init -1 or at most max "
                f"prefetch; got init {self.jb_init_ms}, min {self.jb_min_pre_ms}, max prefetch {self.jb_max_pre_ms}, "
                f"max {self.jb_max_ms} ms")
        if "{phone}" not in self.uri_template:
            raise SipConfigError("the SIP URI template must contain {phone}")

    # --- derived ------------------------------------------------------------------------------
    @property
    def trunk_host(self) -> str:
        """host[:port] of the trunk URI (what the request-URI of a dial points at)."""
        uri = self.trunk_uri.strip()
        if not uri:
            return ""
        uri = uri.split(":", 1)[1] if uri.lower().startswith(("sip:", "sips:")) else uri
        uri = uri.split(";", 1)[0].split("?", 1)[0]
        return unquote(uri.rsplit("@", 1)[-1])

    @property
    def registers(self) -> bool:
        return bool(self.register and self.username and self.password and self.trunk_uri)

    @property
    def advertised_address(self) -> str:
        if self.public_address:
            return self.public_address
        return "" if self.bind_address in ("", "0.0.0.0", "::") else self.bind_address

    @property
    def codec_ids(self) -> list[str]:
        return [CODEC_IDS[c.upper()] for c in self.codecs]

    def dial_uri(self, phone: str, template: str | None = None) -> str:
        host = self.trunk_host
        if not host and "{host}" in (template or self.uri_template):
            raise SipConfigError("no SIP trunk: set SIP_TRUNK_URI")
        return (template or self.uri_template).format(phone=phone, host=host)

    def from_uri(self) -> str:
        user = self.caller_id or self.username or "dialwise"
        host = self.trunk_host or self.advertised_address or "localhost"
        return f"sip:{user}@{host}"

    @property
    def jitter_buffer(self) -> tuple[int, int, int, int]:
        """init, min prefetch, max prefetch, max (ms): also the SIP test carrier's `--jb`."""
        return (self.jb_init_ms, self.jb_min_pre_ms, self.jb_max_pre_ms, self.jb_max_ms)

    def process_key(self) -> tuple:
        """The options that shape the one PJSIP endpoint of a process."""
        return (self.codecs, self.local_port, self.bind_address, self.rtp_port_min, self.rtp_port_max,
                self.public_address, self.jb_init_ms, self.jb_min_pre_ms, self.jb_max_pre_ms, self.jb_max_ms,
                self.media_thread_nice)


def parse_codecs(text: str) -> tuple[str, ...]:
    return tuple(c.strip().upper() for c in text.split(",") if c.strip())
