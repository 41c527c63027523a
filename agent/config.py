"""Runtime configuration, read from environment variables (prefix-free, see README)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent.netlists import parse_networks

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# the GIL switch interval of a process with the sip network enabled (see gil_switch_interval_ms): measured with
# two busy Python threads in the process, the SIP media path took 340-840 ms at Python's 5 ms, 100-220 ms at 1 ms
SIP_SWITCH_INTERVAL_MS = 1.0


class Settings(BaseSettings):
    """Every knob of dialwise. Each field maps to an upper-case environment variable."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    # storage
    database_url: str = Field(default="", description="SQLAlchemy URL; default: SQLite under VAR_DIR")
    var_dir: Path = Field(default=Path("var"), description="where the SQLite file, recordings and caches live")

    # models
    whisper_model_dir: Path | None = Field(default=None, description="explicit CTranslate2 Whisper folder")
    whisper_models_home: Path | None = Field(default=None, description="folder searched for Whisper models")
    whisper_model: str = "base"
    asr_engine: str = Field(default="faster", description="faster | faster-full | openai | openai-full")
    asr_threads: int = 1  # per transcription; stable under load (see speech/README.md)
    asr_workers: int = 2
    asr_lm_weight: float = Field(default=0.3, ge=0.0, description="weight of the domain LM when re-ranking "
                                 "the faster engine's Mandarin beams; 0 keeps Whisper's top beam")
    asr_lm_weight_en: float = Field(default=0.3, ge=0.0, description="the same for English")
    asr_lm_margin_zh: float = Field(default=0.0, ge=0.0, description="lead the LM's choice needs over the top beam")
    asr_lm_margin_en: float = Field(default=0.05, ge=0.0, description="the same for English")
    asr_encoder_compute_type: Literal["int8", "float32"] = Field(
        default="float32", description="precision of the faster engine's audio encoder (English; Mandarin "
        "below)")
    asr_decoder_compute_type: Literal["int8", "float32"] = Field(
        default="int8", description="precision of the faster engine's text decoder: float32 reads a little "
                                    "better and takes about 1.8 times the compute")
    asr_encoder_compute_type_zh: Literal["int8", "float32"] = Field(
        default="int8", description="the same for Mandarin (dev: as accurate in int8, about half the time)")
    asr_beam_size_zh: int = Field(default=8, ge=1, le=10, description="beams of the faster engine for "
                                  "Mandarin, re-ranked by the domain LM; 1 = greedy")
    asr_beam_size_en: int = Field(default=5, ge=1, le=10, description="the same for English")
    asr_patience_zh: float = Field(default=1.0, gt=0, le=1, description="the faster engine's beam search for "
                                   "Mandarin stops once beams x this many hypotheses have ended (1 = all beams)")
    asr_patience_en: float = Field(default=1.0, gt=0, le=1, description="the same for English")
    asr_band_fold_en: float = Field(default=0.3, ge=0.0, le=1.0, description="the faster engine's front end: "
                                    "phone-band English audio's 0-4 kHz mirrored into 4-8 kHz at this gain; 0 = off")
    asr_band_fold_zh: float = Field(default=0.0, ge=0.0, le=1.0, description="the same for Mandarin")
    asr_end_probe_en: bool = Field(default=True, description="the faster engine also weighs whether Whisper "
                                   "expects an English reading to go on (the turn-taker doubts a complete one)")
    asr_end_probe_zh: bool = Field(default=True, description="the same for Mandarin")
    asr_pad_s: float = Field(default=1.0, gt=0, le=30, description="the faster engine's encoder context: the "
                             "utterance plus ASR_TAIL_S of silence, rounded up to this step")
    asr_tail_s: float = Field(default=1.0, ge=0, le=5, description="silence added after the utterance before "
                              "the faster engine encodes it")
    nlu_model_path: Path | None = None
    tts_engine_en: str = Field(default="espeak", description="espeak | piper")
    tts_engine_zh: str = "espeak"
    recorded_prompts_dir: Path | None = None

    # calls
    max_concurrent_calls: int = 4
    silence_reprompt_s: float = 6.0
    max_reprompts: int = 2
    max_call_s: float = 300.0
    eos_silence_ms: int = 400
    turn_taking: Literal["complete", "fixed"] = Field(
        default="complete", description="complete: take complete answers at once (agent/turn_taking.py); "
        "fixed: always wait each node's eos_silence_ms")
    turn_early_asr_ms: int | None = Field(
        default=None, ge=0, description="> 0: start the speculative transcript at this much silence instead of the "
        "200 ms pause, on a spare ASR worker (sooner answers, more cut-ins: docs/turn_taking.md), in every "
        "language; 0: never; unset: per language (English 100, Mandarin 0: agent/turn_taking.py)")

    # dialling
    dial_network: Literal["loopback", "twilio", "sip"] = Field(
        default="loopback", description="network a campaign dials on when it names none")
    ring_timeout_s: float = Field(default=30.0, gt=0, description="give up on an unanswered dial after this")
    worker_heartbeat_s: float = Field(default=2.0, gt=0, description="how often a call-running process "
                                      "says it is alive")
    worker_lost_s: float = Field(default=15.0, gt=0, description="a process silent this long is dead: its "
                                 "live calls end as interrupted and its claimed attempts are released")
    serve_dials: bool = Field(default=True, description="`dialwise serve` also runs due attempts (the "
                              "embedded, one-machine default); set false when `dialwise worker`s dial")

    # reports (agent/campaign/funnel.py): what a minute on the line costs; unset: no cost figures
    call_price_per_minute: float | None = Field(default=None, ge=0, description="price of one call minute, "
                                                "for the cost per kept promise")
    call_price_currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$", description="currency of "
                                     "CALL_PRICE_PER_MINUTE (ISO 4217)")
    promise_sweep_s: float = Field(default=300.0, gt=0, description="how often call workers mark promises "
                                   "whose grace days have passed unpaid as broken")

    # server
    twilio_auth_token: str = ""
    twilio_account_sid: str = ""
    public_base_url: str = "http://127.0.0.1:8000"
    twilio_from_number: str = Field(default="", description="caller id for outbound Twilio calls (E.164)")
    twilio_api_base_url: str = Field(default="https://api.twilio.com", description="Twilio REST base URL; "
                                     "regional edges, proxies and test carriers set it")
    twilio_max_cps: float = Field(default=1.0, gt=0, description="calls placed per second per Twilio account, "
                                  "held across all workers (Twilio's default is 1)")
    transfer_number: str = Field(
        default="", description="where transfers go: E.164 number, sip:uri, or queue:<name> (Twilio <Enqueue>)"
    )

    # SIP trunk (network "sip"; see telephony_adapter/README.md)
    sip_trunk_uri: str = Field(default="", description="the carrier or PBX, e.g. sip:trunk.example.net:5060")
    sip_username: str = Field(default="", description="digest user; empty: an IP-authenticated trunk, no REGISTER")
    sip_password: str = ""
    sip_caller_id: str = Field(default="", description="the number presented to callees (From user)")
    sip_codecs: str = Field(default="PCMA,PCMU", description="offered in this order; PCMA is G.711 A-law")
    sip_local_port: int = 5060
    sip_rtp_port_min: int = 40000
    sip_rtp_port_max: int = 40999
    sip_public_address: str = Field(default="", description="address put in SDP and Contact behind NAT")
    sip_max_cps: float = Field(default=1.0, gt=0, description="new calls per second across workers")
    # PJSIP's adaptive jitter buffer (ms): playout starts after INIT (-1: PJSIP decides), the prefetch stays
    # between MIN_PRE and MAX_PRE, and at most MAX is held. A trunk on a jittery network wants more MIN_PRE.
    sip_jb_init_ms: int = Field(default=-1, ge=-1, le=1000, description="jitter buffer: audio held before playout "
                                "starts, ms (-1: PJSIP decides)")
    sip_jb_min_pre_ms: int = Field(default=20, ge=0, le=1000, description="jitter buffer: least prefetch, ms")
    sip_jb_max_pre_ms: int = Field(default=160, ge=20, le=1000, description="jitter buffer: most prefetch, ms")
    sip_jb_max_ms: int = Field(default=360, ge=20, le=2000, description="jitter buffer: most audio held, ms")
    sip_media_thread_nice: int = Field(default=-10, ge=-20, le=19, description="nice value of PJSIP's media threads "
                                       "(clock, RTP); below 0 needs CAP_SYS_NICE, else they keep the normal one")
    # PJSIP's media clock thread calls into Python (our media port) twice per SIP call every 20 ms; with
    # CPython's default 5 ms switch interval a busy event loop or model thread holds it back, RTP leaves
    # late and in bursts and both jitter buffers grow (telephony_adapter/README.md, `dialwise bench
    # networks --arms twilio,sip,sip_gil5ms`). The call-running process (`dialwise worker`, `dialwise serve`'s
    # worker) sets it.
    gil_switch_interval_ms: float | None = Field(
        default=None, gt=0, le=100, description="CPython's GIL switch interval in a call-running process; "
        "unset: 1 ms when the sip network is enabled (DIAL_NETWORK=sip or SIP_TRUNK_URI set), else Python's own")

    # security (docs/security.md)
    webhook_allow_networks: str = Field(
        default="", description="comma-separated networks webhooks may reach although they are not public, "
                                "for on-premises CRMs: e.g. 10.1.0.0/16,192.168.5.0/24")
    auth_failures_per_minute: int = Field(default=20, ge=1, description="failed key checks one client may "
                                          "make in a minute before it is answered 429")
    live_sockets_per_key: int = Field(default=8, ge=1, description="open /ws/live monitors per API key")

    @field_validator("webhook_allow_networks")
    @classmethod
    def _networks(cls, v: str) -> str:
        parse_networks(v)  # a ValueError names the bad entry
        return v

    @property
    def sip_enabled(self) -> bool:
        """This process may run SIP calls: its default network is sip, or a trunk is configured."""
        return self.dial_network == "sip" or bool(self.sip_trunk_uri)

    def switch_interval_s(self) -> float | None:
        """The GIL switch interval a call-running process sets (seconds); None: leave Python's own."""
        if self.gil_switch_interval_ms is not None:
            return self.gil_switch_interval_ms / 1000
        return SIP_SWITCH_INTERVAL_MS / 1000 if self.sip_enabled else None

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        path = (self.var_dir / "dialwise.sqlite3").resolve()
        return f"sqlite:///{path}"

    @property
    def recordings_dir(self) -> Path:
        return self.var_dir / "recordings"

    @property
    def cache_dir(self) -> Path:
        return self.var_dir / "cache"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
