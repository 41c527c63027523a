"""A worker process on the held-line network (`agent.worker.hold`), for `dialwise bench workers` and
the crash tests: the same Runtime as `dialwise worker`, with a dialer that needs no models.

    python -m agent.worker.proc --hold 1.0 --concurrency 4 --log dials.jsonl

It prints "ready <worker id>" once it takes attempts, and exits 0 after SIGTERM once its calls end.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from agent.worker.hold import HoldDialer
from agent.worker.runtime import Runtime, run_until_signal


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m agent.worker.proc")
    ap.add_argument("--hold", type=float, default=1.0, help="seconds each answered call holds the line")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--log", default=None, help="JSON-lines file: one line per dial and per end")
    ap.add_argument("--kind", default="worker")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
    logging.getLogger("procrastinate").setLevel(logging.WARNING)
    rt = Runtime(kind=args.kind, concurrency=args.concurrency,
                 dialers=lambda network: HoldDialer(args.hold, log_path=args.log))

    def ready(rt: Runtime) -> None:
        print(f"ready {rt.id} {rt.queue_kind}", flush=True)

    asyncio.run(run_until_signal(rt, on_ready=ready))
    return 0


if __name__ == "__main__":
    sys.exit(main())
