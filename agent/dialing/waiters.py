"""Per-call waiters: a dialer waits on one, whoever ends the call in this process resolves it.

Thread-safe across event loops: the media-stream session may run in the server's loop while
the dialer awaits in a worker's loop. A waiter is resolved at most once (first wins).
"""
from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any


@dataclass
class CallEnd:
    kind: str  # "session" (value: CallResult) | "status" (value: the network result, e.g. busy)
    value: Any
    provider_ref: str | None = None


_lock = threading.Lock()
_waiters: dict[str, asyncio.Future[CallEnd]] = {}
_runners: dict[str, Any] = {}
_sessions_here: set[str] = set()  # calls whose media-stream session runs in this process, for a waiting dialer


def register(call_id: str, runner: Any = None) -> asyncio.Future[CallEnd]:
    """A future in the running loop, resolved by `resolve(call_id, …)`. Call `discard` when done.
    `runner`: the dialer's session runner (its models and call settings), for the media stream
    that connects in this process."""
    fut: asyncio.Future[CallEnd] = asyncio.get_running_loop().create_future()
    with _lock:
        _waiters[call_id] = fut
        if runner is not None:
            _runners[call_id] = runner
    return fut


def runner_for(call_id: str) -> Any:
    with _lock:
        return _runners.get(call_id)


def session_started(call_id: str) -> None:
    """The media-stream session of `call_id` runs in this process: its end will resolve the waiter here."""
    with _lock:
        if call_id in _waiters:  # nobody waits here: nothing to record (and nothing would discard it)
            _sessions_here.add(call_id)


def session_here(call_id: str) -> bool:
    with _lock:
        return call_id in _sessions_here


def discard(call_id: str) -> None:
    with _lock:
        _waiters.pop(call_id, None)
        _runners.pop(call_id, None)
        _sessions_here.discard(call_id)


def resolve(call_id: str, end: CallEnd) -> bool:
    """Wake the dialer waiting on `call_id` (if any, in this process). Returns whether one was waiting."""
    with _lock:
        fut = _waiters.get(call_id)
    if fut is None:
        return False

    def _set() -> None:
        if not fut.done():
            fut.set_result(end)

    try:
        fut.get_loop().call_soon_threadsafe(_set)
    except RuntimeError:  # that loop is closed: nobody is waiting any more
        return False
    return True
