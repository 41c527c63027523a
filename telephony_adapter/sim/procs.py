"""Stopping the helper processes of the simulators and benches (baresip, SIPp, the SIP test carrier, a worker or a
server under test): a signal (SIGTERM), a grace period, then SIGKILL. One way, so no caller leaves a process behind."""
from __future__ import annotations

import signal
import subprocess


def stop_process(proc: subprocess.Popen, grace_s: float = 5.0, kill_wait_s: float | None = 5.0,
                 sig: int = signal.SIGTERM) -> int | None:
    """Send `sig` to `proc` if it still runs, kill it if it has not exited within `grace_s`; its return code
    (None only if even SIGKILL did not end it within `kill_wait_s`; None there: wait as long as it takes)."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            try:
                proc.wait(kill_wait_s)
            except subprocess.TimeoutExpired:
                pass
    return proc.returncode
