"""Failed key checks per client, over a sliding minute: past the limit the client is answered 429.

A blocked client is not even looked up, so guessing stops paying until the window moves on. Only wrong
keys count (a request without any key is a plain 401). State is per process and in memory.
"""
from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

WINDOW_S = 60.0
MAX_CLIENTS = 10_000  # the oldest clients are forgotten beyond this


class FailureThrottle:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic,
                 window_s: float = WINDOW_S) -> None:
        self.per_minute = per_minute
        self.window_s = window_s
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._failures.get(client)
        if times is None:
            return deque()
        while times and now - times[0] >= self.window_s:
            times.popleft()
        if not times:
            self._failures.pop(client, None)
        return times

    def retry_after(self, client: str) -> int:
        """Seconds until this client may try again; 0 when it may now."""
        with self._lock:
            now = self.clock()
            times = self._recent(client, now)
            if len(times) < self.per_minute:
                return 0
            return max(1, math.ceil(self.window_s - (now - times[-self.per_minute])))

    def blocked(self, client: str) -> bool:
        return self.retry_after(client) > 0

    def failed(self, client: str) -> None:
        with self._lock:
            now = self.clock()
            times = self._recent(client, now)
            self._failures[client] = times
            self._failures.move_to_end(client)
            times.append(now)
            while len(self._failures) > MAX_CLIENTS:
                self._failures.popitem(last=False)


def failure_throttle(app) -> FailureThrottle:
    throttle = getattr(app.state, "auth_throttle", None)
    if throttle is None:
        from agent.config import get_settings

        throttle = app.state.auth_throttle = FailureThrottle(get_settings().auth_failures_per_minute)
    return throttle


def client_of(request) -> str:
    client = getattr(request, "client", None)
    return client.host if client else "?"
