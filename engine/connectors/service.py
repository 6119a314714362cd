"""Connectors: configuration (the API's CRUD) and runs.

Running: the timer service's periodic ``connectors`` job (``sift serve``, ``sift worker``) and
``sift connectors run`` call :func:`run_due`, which leases the enabled connectors that are due
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a fenced token, as deliveries are leased) and runs
them side by side, each in its own thread with its own transactions. Why the timer service's
job and not a service of its own: both commands already run it, it runs one job at a time, and
the lease (not the process) decides who runs a connector, so any number of processes, and a CLI
run beside them, share the connectors without running one twice.

A run that ends well makes the connector due again at once for a stream (it reconnects from its
cursor) or after its interval for a poll; a failed one waits a backoff that doubles with each
failure in a row, and a 429 or a used-up rate-limit budget waits at least what the network said.
"""

from __future__ import annotations

import logging
import types
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.config import get_settings
from engine.connectors import bluesky, mastodon, metrics, reddit, rss, secrets
from engine.connectors.base import LeaseLost, Query, RateLimited, Run, RunEnded, check_query, refuse
from engine.connectors.models import KINDS, Connector, ConnectorCursor
from engine.db import new_id, owner_name, unit_of_work, utcnow
from engine.errors import Conflict, InvalidInput, NotFound
from engine.events import service as events

log = logging.getLogger("sift.connectors")

MODULES: dict[str, types.ModuleType] = {
    "mastodon": mastodon,
    "bluesky": bluesky,
    "rss": rss,
    "reddit": reddit,
}


# --- configuration ---------------------------------------------------------------------------


def _checked(
    kind: str, query: Any, options: Any, credentials: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    if kind not in KINDS:
        raise InvalidInput(
            f"Unknown connector kind {kind!r}; use one of {', '.join(KINDS)}.",
            fields=[{"field": "kind", "message": "must be one of " + ", ".join(KINDS)}],
        )
    clean_query, problems = check_query(query)
    if not isinstance(options, dict):
        problems.append({"field": "options", "message": "must be an object"})
        options = {}
    module = MODULES[kind]
    if credentials is not None:
        for key, value in credentials.items():
            if key not in module.CREDENTIALS:
                allowed = ", ".join(module.CREDENTIALS) or "none"
                problems.append(
                    {"field": f"credentials.{key}", "message": f"unknown for {kind} (allowed: {allowed})"}
                )
            elif not isinstance(value, str) or not 1 <= len(value) <= 2000:
                problems.append(
                    {"field": f"credentials.{key}", "message": "must be text of 1 to 2000 characters"}
                )
    clean_options = module.check(options, clean_query, credentials, problems)
    refuse(problems)
    return clean_query, clean_options


def create(
    session: Session,
    *,
    name: str,
    kind: str,
    query: Any,
    options: Any,
    credentials: dict[str, Any] | None,
    enabled: bool,
    actor: str,
) -> Connector:
    clean_query, clean_options = _checked(kind, query, options, credentials)
    _name_free(session, name)
    now = utcnow()
    connector = Connector(
        id=new_id(),
        name=name,
        kind=kind,
        query=clean_query,
        options=clean_options,
        credentials=secrets.encrypt(credentials) if credentials else None,
        enabled=enabled,
        created_at=now,
        created_by=actor,
        updated_at=now,
        next_run_at=now,
        failures=0,
        mentions=0,
        repeats=0,
    )
    session.add(connector)
    events.record(
        session,
        "connector.created",
        actor=actor,
        data={"id": connector.id, "name": name, "kind": kind, "enabled": enabled},
    )
    return connector


def _name_free(session: Session, name: str, but: str | None = None) -> None:
    other = session.scalar(select(Connector).where(Connector.name == name))
    if other is not None and other.id != but:
        raise Conflict(f"A connector named {name!r} exists already ({other.id}); choose another name.")


def update_connector(
    session: Session, connector_id: str, changes: dict[str, Any], *, actor: str
) -> Connector:
    """Changes any of name, query, options, credentials (``null`` removes them) and enabled; a
    changed query or options keeps the cursors (delete and create again to start over)."""
    connector = get(session, connector_id)
    if "credentials" in changes:
        creds = changes["credentials"]
    else:
        try:
            creds = secrets.decrypt(connector.credentials)
        except secrets.CredentialsUnreadable:
            creds = {}
    clean_query, clean_options = _checked(
        connector.kind,
        changes.get("query", connector.query),
        changes.get("options", connector.options),
        creds or None,
    )
    if "name" in changes:
        _name_free(session, changes["name"], connector.id)
        connector.name = changes["name"]
    connector.query, connector.options = clean_query, clean_options
    if "credentials" in changes:
        connector.credentials = secrets.encrypt(creds) if creds else None
    if "enabled" in changes and changes["enabled"] != connector.enabled:
        connector.enabled = bool(changes["enabled"])
        if connector.enabled:
            connector.next_run_at, connector.failures = utcnow(), 0
    connector.updated_at = utcnow()
    changed = sorted(k for k in changes if k != "credentials") + (
        ["credentials"] if "credentials" in changes else []
    )
    events.record(
        session,
        "connector.updated",
        actor=actor,
        data={"id": connector.id, "name": connector.name, "changed": changed},
    )
    return connector


def remove(session: Session, connector_id: str, *, actor: str) -> None:
    connector = get(session, connector_id)
    session.query(ConnectorCursor).filter(ConnectorCursor.connector_id == connector.id).delete()
    session.delete(connector)
    events.record(
        session,
        "connector.deleted",
        actor=actor,
        data={"id": connector.id, "name": connector.name, "kind": connector.kind},
    )


def get(session: Session, connector_id: str) -> Connector:
    connector = session.get(Connector, connector_id)
    if connector is None:
        raise NotFound("connector", connector_id)
    return connector


def list_connectors(session: Session) -> list[Connector]:
    return list(session.scalars(select(Connector).order_by(Connector.created_at, Connector.id)))


def cursors(session: Session, connector_id: str) -> list[ConnectorCursor]:
    stmt = (
        select(ConnectorCursor)
        .where(ConnectorCursor.connector_id == connector_id)
        .order_by(ConnectorCursor.stream)
    )
    return list(session.scalars(stmt))


def lag_seconds(connector: Connector, now: datetime | None = None) -> float | None:
    if not connector.enabled:
        return None
    since = connector.caught_up_at or connector.created_at
    return max(0.0, ((now or utcnow()) - since).total_seconds())


# --- runs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    connector_id: str
    name: str
    kind: str
    outcome: str  # ok | failed | rate_limited | lost
    new: int
    repeats: int
    error: str | None
    next_run_at: datetime | None


def _lease_seconds(stream_seconds: float) -> float:
    settings = get_settings()
    return stream_seconds + 4 * settings.connector_timeout_seconds + 30.0


def claim(
    session: Session,
    *,
    owner: str,
    only: list[str] | None = None,
    force: bool = False,
    stream_seconds: float,
    limit: int = 50,
) -> list[Run]:
    """Leases due enabled connectors (``only``: those ids or names; ``force``: due or not, but
    never one another process holds) and builds their runs (credentials decrypted)."""
    now = utcnow()
    stmt = select(Connector).where(
        Connector.enabled.is_(True),
        Connector.lease_expires_at.is_(None) | (Connector.lease_expires_at < now),
    )
    if not force:
        stmt = stmt.where(Connector.next_run_at <= now)
    if only:
        stmt = stmt.where(Connector.id.in_(only) | Connector.name.in_(only))
    stmt = stmt.order_by(Connector.next_run_at).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    runs: list[Run] = []
    for connector in session.scalars(stmt):
        connector.lease_owner, connector.lease_token = owner, new_id()
        connector.lease_expires_at = now + timedelta(seconds=_lease_seconds(stream_seconds))
        connector.last_run_at = now
        try:
            creds = secrets.decrypt(connector.credentials)
        except secrets.CredentialsUnreadable as err:
            connector.lease_owner = connector.lease_token = connector.lease_expires_at = None
            _failed(connector, str(err), None)
            continue
        runs.append(
            Run(
                connector_id=connector.id,
                name=connector.name,
                kind=connector.kind,
                token=connector.lease_token,
                query=Query.from_doc(connector.query),
                options=dict(connector.options),
                credentials=creds,
                cursors={c.stream: dict(c.value) for c in cursors(session, connector.id)},
                client=None,  # type: ignore[arg-type]  # set by run_one, in the run's thread
                stream_seconds=stream_seconds,
            )
        )
    session.flush()
    return runs


def _backoff(failures: int) -> float:
    settings = get_settings()
    return float(
        min(
            settings.connector_retry_max_seconds,
            settings.connector_retry_base_seconds * 2 ** max(0, failures - 1),
        )
    )


def _failed(connector: Connector, error: str, wait: float | None) -> None:
    connector.failures = (connector.failures or 0) + 1
    connector.last_error = error[:2000]
    delay = max(_backoff(connector.failures), wait or 0.0)
    connector.next_run_at = utcnow() + timedelta(seconds=delay)


def run_one(r: Run) -> Outcome:
    """Runs a claimed connector to the end of its window, then settles it (fenced by the lease)."""
    settings = get_settings()
    module = MODULES[r.kind]
    outcome, error, wait = "ok", None, None
    r.client = httpx.Client(
        timeout=settings.connector_timeout_seconds,
        follow_redirects=True,
        headers={"User-Agent": r.options.get("user_agent") or "Sift-Connectors/1"},
    )
    try:
        module.run(r)
    except LeaseLost as err:
        outcome, error = "lost", err.reason
    except RateLimited as err:
        outcome, error, wait = "rate_limited", err.reason, err.wait
    except RunEnded as err:
        outcome, error = "failed", err.reason
    except Exception as err:  # a bug or an answer of an unexpected shape: the next run tries again
        log.exception("connector %s (%s) failed", r.name, r.kind)
        outcome, error = "failed", f"{type(err).__name__}: {str(err)[:300]}"
    finally:
        r.client.close()
    metrics.RUNS.labels(r.kind, outcome).inc()
    next_run_at = None if outcome == "lost" else _settle(r, module, outcome, error, wait)
    if next_run_at is None and outcome != "lost":
        outcome = "lost"
    return Outcome(r.connector_id, r.name, r.kind, outcome, r.taken, r.repeats, error, next_run_at)


def _settle(
    r: Run, module: types.ModuleType, outcome: str, error: str | None, wait: float | None
) -> datetime | None:
    now = utcnow()
    with unit_of_work() as session:
        connector = session.get(Connector, r.connector_id, with_for_update=True, populate_existing=True)
        if connector is None or connector.lease_token != r.token:
            return None
        connector.lease_owner = connector.lease_token = connector.lease_expires_at = None
        if outcome == "ok" and not r.pause:
            interval = float(r.options.get("interval_seconds") or get_settings().connector_interval_seconds)
            connector.failures, connector.last_error = 0, None
            connector.last_success_at = now
            connector.next_run_at = now + timedelta(seconds=interval if module.POLLS else 0.0)
        elif outcome == "ok":  # it finished, but the budget ran out: wait for the reset
            connector.failures, connector.last_error = 0, None
            connector.last_success_at = now
            connector.next_run_at = now + timedelta(seconds=r.pause)
        else:
            _failed(connector, error or outcome, max(wait or 0.0, r.pause))
        return connector.next_run_at


def run_due(
    *,
    owner: str | None = None,
    only: list[str] | None = None,
    force: bool = False,
    stream_seconds: float | None = None,
) -> list[Outcome]:
    """Claims and runs the due connectors side by side; returns one outcome per run."""
    settings = get_settings()
    owner = owner or owner_name()
    window = stream_seconds if stream_seconds is not None else settings.connector_stream_seconds
    with unit_of_work() as session:
        runs = claim(session, owner=owner, only=only, force=force, stream_seconds=window)
    if not runs:
        return []
    with ThreadPoolExecutor(
        min(len(runs), settings.connector_threads), thread_name_prefix="sift-connector"
    ) as pool:
        return list(pool.map(run_one, runs))


def tick_job() -> None:
    """The timer service's periodic job."""
    try:
        for outcome in run_due():
            if outcome.outcome != "ok":
                log.warning(
                    "connector %s (%s): %s: %s", outcome.name, outcome.kind, outcome.outcome, outcome.error
                )
    except Exception:
        log.exception("connector round failed; the next one tries again")
