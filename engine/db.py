"""Database plumbing: the declarative base, engines, and the unit of work.

Services and repositories take a ``Session`` and only ``flush()``; the edge
(a request, a worker batch, a timer job) owns the transaction through
:func:`unit_of_work`. SQLite runs in WAL mode with a busy timeout so the API
and the in-process worker can write at once without "database is locked"
reaching a client.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import JSON, DateTime, Engine, MetaData, Table, create_engine, event, insert
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, ORMExecuteState, Session, SessionTransaction, sessionmaker
from sqlalchemy.types import TypeDecorator

from engine.config import get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use engine.db.utcnow()")
        return value.astimezone(UTC)

    def bind_processor(self, dialect: Any) -> Any:
        """On SQLite, the text SQLAlchemy's DATETIME stores (``2026-12-03 10:41:53.387793``, in
        UTC) spelled by ``isoformat`` in one step: its own processor formats a dict of seven
        fields for every value, and a worker batch binds thousands."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            zone = value.tzinfo
            if zone is not UTC:  # utcnow() and every value read back are in UTC: no conversion
                if zone is None:
                    raise ValueError("naive datetime given to the database; use engine.db.utcnow()")
                value = value.astimezone(UTC)
            return value.isoformat(" ", "microseconds")[:-6]  # less "+00:00"

        return process

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSON_DOC = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON_DOC, list[Any]: JSON_DOC}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    """A time-ordered (version 7, RFC 9562) UUID as 32 hex digits, as ``uuid.UUID.hex`` spells it:
    48 bits of Unix time in milliseconds, then 74 random bits (``os.urandom``).

    Time first, so rows made together sit together in every B-tree keyed by an id (the primary
    keys, and the case, instance and customer columns other tables point by): a worker batch
    dirties a few pages at the right edge of each index instead of one random page per row.
    The random bits keep ids unguessable enough to be unique across processes; an id never
    was a secret (tokens come from ``secrets``). Built from the bytes, without ``uuid.UUID``
    (Python 3.11 has no ``uuid7``): a worker batch takes a few thousand ids. The leading digits
    are the same for ids made within the same minute: shortened for display, an id shows its end.
    """
    raw = bytearray((time.time_ns() // 1_000_000).to_bytes(6, "big") + os.urandom(10))
    raw[6] = (raw[6] & 0x0F) | 0x70  # version 7
    raw[8] = (raw[8] & 0x3F) | 0x80  # variant RFC 4122
    return raw.hex()


def owner_name() -> str:
    """This process in lease columns (timers, deliveries, connectors): host, pid and 6 random hex
    digits, so a process restarted with the same pid (pid 1 in a container) is another owner."""
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"


_ORJSON = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def json_dumps(value: Any) -> str:
    """JSON columns' text: orjson, which writes a process state (about 4 KB) several times
    faster than ``json.dumps``, without the blanks after separators; what it refuses (integers
    past 64 bits, objects ``json`` does not know either) goes to ``json.dumps``, which writes it
    or raises as before. A NaN or infinity is written as null (``json.dumps`` wrote ``NaN``, which
    is not JSON and which PostgreSQL refuses)."""
    try:
        return orjson.dumps(value, option=_ORJSON).decode()
    except TypeError:
        return json.dumps(value)


def json_loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # NaN or Infinity, which json.dumps writes and orjson does not read
        return json.loads(text)


_LATER = "sift.db.insert_later"  # session.info: [(transaction, table, row)] not written yet


def insert_later(session: Session, table: Table, row: dict[str, Any]) -> None:
    """Adds ``row`` (every column it sets; rows of one table set the same ones) to ``table`` as
    the session would add a new ORM object, without the object: it is written by one Core
    ``executemany`` per table with the rest of the session's new rows (after each flush, before
    a statement runs when nothing else waits to be written, before every commit), and dropped
    if the savepoint or transaction it was added in rolls back. For rows nothing in the same
    unit of work changes again (a new case's task and timer rows): a worker batch adds
    hundreds, and the ORM's per-object bookkeeping cost more than writing them."""
    within = session.get_nested_transaction() or session.get_transaction()
    if within is None:  # the row belongs to the transaction it begins
        session.connection()
        within = session.get_transaction()
    session.info.setdefault(_LATER, []).append((within, table, row))


def _write_later(session: Session) -> None:
    later = session.info.get(_LATER)
    if not later:
        return
    session.info[_LATER] = []
    groups: dict[tuple[Table, tuple[str, ...]], list[dict[str, Any]]] = {}
    for _, table, row in later:
        groups.setdefault((table, tuple(sorted(row))), []).append(row)
    conn = session.connection()
    for (table, _), rows in groups.items():
        conn.execute(insert(table), rows)


@event.listens_for(Session, "after_flush_postexec")
def _later_after_flush(session: Session, _context: Any) -> None:
    _write_later(session)


@event.listens_for(Session, "do_orm_execute")
def _later_before_statement(state: ORMExecuteState) -> None:
    # what autoflush does for a pending object: a query sees the row, unless autoflush is off
    # (then, as a pending object would, it waits: its case may not be written yet)
    session = state.session
    if session.info.get(_LATER) and session.autoflush:
        session.flush()
        _write_later(session)


@event.listens_for(Session, "before_commit")
def _later_before_commit(session: Session) -> None:
    # also fires when a savepoint is released
    if session.info.get(_LATER):
        session.flush()
        _write_later(session)


@event.listens_for(Session, "after_soft_rollback")
def _later_rolled_back(session: Session, _previous: SessionTransaction) -> None:
    # a failed flush rolls its savepoint back and reports only its own subtransaction here:
    # rows whose transaction (or one around it) can no longer commit go
    later = session.info.get(_LATER)
    if later:
        session.info[_LATER] = [entry for entry in later if _alive(entry[0])]


def _alive(tx: SessionTransaction | None) -> bool:
    while tx is not None:
        if not tx.is_active:
            return False
        tx = tx.parent
    return True


def is_sqlite(url_or_engine: str | Engine) -> bool:
    url = url_or_engine if isinstance(url_or_engine, str) else str(url_or_engine.url)
    return url.startswith("sqlite")


def make_engine(url: str) -> Engine:
    if is_sqlite(url):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            json_serializer=json_dumps,
            json_deserializer=json_loads,
        )
        _tune_sqlite(engine)
        return engine
    return create_engine(
        url,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
        json_serializer=json_dumps,
        json_deserializer=json_loads,
    )


#: pages of write-ahead log after which a committing connection copies it into the database
#: itself (SQLite's default is 1,000; a worker batch of 200 signals writes about 1,500)
AUTOCHECKPOINT_PAGES = 10_000
log = logging.getLogger("sift.db")


class Checkpointer:
    """Copies an SQLite database's write-ahead log into the database from a thread of its own.

    SQLite does it inside the commit of whichever connection passes ``wal_autocheckpoint``
    pages: with its default the worker's every batch commit also copied the log and synced
    the files (measured on the ingest bench's 3,000 signals: 241 µs of commit per signal, 42 µs
    without the copy). A passive checkpoint here every ``interval`` seconds takes no lock a
    writer needs, and the copy runs outside the GIL on another core. The log still ends in
    the database at the same rate (about every ``interval``), so nothing is deferred."""

    def __init__(self, path: str, interval: float = 0.25) -> None:
        self.path = path
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sift-checkpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def checkpoint(self, conn: sqlite3.Connection) -> tuple[int, int, int]:
        """One passive checkpoint: (1 if it could not finish, frames in the log, frames copied)."""
        busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(busy), int(frames), int(copied)

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        try:
            while not self._stop.wait(self.interval):
                try:
                    self.checkpoint(conn)
                except sqlite3.Error as err:  # the next round tries again; the net above holds
                    log.warning("WAL checkpoint failed: %s", err)
        finally:
            conn.close()


def start_checkpointer() -> Checkpointer | None:
    """A running :class:`Checkpointer` for the application's database if it is an SQLite file
    (None for PostgreSQL, or a database in memory)."""
    url = get_engine().url
    if not is_sqlite(str(url)) or not url.database or url.database == ":memory:":
        return None
    checkpointer = Checkpointer(url.database)
    checkpointer.start()
    return checkpointer


class WriteTurns:
    """Hands an SQLite database's write lock from one thread of this process to the next in the
    order they asked for it.

    SQLite's own wait for a busy database polls, sleeping up to 100 ms between tries, so a thread
    that waits (an API request posting signals) almost never finds the lock free in the instant
    between one worker batch's commit and the next one's ``BEGIN IMMEDIATE``: it got in only once
    the worker had nothing left to do, then up to 100 ms later, and the worker sat idle meanwhile
    (measured on the ingest bench: 40-150 ms after each of its posts). Here a thread that wants
    to write queues for its turn before ``BEGIN IMMEDIATE`` and is woken the moment the thread
    before it commits or rolls back. Only this process's threads take turns; another process
    (a second ``sift worker``) still meets SQLite's own lock, as before. A thread that already
    holds the turn on another connection does not wait for itself, and a wait longer than
    ``timeout`` goes ahead to SQLite's busy timeout, as every write did before."""

    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._mutex = threading.Lock()
        self._holder: object | None = None  # the DBAPI connection whose turn it is
        self._thread: int | None = None  # the thread that holds it
        self._queue: deque[tuple[object, threading.Lock]] = deque()

    def take(self, holder: object) -> bool:
        """Waits for ``holder``'s turn; False when it went ahead without one (see the class)."""
        with self._mutex:
            if self._holder is None:
                self._holder, self._thread = holder, threading.get_ident()
                return True
            if self._thread == threading.get_ident():
                return False
            woken = threading.Lock()
            woken.acquire()
            entry = (holder, woken)
            self._queue.append(entry)
        if not woken.acquire(timeout=self.timeout):
            with self._mutex:
                if entry in self._queue:
                    self._queue.remove(entry)
                    return False
            woken.acquire()  # handed over just as the wait ran out: the turn is this one's now
        with self._mutex:  # give() made ``holder`` the holder before waking it
            self._thread = threading.get_ident()
        return True

    def give(self, holder: object) -> None:
        """Ends ``holder``'s turn (nothing if it holds none) and wakes the next in line."""
        with self._mutex:
            if self._holder is not holder:
                return
            if not self._queue:
                self._holder = self._thread = None
                return
            self._holder, woken = self._queue.popleft()
            self._thread = None  # the woken thread sets its own
            woken.release()

    def holds(self, holder: object) -> bool:
        return self._holder is holder


def _tune_sqlite(engine: Engine) -> None:
    turns = WriteTurns()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        # a process that runs the Checkpointer (sift serve, sift worker) keeps the log short
        # from its own thread; this is the net for one that does not
        cur.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Take the write lock up front: a read that later upgrades to a write
        # can deadlock against another writer in WAL mode and fail at once.
        holder = conn.connection.dbapi_connection
        turns.take(holder)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            turns.give(holder)
            raise

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(conn: Any) -> None:
        turns.give(conn.connection.dbapi_connection)  # just before SQLite's COMMIT or ROLLBACK

    # the net: a connection back in the pool, or thrown away, holds no turn however its
    # transaction ended
    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_conn: Any, _record: Any) -> None:
        if dbapi_conn is not None:
            turns.give(dbapi_conn)

    @event.listens_for(engine, "invalidate")
    def _on_invalidate(dbapi_conn: Any, _record: Any, _exception: Any) -> None:
        if dbapi_conn is not None:
            turns.give(dbapi_conn)


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    settings = get_settings()
    url = settings.resolved_database_url
    if is_sqlite(url) and settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return make_engine(url)


@lru_cache(maxsize=1)
def get_sessionmaker() -> sessionmaker[Session]:
    import engine.models  # noqa: F401  (every mapper registered before relationships resolve)

    return sessionmaker(bind=get_engine(), expire_on_commit=False)


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    with get_sessionmaker()() as session, session.begin():
        yield session


def reset_engine_cache() -> None:
    """Forget the cached engine (tests and CLI commands that change settings)."""
    if get_engine.cache_info().currsize:
        get_engine().dispose()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()
