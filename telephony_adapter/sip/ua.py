"""SipUserAgent: our account at the trunk, outbound INVITEs and the OPTIONS keepalive.

    ua = SipUserAgent(options)
    await ua.start()                       # REGISTERs when credentials are given
    attempt = await ua.dial("+8613800138000")
    if attempt.answered: ...run a session over attempt.transport...
    else: attempt.result, attempt.detail  # e.g. "busy", "SIP 486 Busy Here"
    await ua.close()

Inbound INVITEs are declined (dialwise only places calls). PJSIP answers everything else itself as
RFC 3261 says: OPTIONS 200, a BYE or CANCEL for an unknown dialog 481, an offer without a codec we
have 488, a malformed request 400 (or silence when it cannot even be parsed).
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from telephony_adapter.sip.leg import CallLeg
from telephony_adapter.sip.options import SipConfigError, SipOptions
from telephony_adapter.sip.results import NO_ANSWER, describe, dial_result
from telephony_adapter.sip.stack import PjStack
from telephony_adapter.sip.transport import SipTransport

log = logging.getLogger(__name__)
PJ_ETOOMANY = 70010  # pj/errno.h: PJ_ERRNO_START_STATUS + 10, "too many objects" (every call slot taken)
CALL_SLOT_WAIT_S = 2.0  # how long an INVITE refused with PJ_ETOOMANY is retried


@dataclass
class DialAttempt:
    answered: bool
    result: str | None = None  # the dial result when not answered (busy, no_answer, ...)
    status: int = 0
    reason: str = ""
    detail: str = ""
    sip_call_id: str = ""
    ring_s: float = 0.0  # INVITE to 200 OK (or to the final answer)
    transport: SipTransport | None = None
    leg: CallLeg | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrunkStatus:
    registered: bool | None = None  # None: not registering
    reg_code: int = 0
    reg_reason: str = ""
    keepalive_code: int = 0  # last OPTIONS answer (0: none yet; 408: no answer)
    keepalive_at: float | None = None  # time.time() of that answer


class SipUserAgent:
    def __init__(self, options: SipOptions) -> None:
        self.options = options
        self.trunk = TrunkStatus(registered=False if options.registers else None)
        self.stack: PjStack | None = None
        self.account: Any = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._keepalive: asyncio.Task | None = None
        self._options_lock = asyncio.Lock()
        self._options_reply: asyncio.Future[int] | None = None
        self._reapers: set[asyncio.Task] = set()

    # --- life -------------------------------------------------------------------------------
    async def start(self) -> SipUserAgent:
        if self.stack is not None:
            return self
        self.loop = asyncio.get_running_loop()
        self.stack = await asyncio.to_thread(PjStack.acquire, self.options)
        self.stack.register_current_thread()
        try:
            self.account = await self.stack.run(self._create_account)
        except Exception:
            self.stack.release()
            self.stack = None
            raise
        if self.options.keepalive_s > 0 and self.options.trunk_uri:
            self._keepalive = asyncio.create_task(self._keepalive_loop(), name="sip-keepalive")
        return self

    def started_stack(self) -> PjStack:
        """The PJSIP stack, held from start() to close()."""
        if self.stack is None:
            raise SipConfigError("the SIP user agent is not started")
        return self.stack

    @property
    def local_port(self) -> int:
        return self.stack.local_port if self.stack else self.options.local_port

    async def close(self) -> None:
        if self.stack is None:
            return
        if self._keepalive is not None:
            self._keepalive.cancel()
        for task in list(self._reapers):
            task.cancel()
        stack = self.stack
        self.stack = None

        def drop() -> None:  # on the sip-api thread: the last references to pjsua2 objects go here
            for leg in [leg for leg in stack.legs if leg.account is self.account]:
                leg.release()
            self.account.retire(stack)  # unREGISTERs, once no request of ours is pending
            self.account = None

        try:
            await stack.run(drop)
        finally:
            stack.release()

    def _create_account(self) -> Any:
        stack = self.started_stack()
        o, pj = self.options, stack.pj
        cfg = pj.AccountConfig()
        cfg.idUri = o.from_uri()
        if o.registers:
            cfg.idUri = f"sip:{o.username}@{o.trunk_host}"
            cfg.regConfig.registrarUri = f"sip:{o.trunk_host}"
            cfg.regConfig.timeoutSec = o.registration_expiry_s
            cfg.regConfig.registerOnAdd = True
        else:
            cfg.regConfig.registrarUri = ""
        if o.username:
            cfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", o.username, 0, o.password))
        cfg.sipConfig.transportId = stack.transport_id
        if o.advertised_address:  # behind NAT: trust the configured address, don't rewrite from Via
            cfg.natConfig.contactRewriteUse = 0
            cfg.natConfig.viaRewriteUse = 0
            cfg.natConfig.sdpNatRewriteUse = 0
            cfg.mediaConfig.transportConfig.publicAddress = o.advertised_address
        if o.bind_address:
            cfg.mediaConfig.transportConfig.boundAddress = o.bind_address
        cfg.mediaConfig.transportConfig.port = o.rtp_port_min
        cfg.mediaConfig.transportConfig.portRange = o.rtp_port_max - o.rtp_port_min + 1
        cfg.callConfig.timerUse = pj.PJSUA_SIP_TIMER_OPTIONAL
        account = _account_class(pj)(self)
        account.create(cfg, True)
        stack.accounts.append(account)
        return account

    # --- dialing ----------------------------------------------------------------------------
    async def dial(self, phone: str, *, uri_template: str | None = None,
                   ring_timeout_s: float | None = None) -> DialAttempt:
        """INVITE `phone` at the trunk (with our caller id); returns when answered or finally not."""
        uri = self.options.dial_uri(phone, uri_template)
        headers = dict(self.options.headers)
        if self.options.caller_id:
            headers.setdefault("P-Asserted-Identity", f"<{self.options.from_uri()}>")
        attempt = await self.place(uri, ring_timeout_s=ring_timeout_s, headers=headers)
        if attempt.answered:
            assert attempt.leg is not None  # place() gives every answered attempt its leg
            attempt.transport = SipTransport(self, attempt.leg)
            attempt.transport.started()
        return attempt

    async def place(self, uri: str, *, ring_timeout_s: float | None = None,
                    headers: dict[str, str] | None = None) -> DialAttempt:
        if self.stack is None or self.loop is None:  # start() sets both
            raise SipConfigError("the SIP user agent is not started")
        ring_timeout_s = self.options.ring_timeout_s if ring_timeout_s is None else ring_timeout_s
        leg = CallLeg(self.stack, self.account, self.loop, answer_guard_ms=self.options.answer_guard_ms)
        t0 = time.monotonic()
        busy_until = t0 + CALL_SLOT_WAIT_S
        while True:
            try:
                await self.stack.run(leg.start, uri, headers or {})
                break
            except self.stack.pj.Error as exc:
                # PJ_ETOOMANY: PJSIP frees an ended call's slot just after it reported DISCONNECTED, so a
                # dial let through at that moment may find every slot still taken for a few ms
                if getattr(exc, "status", None) == PJ_ETOOMANY and time.monotonic() < busy_until:
                    await asyncio.sleep(0.02)
                    continue
                await self.stack.run(leg.release)
                return DialAttempt(False, result="failed", detail=f"INVITE not sent: {exc.info().strip()}")
        self._reap_when_ended(leg)
        answered = asyncio.ensure_future(leg.answered.wait())
        ended = asyncio.ensure_future(leg.ended.wait())
        try:
            await asyncio.wait({answered, ended}, timeout=ring_timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            answered.cancel()
            ended.cancel()
        st = leg.st
        extra = {"early_media_frames": leg.early_frames, "early_media_peak": leg.early_peak}
        if leg.answered.is_set() and not leg.ended.is_set():
            return DialAttempt(True, status=200, reason=st.reason, detail=describe(200, st.reason),
                               sip_call_id=st.sip_call_id, ring_s=round(time.monotonic() - t0, 3), leg=leg,
                               extra={**extra, "codec": st.codec})
        timed_out = not leg.ended.is_set()
        if timed_out:  # our ring timeout: CANCEL (or BYE, if the 200 crossed it)
            await self.stack.run(leg.hangup)
            try:
                await asyncio.wait_for(leg.ended.wait(), 10)
            except TimeoutError:
                log.warning("sip: no final answer to our CANCEL of %s", uri)
        ring_s = round(time.monotonic() - t0, 3)
        extra.update(status=st.status)
        if timed_out:
            detail = f"no answer within {ring_timeout_s:g} s: CANCEL ({describe(st.status, st.reason)})"
            return DialAttempt(False, result=NO_ANSWER, status=st.status, reason=st.reason, detail=detail,
                               sip_call_id=st.sip_call_id, ring_s=ring_s, extra=extra)
        if leg.answered.is_set():  # answered and gone before we looked
            return DialAttempt(False, result="failed", status=st.status, reason=st.reason,
                               detail=f"answered, then ended at once ({describe(st.status, st.reason)})",
                               sip_call_id=st.sip_call_id, ring_s=ring_s, extra=extra)
        return DialAttempt(False, result=dial_result(st.status), status=st.status, reason=st.reason,
                           detail=describe(st.status, st.reason), sip_call_id=st.sip_call_id, ring_s=ring_s,
                           extra=extra)

    def _reap_when_ended(self, leg: CallLeg) -> None:
        async def reap() -> None:
            await leg.ended.wait()
            if leg.bridged_to is not None:
                await leg.bridged_to.ended.wait()
            await asyncio.sleep(0.2)
            if self.stack is not None:
                await self.stack.run(leg.release)

        task = asyncio.create_task(reap(), name="sip-reap")
        self._reapers.add(task)
        task.add_done_callback(self._reapers.discard)

    # --- OPTIONS ----------------------------------------------------------------------------
    async def ping(self, uri: str | None = None, timeout_s: float = 10.0) -> int:
        """Send OPTIONS (to the trunk by default); the status code of the answer, 408 on none."""
        uri = uri or self.options.trunk_uri
        async with self._options_lock:
            if self.stack is None or self.loop is None:  # start() sets both
                raise SipConfigError("the SIP user agent is not started")
            self._options_reply = self.loop.create_future()
            pj = self.stack.pj

            def send() -> None:
                prm = pj.SendRequestParam()
                prm.method = "OPTIONS"
                prm.txOption.targetUri = uri
                self.account.send_request(prm)

            try:
                await self.stack.run(send)
                code = await asyncio.wait_for(self._options_reply, timeout_s)
            except TimeoutError:
                code = 408
            except pj.Error as exc:
                log.warning("sip: OPTIONS to %s not sent: %s", uri, exc.info())
                code = 0
            finally:
                self._options_reply = None
        if uri == self.options.trunk_uri:
            self.trunk.keepalive_code, self.trunk.keepalive_at = code, time.time()
        return code

    def _on_options_reply(self, code: int) -> None:
        if self._options_reply is not None and not self._options_reply.done():
            self._options_reply.set_result(code)

    async def _keepalive_loop(self) -> None:
        while True:
            code = await self.ping()
            if code != 200:
                log.warning("sip: trunk %s answered OPTIONS with %s", self.options.trunk_uri, code or "nothing")
            await asyncio.sleep(self.options.keepalive_s)

    def _on_reg_state(self, code: int, reason: str, expiration: int) -> None:
        self.trunk.reg_code, self.trunk.reg_reason = code, reason
        self.trunk.registered = 200 <= code < 300 and expiration > 0
        log.info("sip: registration %s %s", code, reason)


_account_cls: list[type] = []
_RETIRED_ACCOUNTS: list[Any] = []  # shut-down accounts, never destroyed before the process ends


def _account_class(pj: Any) -> type:
    if _account_cls:
        return _account_cls[0]

    class _Account(pj.Account):
        """PJSIP reports the end of every request sent with `sendRequest` (an OPTIONS) to its account, up to
        32 s later when nobody answers, and asserts that the account still exists (an abort otherwise: "Fatal
        Python error: Aborted" on the SIP worker thread, in `pjsua_acc_get_user_data` under
        `Endpoint::on_acc_send_request`). So an account is deleted only once none of its requests is pending."""

        def __init__(self, ua: SipUserAgent) -> None:
            super().__init__()
            self._ua = weakref.ref(ua)  # no cycle may hold a pjsua2 object (see leg.py)
            self._pending = 0  # requests sent and not yet ended (sip-api thread and SIP worker thread)
            self._lock = threading.Lock()  # guards _pending and _retire_on; never held while calling PJSIP
            self._retire_on: PjStack | None = None  # retire when the last pending request ends

        def send_request(self, prm: Any) -> None:
            """sendRequest, counted (on the sip-api thread)."""
            with self._lock:
                self._pending += 1
            try:
                self.sendRequest(prm)
            except pj.Error:
                with self._lock:
                    self._pending -= 1
                raise

        def retire(self, stack: PjStack) -> None:
            """Delete the account (unREGISTER) now, or when its last pending request has ended (sip-api thread)."""
            with self._lock:
                if self._pending > 0:
                    self._retire_on = stack
                    return
            self._shutdown(stack)

        def _shutdown(self, stack: PjStack) -> None:
            self.shutdown()
            if self in stack.accounts:
                stack.accounts.remove(self)
            # PJSIP reuses account ids, and a pjsua2 Account deletes "its" id again when it is destroyed:
            # an old object freed later would delete the next user agent's account. Keep it for good.
            _RETIRED_ACCOUNTS.append(self)

        def pending_requests(self) -> int:
            with self._lock:
                return self._pending

        def _post(self, name: str, *args: Any) -> None:
            ua = self._ua()
            if ua is None or ua.loop is None:
                return
            try:
                ua.loop.call_soon_threadsafe(getattr(ua, name), *args)
            except RuntimeError:
                pass

        def onRegState(self, prm: Any) -> None:
            self._post("_on_reg_state", int(prm.code), str(prm.reason), int(prm.expiration))

        def onIncomingCall(self, prm: Any) -> None:
            call = pj.Call(self, prm.callId)  # dialwise only dials out: decline, at once
            op = pj.CallOpParam()
            op.statusCode = 603
            op.reason = "Decline"
            try:
                call.hangup(op)
            except pj.Error:
                pass

        def onSendRequest(self, prm: Any) -> None:  # once per request, when it has ended (SIP worker thread)
            try:
                code = int(prm.e.body.tsxState.tsx.statusCode)
            except Exception:
                code = 0
            with self._lock:
                self._pending = max(0, self._pending - 1)
                stack = self._retire_on if self._pending == 0 else None
                if stack is not None:
                    self._retire_on = None
            if stack is not None:
                stack.submit(self._shutdown, stack)  # after this callback, on the sip-api thread
            if code >= 200:
                self._post("_on_options_reply", code)

    _account_cls.append(_Account)
    return _Account
