"""`bench networks`' baresip arm: the SipDialer's INVITEs go straight to Debian's baresip, an independent SIP
endpoint, whose accounts are the recorded callees (the same clips and pacing as the test carriers').

Voice-to-voice is measured at baresip, from its own recordings of what it said and heard
(telephony_adapter/sim/baresip_callee.py): the end of the callee's words to the first agent audio out of
baresip's jitter buffer. One baresip process holds every account the arm dials (the request-URI's user
picks the account); each level's callees answer, speak and hang up as asyncio tasks of this process,
beside the sessions they talk to.
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np

from agent.dialing.bench_levels import _phone

QUIET_S = 600  # the microphone before the first clip: baresip hangs up when its WAV ends


def arm_phones(runs: list[tuple[str, int]], tags: list[str], arm: str = "baresip") -> list[str]:
    """The numbers `_seed` gives the arm's levels (zh and en alternate), in order."""
    return [_phone("zh" if i % 2 == 0 else "en", tag, i)
            for (name, n), tag in zip(runs, tags, strict=True) if name == arm for i in range(n)]


class BaresipCallees:
    """One baresip process with an account per number; `level` runs those numbers' callees."""

    def __init__(self, folder: Path, codecs: str) -> None:
        self.folder = folder
        self.codecs = codecs
        self.br: Any = None

    def start(self, phones: list[str], max_calls: int) -> None:
        from agent.errors import UserError
        from telephony_adapter.sim.baresip import Baresip, Callee, ensure_baresip, write_wav8k

        if ensure_baresip() is None:
            raise UserError("the baresip arm needs Debian's baresip (apt-get install baresip), "
                            "or leave it out: --arms twilio,sip")
        self.folder.mkdir(parents=True, exist_ok=True)
        quiet = write_wav8k(self.folder / "quiet.wav", np.zeros(8000 * QUIET_S, np.int16))
        callees = [Callee(p, answermode="manual", codecs=self.codecs, audio_source=str(quiet)) for p in phones]
        self.br = Baresip(self.folder / "baresip", quiet, callees, max_calls=max(4, max_calls))
        self.br.start()

    @property
    def uri_template(self) -> str:
        return f"sip:{{phone}}@127.0.0.1:{self.br.port}"

    def level(self, phones: list[str], numbers: dict[str, Any]) -> list[asyncio.Task[dict[str, Any]]]:
        """Start the callees of `phones` (before their attempts are dialled)."""
        from telephony_adapter.sim.baresip_callee import run_callee
        from telephony_adapter.sim.baresip_line import Line
        from telephony_adapter.sim.callee_turns import CallerBehaviour

        gate = asyncio.Lock()
        tasks = []
        for phone in phones:
            behaviour = CallerBehaviour(**numbers[phone]["caller"])
            line = Line(self.br, phone, self.folder)
            tasks.append(asyncio.create_task(run_callee(line, behaviour, gate), name=f"baresip-callee-{phone}"))
        return tasks

    @staticmethod
    async def reports(tasks: list[asyncio.Task[dict[str, Any]]], timeout: float = 120.0) -> dict[str, dict[str, Any]]:
        """Each callee's report by SIP Call-ID, as the carriers file theirs (`Stack.carrier_calls`)."""
        done, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        out: dict[str, dict[str, Any]] = {}
        for task in done:
            if task.cancelled() or task.exception() is not None:
                continue
            rep = task.result()
            call_id = rep.pop("call_id", "")
            out[call_id] = {"status": "completed" if not rep.get("error") else "failed", "caller": rep}
        return out

    def stop(self) -> None:
        if self.br is not None:
            self.br.stop()
