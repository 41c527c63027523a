"""The loopback network: each dial connects to a simulated customer who speaks (real audio, heard
through the same Whisper), so a whole campaign runs offline with the real models."""
from __future__ import annotations

import asyncio
import logging
from datetime import date

from agent.dialing.base import ANSWERED, DialOutcome, DialTarget, SessionRunner
from agent.pipeline import CallDeps
from telephony_adapter.loopback import LoopbackLine
from telephony_adapter.sim import SimulatedCustomer, persona_from_dict

log = logging.getLogger("dialwise.dialing.loopback")


class LoopbackDialer:
    network = "loopback"
    rate_limit = None

    def __init__(self, deps: CallDeps, run_session: SessionRunner) -> None:
        self.deps = deps
        self.run_session = run_session

    def _hear(self, audio16k, lang: str) -> str:  # the customer's ears: the same Whisper, its own thread
        return self.deps.asr.transcribe(audio16k, language=lang).text

    async def dial(self, target: DialTarget) -> DialOutcome:
        persona = dict(target.persona or {"behaviour": "pays", "lang": target.language})
        line = LoopbackLine(call_id=target.call_id)
        customer = SimulatedCustomer(persona_from_dict(persona), line.customer, transcriber=self._hear)
        await customer.prepare()  # before the line opens: a machine's greeting is recorded beforehand
        async with line:
            cust_task = asyncio.create_task(customer.run())
            try:
                result = await self.run_session(target.call_id, line.agent)
            finally:
                try:
                    await asyncio.wait_for(cust_task, timeout=5)
                except (TimeoutError, Exception):  # the customer is a simulation; the call is done
                    cust_task.cancel()
            latencies = [s.latency_ms for s in line.customer.latency if s.latency_ms is not None]
            clog = [e.__dict__ for e in customer.log]
        return DialOutcome(ANSWERED, call=result, provider_ref=f"loopback:{target.call_id}",
                           extra={"customer_log": clog, "callee_latency_ms": latencies})

    async def close(self) -> None:
        return None


def session_runner(deps: CallDeps, *, config=None, today: date | None = None,
                   db_url: str | None = None) -> SessionRunner:
    """Runs agent.calls.run_call with this process's models and the given call settings."""
    from agent.calls import run_call

    async def run(call_id: str, transport):
        return await run_call(call_id, transport, deps=deps, config=config, today=today, db_url=db_url)

    return run
