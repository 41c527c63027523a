"""Free TCP ports for the tests' servers, chosen below the kernel's ephemeral range (32768-60999).

A port from bind(0) lies in the ephemeral range: between releasing it and the server binding it, any
process's outgoing connection (five xdist workers make many) can take it. Ports chosen at random in
10000-19999 are never handed out by the kernel, so only another test's choice could collide (rare), and the
bind check skips ports in use. (baresip's ports are 30000-32699: telephony_adapter/sim/baresip.py, whose picker
this uses.)

Browsers refuse some ports outright (Chromium's `net::ERR_UNSAFE_PORT`, Firefox's "port restricted"); a console
test whose server drew one failed in CI (10080). Those above 1023 are never chosen."""
from __future__ import annotations

from telephony_adapter.sim.baresip import TCP, free_port_for

TEST_PORTS = (10000, 20000)

# The restricted ports above 1023 in Chromium's net/base/port_util.cc (Firefox's list is a subset of these).
BROWSER_UNSAFE = frozenset({1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566,
                            6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080})


def free_port(ports: tuple[int, int] = TEST_PORTS) -> int:
    return free_port_for((TCP, 0), ports=ports, skip=BROWSER_UNSAFE)
