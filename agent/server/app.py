"""The FastAPI application: REST API, console pages, live websocket, metrics, webhooks dispatcher."""
from __future__ import annotations

import importlib
import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.orm import Session

from agent.server import console_session
from agent.server.api import account_page, accounts, calls, campaigns, exports, reviews, scripts
from agent.server.api import audit as audit_api
from agent.server.api import events as events_api
from agent.server.api import promises as promises_api
from agent.server.api import webhooks as webhooks_api
from agent.server.api.deps import DB_SESSION
from agent.server.auth import authenticate
from agent.server.dialing import ModelReadiness
from agent.server.headers import SecurityHeadersMiddleware
from agent.server.listen import router as listen_router
from agent.server.live import router as live_router
from agent.server.masking import install_masking
from agent.server.metrics import Metrics
from agent.server.middleware import GuardMiddleware
from agent.server.problems import Problem, install_handlers
from agent.server.socket_gate import SocketGate

log = logging.getLogger("dialwise.server")

CONSOLE_DIR = Path(__file__).with_name("console")
# the telephony networks' HTTP and websocket endpoints
TELEPHONY_ROUTERS = ("agent.server.telephony.twilio", "agent.server.softphone", "agent.server.audiosocket")


def prepare_database(db_url: str) -> None:
    """Bring the schema up to date (Alembic migrations)."""
    from agent.store import init_db

    init_db(db_url)


class SessionIn(BaseModel):
    key: str = Field(min_length=1, max_length=200)


def _include_telephony(app: FastAPI) -> list[str]:
    for name in TELEPHONY_ROUTERS:
        app.include_router(importlib.import_module(name).router)
    return list(TELEPHONY_ROUTERS)


def create_app(db_url: str | None = None, *, init_db: bool = True, run_webhooks: bool = False,
               public_base_url: str | None = None, load_models: bool = False,
               run_dials: bool = False, database_url: str | None = None) -> FastAPI:
    """`db_url`: the database (default: settings); `database_url` is its former name, still accepted.
    `load_models`: load the call models at start (`dialwise serve` does), so /health/ready turns
    true and the first call's greeting is on time; otherwise they load on the first call.
    `run_dials`: the server also dials due campaign attempts (with SERVE_DIALS, the one-machine default)."""
    from agent.config import get_settings

    settings = get_settings()
    url = db_url or database_url or settings.resolved_database_url()
    base_url = public_base_url or settings.public_base_url
    if init_db:
        prepare_database(url)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        install_masking()
        if load_models:
            app.state.dials.start_loading()
        dispatcher = None
        if run_webhooks:
            from agent.server.webhooks import Dispatcher

            dispatcher = Dispatcher(url, public_base_url=base_url)
            dispatcher.start()
        await app.state.worker.start()  # heartbeat + lost-worker sweep; campaign dials when run_dials
        try:
            yield
        finally:
            await app.state.worker.stop()
            if dispatcher is not None:
                dispatcher.stop()

    app = FastAPI(
        title="dialwise",
        version="0.1.0",
        description="Outbound collections and telesales calls in Mandarin and English. "
                    "Authenticate with `Authorization: Bearer <key>` (`dialwise keys create`).",
        lifespan=lifespan,
    )
    app.state.db_url = url
    app.state.database_url = url  # the former name, for routes written before the rename (other branches)
    app.state.metrics = Metrics(url)
    app.state.public_base_url = base_url
    app.state.dials = ModelReadiness()
    from agent.worker.embed import ServerWorker

    app.state.worker = ServerWorker(url, dials=run_dials and settings.serve_dials)
    install_handlers(app)

    for r in (account_page.router, exports.router, reviews.router, accounts.router, campaigns.router,
              calls.router, scripts.router, webhooks_api.router, live_router, listen_router, events_api.router,
              promises_api.router, audit_api.router):
        app.include_router(r)
    app.state.optional_routers = _include_telephony(app)

    @app.get("/health", tags=["system"], summary="Liveness and database check")
    def health(db: Session = DB_SESSION) -> dict[str, Any]:
        try:
            db.execute(text("SELECT 1"))
        except Exception as exc:  # report, don't crash
            raise Problem(503, f"the database is not reachable: {type(exc).__name__}") from None
        dials = app.state.dials
        return {"status": "ok", "database": url.split(":", 1)[0], "ready": dials.ready,
                "models_load_s": dials.load_seconds, "models_error": dials.load_error}

    @app.get("/health/ready", include_in_schema=False)  # a readiness probe: 503 until the models are loaded
    def ready() -> dict[str, Any]:
        dials = app.state.dials
        if not dials.ready:
            why = dials.load_error or ("the call models are loading" if dials.loading else
                                       "the call models load on the first call")
            raise Problem(503, why)
        return {"ready": True, "models_load_s": dials.load_seconds}

    @app.get("/metrics", tags=["system"], summary="Prometheus metrics", response_class=Response)
    def metrics(request: Request) -> Response:
        body = request.app.state.metrics.render()
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/api/me", tags=["system"], summary="The scope of the key in use")
    def me(request: Request, db: Session = DB_SESSION) -> dict[str, Any]:
        p = authenticate(db, request)
        return {"scope": p.scope, "label": p.label, "key_id": p.key_id}

    @app.post("/console/session", tags=["console"], summary="Log the console in (sets a cookie)")
    def login(body: SessionIn, request: Request, db: Session = DB_SESSION) -> JSONResponse:
        return console_session.login(request, db, body.key)

    @app.delete("/console/session", tags=["console"], summary="Log the console out", status_code=204)
    def logout(request: Request) -> Response:
        return console_session.logout(request)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/console/")

    app.mount("/console", StaticFiles(directory=CONSOLE_DIR, html=True), name="console")
    app.add_middleware(GuardMiddleware)
    app.add_middleware(SocketGate)  # security: sockets without a key are capped (agent/server/socket_gate.py)
    app.add_middleware(SecurityHeadersMiddleware)
    return app
