"""The `sip` network: dial out through a SIP trunk (a carrier, or the lender's FreeSWITCH/Asterisk).

    dialer = SipDialer(sip_options(get_settings()), runner)
    outcome = await dialer.dial(target)   # answered: the session ran; else busy / no_answer / ...
    await dialer.close()

The user agent is telephony_adapter.sip (PJSIP). On 200 OK the session runs over the call's
SipTransport through `runner`; any other final answer maps to a dial result (see
telephony_adapter/sip/results.py) with a detail such as "SIP 486 Busy Here". Nothing here blocks
the event loop: PJSIP work runs on its own threads. The process that runs SIP calls sets CPython's GIL
switch interval (PJSIP's media clock thread calls into Python every 20 ms per call): the worker runtime
does, from GIL_SWITCH_INTERVAL_MS (agent.worker.runtime.apply_switch_interval).
"""
from __future__ import annotations

import asyncio
import copy
import logging
import weakref
from typing import Any

from agent.dialing.base import (
    ANSWERED,
    DIAL_RESULTS,
    FAILED,
    TRUNK_REFUSED,
    DialError,
    DialOutcome,
    DialTarget,
    SessionRunner,
)
from telephony_adapter.sip import SipConfigError, SipOptions, SipUserAgent, parse_codecs

log = logging.getLogger(__name__)

REGISTER_WAIT_S = 10.0  # at most this long, before the first dial, for the trunk's answer to our REGISTER
AUTH_REFUSALS = (401, 403, 407)  # a REGISTER answered so after our credentials: they are wrong
# The pjsua2-python 2.15.1 wheel is built with PJSUA_MAX_CALLS = 4: a process holds at most 4 SIP calls at once,
# whatever uaConfig.maxCalls asks; a 5th INVITE fails with PJ_ETOOMANY (`dialwise bench capacity --network sip`).
# Dials beyond it wait here for a free call instead of failing; a worker runs at most this many lines with the
# sip network enabled (agent.worker.runtime.line_count). More lines: more worker processes. A REFER-
# refused transfer bridges through a second call of the same process, so it needs a free one too.
PJSUA_MAX_CALLS = 4
_call_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def call_slots() -> asyncio.Semaphore:
    """The process's SIP calls (PJSUA_MAX_CALLS), shared by every SipDialer on this event loop."""
    loop = asyncio.get_running_loop()
    if loop not in _call_slots:
        _call_slots[loop] = asyncio.Semaphore(PJSUA_MAX_CALLS)
    return _call_slots[loop]


def sip_options(settings: Any, **overrides: Any) -> SipOptions:
    """SipOptions from the app's settings (SIP_* variables); keyword arguments override."""
    values = dict(
        trunk_uri=settings.sip_trunk_uri, username=settings.sip_username, password=settings.sip_password,
        caller_id=settings.sip_caller_id, codecs=parse_codecs(settings.sip_codecs),
        local_port=settings.sip_local_port, rtp_port_min=settings.sip_rtp_port_min,
        rtp_port_max=settings.sip_rtp_port_max, public_address=settings.sip_public_address,
        max_cps=settings.sip_max_cps, media_thread_nice=settings.sip_media_thread_nice,
        jb_init_ms=settings.sip_jb_init_ms, jb_min_pre_ms=settings.sip_jb_min_pre_ms,
        jb_max_pre_ms=settings.sip_jb_max_pre_ms, jb_max_ms=settings.sip_jb_max_ms,
    )
    values.update(overrides)
    try:
        return SipOptions(**values)
    except SipConfigError as exc:
        raise DialError(str(exc)) from exc


class SipDialer:
    network = "sip"

    def __init__(self, options: SipOptions, runner: SessionRunner, *, uri_template: str | None = None,
                 ring_timeout_s: float | None = None, transfer_target: str | None = None) -> None:
        if not options.trunk_uri and (uri_template or options.uri_template).count("{host}"):
            raise DialError("the sip network needs a trunk: set SIP_TRUNK_URI (see telephony_adapter/README.md)")
        self.options = options
        self.runner = runner
        self.uri_template = uri_template
        self.ring_timeout_s = ring_timeout_s
        self.transfer_target = transfer_target
        self.ua = SipUserAgent(options)
        # the trunk's calls-per-second limit, held across every worker by the dial path's rate slots
        self.rate_limit = (f"sip:{options.trunk_uri or 'direct'}"[:64], options.max_cps)
        self._started = False
        self._start_lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Any, runner: SessionRunner, *, db_url: str | None = None) -> SipDialer:
        """The dialer for this process's SIP_* settings (`db_url` is not needed: the session's runner
        and the dial path own the storage)."""
        return cls(sip_options(settings), runner, ring_timeout_s=settings.ring_timeout_s,
                   transfer_target=settings.transfer_number or None)

    def via(self, uri_template: str) -> SipDialer:
        """A dialer on this one's user agent (started once, shared) whose INVITEs go to `uri_template`,
        e.g. straight to a peer rather than through the trunk (`bench networks`' baresip arm)."""
        other = copy.copy(self)
        other.uri_template = uri_template
        return other

    async def start(self) -> SipUserAgent:
        async with self._start_lock:
            if not self._started:
                try:
                    await self.ua.start()
                except SipConfigError as exc:
                    raise DialError(str(exc)) from exc
                self._started = True
        return self.ua

    async def registration_refused(self) -> str | None:
        """When the trunk refused our credentials (REGISTER answered 401/403/407 after the digest), why, in
        clear text; None when registered, not registering, or not (yet) known. Waits for the first answer."""
        if not self.options.registers:
            return None
        trunk, loop = self.ua.trunk, asyncio.get_running_loop()
        deadline = loop.time() + REGISTER_WAIT_S
        while not trunk.reg_code and loop.time() < deadline:
            await asyncio.sleep(0.05)
        if trunk.registered or trunk.reg_code not in AUTH_REFUSALS:
            return None
        return (f"the trunk refused our registration: SIP {trunk.reg_code} {trunk.reg_reason} "
                f"(check SIP_USERNAME and SIP_PASSWORD for {self.options.trunk_uri})")

    async def dial(self, target: DialTarget) -> DialOutcome:
        await self.start()
        refused = await self.registration_refused()
        if refused:  # no INVITE: the trunk would refuse it too (a campaign-level alarm)
            log.error("sip dial %s: %s", target.call_id, refused)
            return DialOutcome(result=TRUNK_REFUSED, detail=refused, extra={"registration": self.ua.trunk.reg_code})
        slots = call_slots()
        if slots.locked():
            log.info("sip dial %s waits for one of this process's %d SIP calls", target.call_id, PJSUA_MAX_CALLS)
        async with slots:
            return await self._dial(target)

    async def _dial(self, target: DialTarget) -> DialOutcome:
        try:
            attempt = await self.ua.dial(target.phone, uri_template=self.uri_template,
                                         ring_timeout_s=self.ring_timeout_s)
        except SipConfigError as exc:
            raise DialError(str(exc)) from exc
        extra: dict[str, Any] = {"ring_s": attempt.ring_s, **attempt.extra}
        if not attempt.answered:
            result = attempt.result if attempt.result in DIAL_RESULTS else FAILED
            log.info("sip dial %s (%s): %s", target.call_id, target.phone, attempt.detail)
            return DialOutcome(result=result, provider_ref=attempt.sip_call_id or None, detail=attempt.detail,
                               extra=extra)
        transport = attempt.transport
        if self.transfer_target:
            transport.transfer_target = self.transfer_target
        media: dict[str, Any] = {}
        watch = asyncio.create_task(self._watch_media(attempt.leg, media), name="sip-media-stats")
        try:
            call = await self.runner(target.call_id, transport)
        finally:
            watch.cancel()
            await transport.close("session over")
            try:  # PJSIP frees the call at DISCONNECTED: only then may the next dial have it
                await asyncio.wait_for(attempt.leg.ended.wait(), 5)
            except TimeoutError:
                log.warning("sip %s: no end of the call 5 s after our BYE", attempt.sip_call_id)
        media.update(attempt.leg.timing.as_dict(), media_threads=dict(self.ua.started_stack().media_threads))
        extra.update(far_end_hung_up=transport.far_end_hung_up, transfer=transport.transfer_method,
                     frames_in=attempt.leg.frames_in, pacing=transport.pacing, media=media)
        codec = attempt.extra.get("codec")  # on the attempt's detail, e.g. "SIP 200 OK, PCMA"
        return DialOutcome(result=ANSWERED, call=call, provider_ref=attempt.sip_call_id,
                           detail=f"{attempt.detail}, {codec}" if codec else attempt.detail, extra=extra)

    async def _watch_media(self, leg: Any, into: dict[str, Any], every_s: float = 1.0) -> None:
        """While the call lasts, what our jitter buffer holds and how regularly the callee's RTP arrives
        (PJSIP's stream statistics, read on the sip-api thread; the last reading stays in `into`)."""
        stack = self.ua.stack
        if stack is None:
            return
        pj = stack.pj

        def read() -> dict[str, Any] | None:
            call = leg.call
            if call is None or leg.disconnected:  # PJSIP reuses call ids: never ask about an ended call
                return None
            stat = call.getStreamStat(0)
            jb, rx = stat.jbuf, stat.rtcp.rxStat
            return {"jb_delay_ms": {"avg": jb.avgDelayMsec, "min": jb.minDelayMsec, "max": jb.maxDelayMsec},
                    "jb_prefetch": {"now": jb.prefetch, "max": jb.maxPrefetch},
                    "jb_frames": {"lost": jb.lost, "discard": jb.discard, "empty": jb.empty},
                    "rx_jitter_ms": {"mean": round(rx.jitterUsec.mean / 1000, 1),
                                     "max": round(rx.jitterUsec.max / 1000, 1)}}

        while not leg.ended.is_set():
            try:
                got = await stack.run(read)
            except pj.Error:
                got = None
            if got:
                into.update(got)
            try:
                await asyncio.wait_for(leg.ended.wait(), every_s)
            except TimeoutError:
                pass

    async def close(self) -> None:
        if self._started:
            self._started = False
            await self.ua.close()
