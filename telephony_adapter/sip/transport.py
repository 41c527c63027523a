"""SipTransport: one answered SIP call as a `Transport` for the call session.

Inbound: 20 ms frames of 8 kHz PCM from the leg's media port (PJSIP has decoded G.711 and run its
jitter buffer) and RFC 4733 digits go through `serializers/sip.py` (→ `AudioIn`, `DtmfIn`; a bad
one is dropped with a log line); the far end's BYE ends the inbox.
Outbound: `PacedTransport` frames and paces agent audio; each paced frame goes into the leg's
queue, which the conference bridge drains every 20 ms. Marks are local (played when the play-out
clock passes them), as on AudioSocket. `clear` drops the queue at once.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from telephony_adapter.base import Start
from telephony_adapter.serializers.sip import SipSerializer
from telephony_adapter.sip.leg import CallLeg, LegEnded
from telephony_adapter.wire import PacedTransport

if TYPE_CHECKING:
    from telephony_adapter.sip.ua import SipUserAgent

log = logging.getLogger(__name__)
DTMF_DIGITS = set("0123456789*#ABCD")


class SipTransport(PacedTransport):
    inbound_rate = 8000
    wire_rate = 8000
    local_marks = True

    def __init__(self, ua: SipUserAgent, leg: CallLeg, *, lead_s: float = 0.06,
                 transfer_target: str | None = None, transfer_timeout_s: float = 30.0) -> None:
        super().__init__(lead_s=lead_s)
        self.serializer: SipSerializer = SipSerializer()
        self.ua = ua
        self.leg = leg
        self.transfer_target = transfer_target
        self.transfer_timeout_s = transfer_timeout_s
        self.transfer_method: str | None = None  # "refer" | "bridge" once transferred
        self.bridge_leg: CallLeg | None = None
        self.far_end_hung_up = False
        self.digits_sent: list[str] = []
        leg.on_audio = self._take
        leg.on_dtmf = self._take
        leg.on_end = self._on_far_end

    @property
    def call_id(self) -> str:
        return self.leg.st.sip_call_id

    def started(self) -> None:
        """The callee answered: the session may start reading."""
        self._emit(Start(call_id=None, params={"sip_call_id": self.leg.st.sip_call_id, "codec": self.leg.st.codec}))

    # --- from the leg (on the loop) ---------------------------------------------------------
    def _on_far_end(self, status: int, reason: str) -> None:
        if self.transfer_method is None and not self.ended:  # not our own BYE coming back
            self.far_end_hung_up = True
        self._end("hangup" if self.transfer_method is None else "transferred")

    # --- PacedTransport hooks ---------------------------------------------------------------
    async def _send_wire(self, wire: bytes) -> None:
        self.leg.queue_frame(wire)

    async def _send_clear(self) -> None:
        self.leg.outq.clear()

    async def _close_wire(self, reason: str) -> None:
        if self.transfer_method == "bridge" or self.leg.ended.is_set():
            return
        for _ in range(25):  # let the last queued frames (<= lead) reach the wire before the BYE
            if not self.leg.outq:
                break
            await asyncio.sleep(0.02)
        await self.ua.started_stack().run(self.leg.hangup)

    # --- DTMF out -----------------------------------------------------------------------------
    async def send_dtmf(self, digits: str) -> None:
        """RFC 4733 telephone-events to the callee (e.g. to drive an IVR)."""
        digits = "".join(d for d in digits.upper() if d in DTMF_DIGITS)
        if not digits or self.ended:
            return
        try:
            await self.ua.started_stack().run(self.leg.send_dtmf, digits)
        except LegEnded:
            return
        self.digits_sent.append(digits)

    # --- transfer -----------------------------------------------------------------------------
    async def transfer(self, target: str | None = None) -> bool:
        """REFER the callee to `target` (a sip: URI or a phone number at the trunk). If the callee's
        side refuses the REFER, call the target ourselves and bridge the two calls."""
        target = target or self.transfer_target
        if not target or self.ended:
            return False
        uri = target if target.lower().startswith(("sip:", "sips:")) else self.ua.options.dial_uri(target)
        verdict = await self._refer(uri)
        if verdict == "done":
            self.transfer_method, self.transferred_to = "refer", uri
            self._end("transferred")
            await self.close("transferred")  # BYE our leg if the transferee has not already
            return True
        if verdict != "refused":
            log.warning("sip %s: REFER to %s failed (%s); the call stays with the agent", self.call_id, uri, verdict)
            return False
        return await self._bridge(uri)

    async def _refer(self, uri: str) -> str:
        loop = asyncio.get_running_loop()
        verdict: asyncio.Future[str] = loop.create_future()
        accepted = False

        def on_status(status: int, reason: str, final: bool) -> None:
            nonlocal accepted
            if verdict.done():
                return
            if status < 300 and not final:
                accepted = True  # 202 Accepted / NOTIFY 1xx: the transferee is dialing
            elif final and 200 <= status < 300 and status != 202:
                verdict.set_result("done")
            elif final and status >= 300:
                verdict.set_result(f"failed: SIP {status} {reason}" if accepted else "refused")
            elif final and status == 202:
                accepted = True

        self.leg.on_transfer = on_status
        stack = self.ua.started_stack()
        try:
            await stack.run(self.leg.refer, uri)
        except (stack.pj.Error, LegEnded) as exc:
            log.info("sip %s: REFER not sent: %s", self.call_id, exc.info() if hasattr(exc, "info") else exc)
            return "refused" if not self.leg.ended.is_set() else "failed: call ended"
        ended = asyncio.ensure_future(self.leg.ended.wait())
        waiters: set[asyncio.Future[Any]] = {verdict, ended}
        try:
            await asyncio.wait(waiters, timeout=self.transfer_timeout_s,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
            self.leg.on_transfer = None
        if verdict.done():
            return verdict.result()
        if self.leg.ended.is_set():  # the transferee hung up on us after taking the REFER
            return "done" if accepted else "failed: call ended"
        return "failed: no final NOTIFY in time"

    async def _bridge(self, uri: str) -> bool:
        """Fallback: a second call from us to the target, conferenced with the callee."""
        attempt = await self.ua.place(uri, ring_timeout_s=self.transfer_timeout_s)
        if not attempt.answered or self.leg.ended.is_set():
            if attempt.answered:
                assert attempt.leg is not None  # place() gives every answered attempt its leg
                await self.ua.started_stack().run(attempt.leg.release)
            log.warning("sip %s: bridge to %s failed: %s", self.call_id, uri, attempt.detail)
            return False
        await self._send_clear()
        await self.ua.started_stack().run(self.leg.bridge, attempt.leg)
        self.bridge_leg = attempt.leg
        self.transfer_method, self.transferred_to = "bridge", uri
        self._end("transferred")
        await self.close("transferred")  # keeps both SIP calls up; either BYE ends the other
        return True
