"""The FastAPI application: routers, error shape, body limits, start-up work.

``create_app(run_worker=True)`` also runs the signal worker, the timer service and the delivery
service (webhooks, replies) in this
process (``sift serve``); ``sift worker`` runs both without HTTP.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from api import errors, ratelimit
from api.accesslog import AccessLog
from api.assist.router import router as assist_router
from api.canned.router import router as canned_router
from api.cases.router import router as cases_router
from api.changes.router import router as changes_router
from api.connectors.router import router as connectors_router
from api.customers.router import router as customers_router
from api.experience.router import router as experience_router
from api.incidents.router import router as incidents_router
from api.insights.router import router as insights_router
from api.instances.router import router as instances_router
from api.keys.router import router as keys_router
from api.limits import BodyLimit
from api.mentions.router import router as mentions_router
from api.participants.router import router as participants_router
from api.processes.drafts import router as drafts_router
from api.processes.router import router as processes_router
from api.queues.router import router as queues_router
from api.replies.router import router as replies_router
from api.signals.router import router as signals_router
from api.sla.router import router as sla_router
from api.stream.router import router as stream_router
from api.suppressions.router import router as suppressions_router
from api.tasks.router import router as tasks_router
from api.timers.router import router as timers_router
from api.trends.router import router as trends_router
from api.web.router import router as web_router
from api.web.workbench import router as workbench_router
from api.webhooks.router import router as webhooks_router
from engine import bootstrap, migrate
from engine.config import get_settings
from engine.connectors import metrics as connector_metrics
from engine.db import get_engine
from engine.delivery.service import DeliveryService
from engine.incidents import metrics as incident_metrics
from engine.signals.intake import JetStreamIntake
from engine.signals.intake import enabled as intake_enabled
from engine.timers import metrics
from engine.timers.poller import TimerService
from engine.worker import metrics as worker_metrics
from engine.worker.service import Worker

log = logging.getLogger("sift.api")

HEALTHZ = "/healthz"
READYZ = "/readyz"
METRICS = "/metrics"
BEARER = "bearerAuth"


def create_app(*, run_worker: bool = False) -> FastAPI:
    settings = get_settings()
    bootstrap.register_operations()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(bootstrap.prepare)
        # the NATS intake, when on: accepted signals are published to it after their commit
        app.state.intake = await run_in_threadpool(JetStreamIntake) if intake_enabled() else None
        worker = Worker() if run_worker else None
        timer_service = TimerService() if run_worker else None
        delivery = DeliveryService() if run_worker else None
        app.state.worker, app.state.timers, app.state.delivery = worker, timer_service, delivery
        if worker is not None:
            worker.start()
        if timer_service is not None:
            timer_service.start()
        if delivery is not None:
            delivery.start()
        try:
            yield
        finally:
            if delivery is not None:
                await run_in_threadpool(delivery.stop)
            if timer_service is not None:
                await run_in_threadpool(timer_service.stop)
            if worker is not None:
                await run_in_threadpool(worker.stop)
            if app.state.intake is not None:
                await run_in_threadpool(app.state.intake.close)

    # /docs and /redoc load Swagger UI and Redoc from files the fastapi-offline package ships,
    # so they work on a machine without internet (FastAPI's defaults load them from a CDN)
    app = FastAPIOffline(
        title="Sift",
        version="1",
        description="Social-CRM case engine: mentions become cases run by BPMN processes.",
        lifespan=lifespan,
        swagger_ui_parameters={"persistAuthorization": True, "validatorUrl": None},
    )
    _declare_bearer_key(app)
    app.state.worker = None
    app.state.intake = None
    errors.install(app)
    ratelimit.install(app, settings)
    app.add_middleware(
        BodyLimit,
        default=settings.max_body_bytes,
        by_suffix={
            "/signals:batch": 16 * settings.max_body_bytes,
            "/processes": 4 * settings.max_body_bytes,
            "/customers:import": 64 * settings.max_body_bytes,
        },
    )
    # outermost, so refusals by the guards above (413, 400) are logged too
    app.add_middleware(AccessLog)

    @app.get(HEALTHZ, tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(READYZ, tags=["health"], responses={503: {"description": "a check failed; `checks` says which"}})
    def readyz(request: Request) -> JSONResponse:
        """Ready to serve: the database answers, its schema is this Sift's newest, and the worker
        runs (when this process runs one). 503 with what failed otherwise (no key needed)."""
        checks = readiness(request.app)
        ready = all(ok for ok, _ in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "checks": {k: v for k, (_, v) in checks.items()}},
            status_code=200 if ready else 503,
        )

    metrics.install_collector()
    worker_metrics.install_collector()
    incident_metrics.install_collector()
    connector_metrics.install_collector()

    @app.get(METRICS, tags=["health"], response_class=PlainTextResponse)
    def prometheus_metrics() -> PlainTextResponse:
        """Prometheus text format: timer lag and firings (no key needed, like /healthz)."""
        return PlainTextResponse(generate_latest(REGISTRY).decode(), media_type=CONTENT_TYPE_LATEST)

    for router in (
        signals_router,
        cases_router,
        tasks_router,
        customers_router,
        sla_router,
        keys_router,
        processes_router,
        drafts_router,
        timers_router,
        webhooks_router,
        replies_router,
        suppressions_router,
        queues_router,
        experience_router,
        mentions_router,
        incidents_router,
        instances_router,
        canned_router,
        connectors_router,
        trends_router,
        changes_router,
        participants_router,
        insights_router,
        assist_router,
        stream_router,
        web_router,
        workbench_router,
    ):
        app.include_router(router)
    _mount_assets(app, settings.node_modules)
    return app


WEB = Path(__file__).parent / "web"
#: front-end packages served from node_modules (installed by npm ci from package-lock.json)
VENDOR = {"chart.js": "chart.js/dist", "bpmn-js": "bpmn-js/dist", "dmn-js": "dmn-js/dist"}


def _mount_assets(app: FastAPI, node_modules: Path | None) -> None:
    """The pages' own scripts and styles, and the npm packages they load, as static files. A
    checkout without ``npm ci`` still serves every page; only the charts and the workbench's diagrams are missing then."""
    app.mount("/static", StaticFiles(directory=WEB / "static"), name="static")
    modules = node_modules or Path(__file__).resolve().parents[1] / "node_modules"
    for name, folder in VENDOR.items():
        app.mount(f"/vendor/{name}", StaticFiles(directory=modules / folder, check_dir=False), name=name)


def readiness(app: FastAPI) -> dict[str, tuple[bool, str]]:
    """Each readiness check: whether it passed, and what it found."""
    checks: dict[str, tuple[bool, str]] = {}
    try:
        problem = migrate.schema_problem(get_engine())
    except SQLAlchemyError as err:
        checks["database"] = (False, f"unreachable: {type(err).__name__}")
        checks["migrations"] = (False, "unknown: the database is unreachable")
    else:
        checks["database"] = (True, "ok")
        checks["migrations"] = (problem is None, "current" if problem is None else f"the database {problem}")
    worker = getattr(app.state, "worker", None)
    if worker is None:
        checks["worker"] = (True, "not run in this process")
    else:
        checks["worker"] = (worker.running, "running" if worker.running else "stopped")
    intake = getattr(app.state, "intake", None)
    if intake is not None:  # only with SIFT_INTAKE=nats
        checks["intake"] = (intake.connected, "connected" if intake.connected else "NATS unreachable")
    return checks


def _declare_bearer_key(app: FastAPI) -> None:
    """Declares the API key as an HTTP bearer security scheme in the OpenAPI document, needed by
    every operation but /healthz, /readyz and /metrics: Swagger UI's Authorize button and clients generated from the
    document then send it. The ``Authorization`` header parameter the key dependency reads
    leaves the document, as OpenAPI says such a parameter is ignored anyway."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schema.setdefault("components", {})["securitySchemes"] = {
                BEARER: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key (`sift keys create`, or POST /api/v1/keys as an admin).",
                }
            }
            schema["security"] = [{BEARER: []}]
            for path, operations in schema["paths"].items():
                for operation in operations.values():
                    _drop_authorization_header(operation)
                    if path in (HEALTHZ, READYZ, METRICS):
                        operation["security"] = []
            _declare_errors(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Error",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "description": "A code name, e.g. ValidationFailed, NotFound, Conflict."},
        "detail": {"type": "string", "description": "What went wrong and how to fix it."},
        "fields": {
            "type": "array",
            "description": "With validation errors: each field at fault (`field`), or for a process "
            "definition each problem at its element (`element_id`, `element_name`, `line`, `column`).",
            "items": {
                "type": "object",
                "required": ["message"],
                "properties": {
                    "message": {"type": "string"},
                    "field": {"type": "string"},
                    "element_id": {"type": ["string", "null"]},
                    "element_name": {"type": ["string", "null"]},
                    "line": {"type": ["integer", "null"]},
                    "column": {"type": ["integer", "null"]},
                },
            },
        },
    },
}


def _declare_errors(schema: dict[str, Any]) -> None:
    """Every error has one shape (api/errors.py), so the document says so: 422 and a ``default``
    response name the ``Error`` schema instead of FastAPI's own validation shape, which Sift never
    sends. A client generated from the document then reads errors it can parse."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in schema["paths"].values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = {
                    "description": "Invalid input: `fields` names each field at fault.",
                    "content": error,
                }
            responses["default"] = {
                "description": "An error (4xx, or 503 while the database is out of reach): see docs/api.md, Errors.",
                "content": error,
            }
    referenced = json.dumps(schema["paths"])
    for name in ("HTTPValidationError", "ValidationError"):
        if f"#/components/schemas/{name}" not in referenced:
            components.pop(name, None)


def _drop_authorization_header(operation: dict[str, Any]) -> None:
    kept = [
        p
        for p in operation.get("parameters", [])
        if not (p.get("in") == "header" and p.get("name", "").lower() == "authorization")
    ]
    if kept:
        operation["parameters"] = kept
    else:
        operation.pop("parameters", None)
