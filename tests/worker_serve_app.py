"""The API server with its embedded worker on held lines (`agent.worker.hold`), for the restart test:

    python -m tests.worker_serve_app PORT HOLD_S DIAL_LOG

The real app and lifespan (`agent.server.app.create_app(run_dials=True)`), served by uvicorn; only the
network is the held-line stand-in, so no models load."""
from __future__ import annotations

import sys

import uvicorn

from agent.config import get_settings
from agent.server.app import create_app
from agent.worker.embed import ServerWorker
from agent.worker.hold import HoldDialer


def main() -> None:
    port, hold, log = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    url = get_settings().resolved_database_url()
    app = create_app(url, run_dials=True)
    app.state.worker = ServerWorker(url, dials=True, dialers=lambda network: HoldDialer(hold, log_path=log))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
