"""Start-up work shared by ``sift serve``, ``sift worker``, the CLI and tests: the operations
BPMN may call, the timer service's handlers and periodic jobs, shipped definitions as version 1,
and the bootstrap admin key."""

from __future__ import annotations

from sqlalchemy import text

from engine import runtime
from engine.auth import service as auth
from engine.cases.escalation import HANDLERS
from engine.cases.operations import OPERATIONS
from engine.config import get_settings
from engine.connectors import channels as connector_channels
from engine.connectors import service as connectors
from engine.db import unit_of_work
from engine.processes import service as definitions
from engine.retention import service as retention
from engine.sla import policies as sla
from engine.timers import service as timers
from engine.timers.poller import register_job
from engine.trends import detection as trends


def register_operations() -> None:
    """Makes Sift's case operations callable from BPMN service tasks (and known to validation),
    and gives the timer service its handlers."""
    for name, fn in OPERATIONS.items():
        runtime.service(name)(fn)
    for kind, handler in HANDLERS.items():
        timers.register(kind, handler)
    # trend detection on the clock: evaluates a quiet live stream's last minutes
    register_job("trends", get_settings().trend_tick_seconds, trends.tick_job)
    # listening connectors: due ones run under a lease (engine/connectors/service.py); replies
    # to their mentions go back through them
    register_job("connectors", get_settings().connector_poll_seconds, connectors.tick_job)
    connector_channels.install()
    if get_settings().retention_days is not None:  # archives old signals and events (docs/operations.md)
        register_job("retention", get_settings().retention_interval_seconds, retention.job)


def prepare() -> None:
    register_operations()
    settings = get_settings()
    with unit_of_work() as session:
        if session.get_bind().dialect.name == "postgresql":
            # several processes may start at once against one database
            session.execute(text("SELECT pg_advisory_xact_lock(7301)"))
        definitions.ensure_shipped(session)
        sla.ensure_default(session)
        if settings.bootstrap_admin_key:
            auth.ensure_bootstrap_admin(session, settings.bootstrap_admin_key)
