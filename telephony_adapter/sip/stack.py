"""The one PJSIP endpoint of a process (pjsua2), and the thread that talks to it.

PJSIP allows a single `Endpoint` per process. It runs its own threads: a SIP worker (network,
timers, our Call/Account callbacks) and the null sound device's clock (the conference bridge,
which pulls and pushes our media frames every 20 ms). Every call *into* PJSIP from dialwise goes
through one registered "sip-api" thread (`PjStack.run`), so the asyncio loop never waits on a
PJSIP lock. Callbacks *from* PJSIP never block: they copy what they need and hand it to the loop
with `call_soon_threadsafe` (see telephony_adapter/sip/leg.py).
"""
from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from telephony_adapter.sip.options import SipConfigError, SipOptions

log = logging.getLogger(__name__)
T = TypeVar("T")


def load_pjsua2() -> Any:
    try:
        import pjsua2
    except ImportError as exc:  # pragma: no cover - the wheel is a dependency
        raise SipConfigError("the SIP network needs PJSIP's Python binding: pip install pjsua2-python") from exc
    return pjsua2


class PjStack:
    """Process-wide PJSIP endpoint: library, UDP transport, codecs, null audio device."""

    _instance: PjStack | None = None
    _lock = threading.Lock()

    def __init__(self, options: SipOptions) -> None:
        self.options = options
        self.key = options.process_key()
        self.pj = load_pjsua2()
        self.users = 0  # user agents holding the stack
        self._api = _ApiThread()
        self.legs: set[Any] = set()  # live call legs (telephony_adapter/sip/leg.py), released before shutdown
        self.accounts: list[Any] = []  # pjsua2 accounts of the user agents, deleted before shutdown
        # every pjsua2 Call placed here, from makeCall until PJSIP is done with it (telephony_adapter/sip/leg.py):
        # Python must not free a Call wrapper while PJSIP may still call it back
        self.calls: set[Any] = set()
        self.ended_calls: deque[Any] = deque(maxlen=16)  # the last ended ones, kept a while longer (leg.py)
        self.ep: Any = None
        self.transport_id: int | None = None
        self.local_port = options.local_port  # the bound SIP port, once started (options may say 0)
        self._closed = False
        self.media_threads: dict[str, int | str] = {}  # PJSIP media thread -> its nice value (or why not)
        self.clock_tid = 0  # the conference clock's thread, once a media port has been called on it
        self._threads_before: dict[int, str] = {}  # the process's threads before PJSIP started its own
        self._api.submit(self._start).result()

    # --- process-wide access ----------------------------------------------------------------
    @classmethod
    def acquire(cls, options: SipOptions) -> PjStack:
        """The running stack for these options; started on first use. A stack with other
        per-process options is restarted when nobody uses it, refused otherwise."""
        with cls._lock:
            stack = cls._instance
            if stack is not None and stack.key != options.process_key():
                if stack.users:
                    raise SipConfigError("a SIP stack with other local port/codec/RTP options is in use in this "
                                         "process (one PJSIP endpoint per process)")
                stack._shutdown()
                stack = cls._instance = None
            if stack is None:
                stack = cls._instance = PjStack(options)
            stack.users += 1
            return stack

    def release(self) -> None:
        with PjStack._lock:
            self.users = max(0, self.users - 1)

    def call_ended(self, call: Any) -> None:
        """On the sip-api thread, after PJSIP reported `call` DISCONNECTED: it keeps no more of it. The wrapper
        is still kept until 16 more calls have ended (no callback of PJSIP's may be on its way any more)."""
        if call in self.calls:
            self.calls.discard(call)
            self.ended_calls.append(call)

    # --- the API thread ---------------------------------------------------------------------
    def register_current_thread(self) -> None:
        """Let this thread (e.g. the event loop's) touch PJSIP objects: the garbage collector may drop
        one anywhere. Registration is a thread-local record, it takes no lock."""
        self._ensure_registered()

    def on_clock_thread(self) -> None:
        """Called by a media port on the conference clock's thread each tick: the null sound device starts
        that thread when the first call connects (and again after it was idle), so it is prioritised here."""
        tid = threading.get_native_id()
        if tid != self.clock_tid:
            self.clock_tid = tid
            self.media_threads["clock"] = set_nice(tid, self.options.media_thread_nice)
            if "media" not in self.media_threads:  # it may not have had its name yet when PJSIP started
                self.media_threads.update(prioritise_media_threads(self._threads_before, self.options.media_thread_nice,
                                                                   names=("media",)))

    def _ensure_registered(self) -> None:
        pj_ep = self.ep or self.pj.Endpoint.instance()
        if not pj_ep.libIsThreadRegistered():
            pj_ep.libRegisterThread(threading.current_thread().name)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(*args) on the sip-api thread; the event loop only awaits."""
        if self._closed:
            raise SipConfigError("the SIP stack is shut down")
        return await asyncio.wrap_future(self._api.submit(self._guarded, fn, args))

    def run_sync(self, fn: Callable[..., T], *args: Any) -> T:
        """Same, from a plain thread (blocking)."""
        return self._api.submit(self._guarded, fn, args).result()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Fire and forget (for PJSIP callbacks that must not call back into PJSIP themselves)."""
        if not self._closed:
            self._api.submit(self._guarded_quiet, fn, args)

    def _guarded(self, fn: Callable[..., T], args: tuple) -> T:
        self._ensure_registered()
        return fn(*args)

    def _guarded_quiet(self, fn: Callable[..., Any], args: tuple) -> None:
        try:
            self._guarded(fn, args)
        except Exception as exc:
            log.warning("sip: %s failed: %s", getattr(fn, "__name__", fn), exc)

    # --- start and stop ---------------------------------------------------------------------
    def _start(self) -> None:
        pj, o = self.pj, self.options
        threads_before = thread_names()
        ep = pj.Endpoint()
        ep.libCreate()
        self.ep = ep
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 1  # one SIP worker thread polls the network and runs timers
        cfg.uaConfig.mainThreadOnly = False
        cfg.uaConfig.maxCalls = 64
        cfg.uaConfig.userAgent = "dialwise"
        cfg.logConfig.level = o.log_level
        cfg.logConfig.consoleLevel = o.log_level
        med = cfg.medConfig
        med.clockRate = 8000  # G.711 rate: no resampling in the conference bridge
        med.sndClockRate = 8000
        med.channelCount = 1
        med.audioFramePtime = 20
        med.ptime = 20
        med.noVad = True  # send RTP continuously (the far end's jitter buffer and NAT bindings want it)
        med.ecTailLen = 0  # no echo canceller: we hear the far end only
        med.quality = 4
        med.jbInit = o.jb_init_ms
        med.jbMinPre = o.jb_min_pre_ms
        med.jbMaxPre = o.jb_max_pre_ms
        med.jbMax = o.jb_max_ms
        ep.libInit(cfg)
        tcfg = pj.TransportConfig()
        tcfg.port = o.local_port
        if o.bind_address:
            tcfg.boundAddress = o.bind_address
        if o.advertised_address:
            tcfg.publicAddress = o.advertised_address
        self.transport_id = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        self.local_port = int(ep.transportGetInfo(self.transport_id).localName.rsplit(":", 1)[-1])
        ep.libStart()
        ep.audDevManager().setNullDev()  # no sound card: the null device clocks the conference bridge
        self._threads_before = threads_before
        self.media_threads = prioritise_media_threads(threads_before, o.media_thread_nice)
        wanted = o.codec_ids
        for info in ep.codecEnum2():
            ep.codecSetPriority(info.codecId, 0)  # disabled unless listed
        for i, codec_id in enumerate(wanted):
            ep.codecSetPriority(codec_id, 255 - i)
        log.info("sip: PJSIP endpoint up on %s:%d, codecs %s", o.bind_address, self.local_port, ",".join(o.codecs))

    def _shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True

        def stop() -> None:
            for leg in list(self.legs):  # pjsua2 objects must go before the library
                leg.release()
            deadline = time.monotonic() + 2  # an account is deleted only when its OPTIONS have ended (ua.py)
            while time.monotonic() < deadline and any(a.pending_requests() for a in self.accounts):
                time.sleep(0.02)
            for account in self.accounts:
                account.shutdown()
            self.accounts.clear()
            try:
                self.ep.hangupAllCalls()
            except Exception:
                pass
            self.ep.libDestroy()
            self.calls.clear()
            self.ended_calls.clear()  # disowned (leg.py): dropping the wrappers frees nothing in the gone library

        try:
            self._api.submit(self._guarded, stop, ()).result(timeout=10)
        except Exception as exc:  # pragma: no cover - best effort at exit
            log.warning("sip: stopping PJSIP: %s", exc)
        for obj in (*self.accounts, *self.__dict__.get("port_pool", ()), self.ep):  # the library is gone: their
            # destructors must not call it
            if obj is not None:
                obj.thisown = False
        self._api.stop()

    @classmethod
    def shutdown(cls) -> None:
        with cls._lock:
            if cls._instance is not None:
                cls._instance._shutdown()
                cls._instance = None


def thread_names() -> dict[int, str]:
    """This process's threads (Linux: /proc/self/task), native id -> name; {} elsewhere."""
    out: dict[int, str] = {}
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                out[int(tid)] = f.read().strip()
        except (OSError, ValueError):
            continue
    return out


# PJSIP's real-time threads, by the names pjlib gives them: "clock" runs the conference bridge every 20 ms
# (it pulls and pushes every call's frames, so RTP leaves when it ticks), "media" receives RTP into the
# jitter buffers. Late ticks send RTP in bursts, and both ends' adaptive jitter buffers then grow.
MEDIA_THREADS = ("clock", "media")


def prioritise_media_threads(before: dict[int, str], nice: int,
                             names: tuple[str, ...] = MEDIA_THREADS) -> dict[str, int | str]:
    """Give PJSIP's media threads started since `before` the nice value `nice` (see `set_nice`)."""
    return {name: set_nice(tid, nice) for tid, name in thread_names().items() if name in names and tid not in before}


_nice_refused_logged = False


def set_nice(tid: int, nice: int) -> int | str:
    """Give a media thread the nice value `nice`, so the machine's other work (the models, other processes)
    cannot delay its 20 ms ticks. Best effort: below 0 needs root or CAP_SYS_NICE; without it the thread keeps
    the process's priority (logged once). Its nice value, or why not."""
    global _nice_refused_logged
    if nice == 0:
        return "unchanged"
    try:
        os.setpriority(os.PRIO_PROCESS, tid, nice)  # Linux: PRIO_PROCESS with a thread id is that thread
        return os.getpriority(os.PRIO_PROCESS, tid)
    except OSError as exc:
        if not _nice_refused_logged:
            _nice_refused_logged = True
            log.warning("sip: PJSIP's media threads keep the normal priority (nice %d refused: %s; needs "
                        "CAP_SYS_NICE); under CPU load their 20 ms ticks may come late", nice, exc.strerror)
        return f"refused: {exc.strerror}"


class _ApiThread:
    """A single daemon worker thread (not a ThreadPoolExecutor: those refuse work once the
    interpreter starts exiting, and PJSIP must still be stopped from this thread then)."""

    def __init__(self) -> None:
        self._q: queue.SimpleQueue[tuple[concurrent.futures.Future, Callable[..., Any], tuple] | None] = (
            queue.SimpleQueue())
        self._thread = threading.Thread(target=self._work, name="sip-api", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., T], *args: Any) -> concurrent.futures.Future[T]:
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._q.put((fut, fn, args))
        return fut

    def _work(self) -> None:
        while (item := self._q.get()) is not None:
            self._run(*item)
            del item  # hold nothing (e.g. a pjsua2 Call) while waiting for the next job

    @staticmethod
    def _run(fut: concurrent.futures.Future, fn: Callable[..., Any], args: tuple) -> None:
        if not fut.set_running_or_notify_cancel():
            return
        try:
            fut.set_result(fn(*args))
        except BaseException as exc:  # handed to the waiter
            fut.set_exception(exc)

    def stop(self) -> None:
        self._q.put(None)


atexit.register(PjStack.shutdown)
