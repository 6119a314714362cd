"""Data that grows: signals and activity events past ``SIFT_RETENTION_DAYS`` are archived.

Archiving writes the rows, as JSON lines, to a gzip file in ``SIFT_ARCHIVE_DIR`` (default
``<data dir>/archive``), fsyncs it, then deletes them in the same transaction that read them, a
chunk at a time; a run stopped between the two leaves its rows in the table, archived again by
the next run (each line carries the row's id, so a reader keeps one per id).

What is never archived, whatever its age (what a live case, or the inbox, still needs):
- a signal that is pending or buffered (the inbox), and every signal of a case that is open or
  waiting, or whose last change (``updated_at``) is within the retention;
- every timeline event of such a case;
- the cases themselves, their tasks, process instances, timers and replies (they stay).
What goes: settled and failed signals received before the cutoff with no case or with a case
finished (resolved or closed) before the cutoff; events before the cutoff of such cases, and
system events (no case) before the cutoff. Reports over archived time (insights by day, SLA
reports) no longer see those rows.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, exists, or_, select
from sqlalchemy.orm import Session

from engine.cases import transitions
from engine.cases.models import Case
from engine.config import get_settings
from engine.db import unit_of_work, utcnow
from engine.errors import InvalidInput
from engine.events.models import ActivityEvent
from engine.signals.models import BUFFERED, PENDING, Signal

log = logging.getLogger("sift.retention")
FINISHED = (transitions.RESOLVED, transitions.CLOSED)
CHUNK = 1000


@dataclass(frozen=True)
class Archived:
    signals: int
    events: int
    files: list[str]


def check_days(days: float) -> None:
    """Retention shorter than the windows that read old signals would change what they decide."""
    settings = get_settings()
    floor = max(
        settings.duplicate_window_seconds, settings.reopen_window_seconds, settings.reply_buffer_seconds
    )
    if days * 86400 < floor:
        raise InvalidInput(
            f"A retention of {days:g} days is shorter than the reopen, duplicate or reply-buffer window "
            f"({floor / 86400:g} days); set SIFT_RETENTION_DAYS to at least that."
        )


def _finished_before(cutoff: datetime) -> Any:
    """SQL: the row's case (``case_id``) is finished and unchanged since before ``cutoff``."""
    return exists().where(Case.id == Signal.case_id, Case.status.in_(FINISHED), Case.updated_at < cutoff)


def _signals_due(cutoff: datetime) -> Any:
    return (
        select(Signal)
        .where(
            Signal.received_at < cutoff,
            Signal.status.not_in((PENDING, BUFFERED)),
            or_(Signal.case_id.is_(None), _finished_before(cutoff)),
        )
        .order_by(Signal.received_at, Signal.id)
        .limit(CHUNK)
    )


def _events_due(cutoff: datetime) -> Any:
    case_finished = exists().where(
        Case.id == ActivityEvent.case_id, Case.status.in_(FINISHED), Case.updated_at < cutoff
    )
    return (
        select(ActivityEvent)
        .where(ActivityEvent.at < cutoff, or_(ActivityEvent.case_id.is_(None), case_finished))
        .order_by(ActivityEvent.seq)
        .limit(CHUNK)
    )


def _row(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in obj.__table__.columns:
        value = getattr(obj, column.key)
        out[column.name] = value.isoformat() if isinstance(value, datetime) else value
    return out


def _write(folder: Path, table: str, rows: list[dict[str, Any]], stamp: str, part: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{table}-{stamp}-{part:04d}.jsonl.gz"
    with open(path, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb") as gz:
            for row in rows:
                gz.write((json.dumps(row, default=str, ensure_ascii=False) + "\n").encode())
        raw.flush()
        os.fsync(raw.fileno())
    return path


def archive(
    days: float | None = None, *, now: datetime | None = None, folder: Path | None = None
) -> Archived:
    """Archives what is older than ``days`` (default ``SIFT_RETENTION_DAYS``); see the module."""
    settings = get_settings()
    days = days if days is not None else settings.retention_days
    if days is None:
        return Archived(0, 0, [])
    check_days(days)
    cutoff = (now or utcnow()) - timedelta(days=days)
    folder = folder or settings.archive_dir or settings.data_dir / "archive"
    stamp = (now or utcnow()).strftime("%Y%m%dT%H%M%S")
    files: list[str] = []
    counts = {}
    for table, query, model in (
        ("signals", _signals_due, Signal),
        ("activity_events", _events_due, ActivityEvent),
    ):
        total, part = 0, 0
        while True:
            with unit_of_work() as session:
                rows = list(session.scalars(query(cutoff)))
                if not rows:
                    break
                path = _write(folder, table, [_row(r) for r in rows], stamp, part)
                _delete(session, model, rows)
            files.append(str(path))
            total += len(rows)
            part += 1
        counts[table] = total
    if files:
        log.info(
            "archived %d signals and %d events older than %g days",
            counts["signals"],
            counts["activity_events"],
            days,
        )
    return Archived(counts["signals"], counts["activity_events"], files)


def _delete(session: Session, model: Any, rows: list[Any]) -> None:
    if model is Signal:
        session.execute(delete(Signal).where(Signal.id.in_([r.id for r in rows])))
    else:
        session.execute(delete(ActivityEvent).where(ActivityEvent.seq.in_([r.seq for r in rows])))


def job() -> None:
    """The timer service's periodic job (``engine/bootstrap.py``): one archive run."""
    try:
        archive()
    except Exception:
        log.exception("retention run failed; the next run tries again")
