"""Stopping the helper processes of the simulators and benches (baresip, SIPp, the SIP test carrier, a server
under test): SIGTERM, a grace period, then SIGKILL. One way, so no caller leaves a process behind."""
from __future__ import annotations

import subprocess


def stop_process(proc: subprocess.Popen, grace_s: float = 5.0, kill_wait_s: float = 5.0) -> int | None:
    """Terminate `proc` if it still runs, kill it if it has not exited within `grace_s`; its return code
    (None only if even SIGKILL did not end it within `kill_wait_s`)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            try:
                proc.wait(kill_wait_s)
            except subprocess.TimeoutExpired:
                pass
    return proc.returncode
