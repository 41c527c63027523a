"""Stopping the simulators' helper processes (telephony_adapter/sim/procs.py), on real child processes."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

from telephony_adapter.sim.procs import stop_process


def _child(code: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "up"  # its handlers are in place
    return proc


def test_a_process_that_stops_on_sigterm_is_not_killed():
    proc = _child("import signal, sys, time\n"
                  "signal.signal(signal.SIGTERM, lambda *a: sys.exit(3))\nprint('up', flush=True)\ntime.sleep(60)")
    assert stop_process(proc, grace_s=5) == 3


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace_period():
    proc = _child("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('up', flush=True)\n"
                  "time.sleep(60)")
    t0 = time.monotonic()
    assert stop_process(proc, grace_s=0.5) == -9
    assert 0.4 < time.monotonic() - t0 < 5


def test_a_process_that_has_ended_is_left_alone():
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(7)"])
    proc.wait(10)
    assert stop_process(proc) == 7


def test_another_signal_can_ask_first_and_the_kill_can_wait_without_a_limit():
    proc = _child("import signal, sys, time\n"
                  "signal.signal(signal.SIGINT, lambda *a: sys.exit(4))\nprint('up', flush=True)\ntime.sleep(60)")
    assert stop_process(proc, grace_s=5, sig=signal.SIGINT) == 4
    stubborn = _child("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('up', flush=True)\n"
                      "time.sleep(60)")
    assert stop_process(stubborn, grace_s=0.3, kill_wait_s=None) == -9
