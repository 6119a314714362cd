"""The ``sift`` command line: an edge like the HTTP API (it never lives in engine/)."""

from __future__ import annotations

import json
import logging
import os
import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import httpx
import typer

from engine.config import get_settings

app = typer.Typer(help="Sift: social mentions become cases run by BPMN processes.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
processes_app = typer.Typer(help="Process and decision definitions.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
customers_app = typer.Typer(help="Customer profiles.", no_args_is_help=True)
app.add_typer(processes_app, name="processes")
app.add_typer(customers_app, name="customers")
connectors_app = typer.Typer(
    help="Listening connectors (Mastodon, Bluesky, RSS/Atom, Reddit).", no_args_is_help=True
)
app.add_typer(connectors_app, name="connectors")


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # SpiffWorkflow logs every task state change at INFO, Alembic every plugin it loads,
    # APScheduler every job it runs (the timer service's poll, each second)
    for noisy in ("spiff", "alembic", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _migrate() -> None:
    from engine.db import get_engine
    from engine.migrate import upgrade

    with _database_errors():
        upgrade(get_engine())


def _schema_ready() -> None:
    """Before ``sift serve`` or ``sift worker`` touches a table. The embedded default
    database (SQLite in SIFT_DATA_DIR) is Sift's own: it is created and migrated on start,
    so a first run needs no step. A database named by SIFT_DATABASE_URL belongs to an
    operator who decides when its schema changes (a backup first, one migrator for many
    processes): it is only checked, and a schema that is missing, behind or from a newer
    Sift stops the command with one line that says what to run."""
    from engine.db import get_engine
    from engine.migrate import schema_problem

    if get_settings().database_url is None:
        _migrate()
        return
    with _database_errors():
        problem = schema_problem(get_engine())
    if problem:
        typer.echo(f"error: the database at {_safe_url()} {problem}.", err=True)
        raise typer.Exit(2)


@contextmanager
def _database_errors() -> Iterator[None]:
    """A database that cannot be reached stops the command with one line, not a traceback."""
    from sqlalchemy.exc import OperationalError

    try:
        yield
    except OperationalError as err:
        reason = str(err.orig).strip().splitlines()[0] if err.orig else type(err).__name__
        typer.echo(f"error: cannot use the database at {_safe_url()}: {reason}", err=True)
        raise typer.Exit(2) from err


@app.command()
def migrate() -> None:
    """Bring the configured database to the newest schema (safe to run from several processes at once)."""
    _migrate()
    typer.echo(f"database at head: {_safe_url()}")


def _nlp_ready() -> None:
    """Build the NLP pipeline now: a bad SIFT_NLP_MODEL or data file stops the command with one clear line."""
    from engine import nlp
    from engine.errors import EngineError

    try:
        nlp.get_pipeline()
    except EngineError as err:
        typer.echo(f"error: {err.detail}", err=True)
        raise typer.Exit(2) from err


def _lean_malloc() -> None:
    """The allocator bounds of a long-running process (``engine.worker.service.tune_malloc``)."""
    from engine.worker.service import tune_malloc

    settings = get_settings()
    tune_malloc(settings.malloc_arenas, settings.malloc_mmap_threshold)


def _bootstrap_key_ok() -> None:
    """A SIFT_BOOTSTRAP_ADMIN_KEY too short to be safe stops the command with one clear line."""
    from engine.auth.service import check_bootstrap_key
    from engine.errors import EngineError

    raw = get_settings().bootstrap_admin_key
    if not raw:
        return
    try:
        check_bootstrap_key(raw)
    except EngineError as err:
        typer.echo(f"error: {err.detail}", err=True)
        raise typer.Exit(2) from err


def _retention_ok() -> None:
    """A SIFT_RETENTION_DAYS shorter than the windows that read old signals stops the command."""
    from engine.errors import EngineError
    from engine.retention import service as retention

    days = get_settings().retention_days
    if days is None:
        return
    try:
        retention.check_days(days)
    except EngineError as err:
        typer.echo(f"error: {err.detail}", err=True)
        raise typer.Exit(2) from err


def _safe_url() -> str:
    from sqlalchemy.engine import make_url

    return make_url(get_settings().resolved_database_url).render_as_string(hide_password=True)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    worker: Annotated[bool, typer.Option(help="run the signal worker in this process")] = True,
) -> None:
    """Run the API with the worker in one process (migrates the embedded default database;
    a database named by SIFT_DATABASE_URL must be migrated first with ``sift migrate``)."""
    import uvicorn

    from api.app import create_app

    _lean_malloc()
    _logging()
    _bootstrap_key_ok()
    _retention_ok()
    _schema_ready()
    if worker:
        _nlp_ready()
    typer.echo(
        f"Sift on http://{host}:{port}  (API docs: http://{host}:{port}/docs, database: {_safe_url()})"
    )
    # the app writes its own access log (sift.access, api/accesslog.py): uvicorn's is off
    uvicorn.run(create_app(run_worker=worker), host=host, port=port, log_level="warning", access_log=False)


@connectors_app.command("run")
def connectors_run(
    only: Annotated[
        list[str] | None, typer.Option("--only", help="a connector's id or name (repeatable)")
    ] = None,
    now: Annotated[bool, typer.Option("--now", help="run them whether due or still backing off")] = False,
    stream_seconds: Annotated[
        float | None,
        typer.Option(help="how long a stream is held open (default SIFT_CONNECTOR_STREAM_SECONDS)"),
    ] = None,
    loop: Annotated[bool, typer.Option(help="keep running due connectors until Ctrl-C")] = False,
) -> None:
    """Run the enabled connectors that are due (one run each), printing what each brought in.
    A connector another process is running (``sift serve``, ``sift worker``) is left to it."""
    from engine.connectors import service as connectors

    _logging()
    _schema_ready()
    owner = connectors.owner_name()
    while True:
        with _database_errors():
            outcomes = connectors.run_due(owner=owner, only=only, force=now, stream_seconds=stream_seconds)
        for o in outcomes:
            when = o.next_run_at.isoformat() if o.next_run_at else "-"
            line = f"{o.name} ({o.kind}): {o.outcome}, {o.new} new, {o.repeats} repeats, next run {when}"
            typer.echo(line + (f"; {o.error}" if o.error else ""))
        if not loop:
            if not outcomes:
                typer.echo("no connector is due (enabled, not backing off, not running elsewhere)")
            raise typer.Exit(1 if any(o.outcome != "ok" for o in outcomes) else 0)
        try:
            time.sleep(get_settings().connector_poll_seconds)
        except KeyboardInterrupt:
            return


@app.command("worker")
def run_worker() -> None:
    """Run the signal worker, the timer service and the delivery service (webhooks, replies)
    without HTTP (scale-out: many share one PostgreSQL)."""
    from engine import bootstrap
    from engine.delivery.service import DeliveryService
    from engine.timers.poller import TimerService
    from engine.worker.service import Worker

    _lean_malloc()
    _logging()
    _bootstrap_key_ok()
    _retention_ok()
    _schema_ready()
    _nlp_ready()
    bootstrap.prepare()
    w, t, d = Worker(), TimerService(), DeliveryService()
    w.start()
    t.start()
    d.start()
    typer.echo(f"worker, timers and deliveries running against {_safe_url()}; Ctrl-C stops them")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        d.stop()
        t.stop()
        w.stop()


@app.command("backup")
def backup_cmd(
    path: Annotated[Path, typer.Argument(help="the new backup file (never overwritten)")],
) -> None:
    """Back up the configured database while Sift runs: SQLite's online backup API, or pg_dump
    (custom format) on PostgreSQL."""
    from engine import backup
    from engine.errors import EngineError

    try:
        with _database_errors():
            typer.echo(backup.backup(path))
    except (EngineError, OSError) as err:
        typer.echo(f"error: {getattr(err, 'detail', None) or err}", err=True)
        raise typer.Exit(2) from err


@app.command("restore")
def restore_cmd(
    path: Annotated[Path, typer.Argument(help="a file written by sift backup")],
    yes: Annotated[
        bool, typer.Option("--yes", help="replace the database's contents without asking")
    ] = False,
) -> None:
    """Replace the configured database's contents with a backup (stop sift serve and workers first)."""
    from engine import backup
    from engine.errors import EngineError

    if not yes:
        typer.confirm(f"Replace everything in {_safe_url()} with {path}?", abort=True)
    try:
        with _database_errors():
            typer.echo(backup.restore(path))
    except (EngineError, OSError) as err:
        typer.echo(f"error: {getattr(err, 'detail', None) or err}", err=True)
        raise typer.Exit(2) from err


@app.command("archive")
def archive_cmd(
    days: Annotated[
        float | None, typer.Option(help="archive what is older than this (default SIFT_RETENTION_DAYS)")
    ] = None,
) -> None:
    """Archive signals and activity events past the retention now (the timer service does it
    every SIFT_RETENTION_INTERVAL_SECONDS when SIFT_RETENTION_DAYS is set)."""
    from engine.errors import EngineError
    from engine.retention import service as retention

    if days is None and get_settings().retention_days is None:
        typer.echo("error: pass --days or set SIFT_RETENTION_DAYS", err=True)
        raise typer.Exit(2)
    try:
        with _database_errors():
            done = retention.archive(days)
    except EngineError as err:
        typer.echo(f"error: {err.detail}", err=True)
        raise typer.Exit(2) from err
    typer.echo(f"archived {done.signals} signals and {done.events} events into {len(done.files)} files")
    for name in done.files:
        typer.echo(f"  {name}")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="holder name; also the assignee value")],
    role: Annotated[str, typer.Option(help="integration | csr | supervisor | process_owner | admin")],
    skills: Annotated[list[str] | None, typer.Option(help="a skill (repeat)")] = None,
    queues: Annotated[list[str] | None, typer.Option(help="a queue (repeat)")] = None,
) -> None:
    """Create an API key and print it (shown once)."""
    from engine.auth import service as auth
    from engine.db import unit_of_work
    from engine.errors import EngineError

    try:
        with unit_of_work() as session:
            key, raw = auth.create_key(session, name, role, skills=skills, queues=queues, actor="cli")
    except EngineError as err:
        typer.echo(f"error: {err.detail}", err=True)
        raise typer.Exit(2) from err
    typer.echo(json.dumps({"id": key.id, "name": key.name, "role": key.role, "key": raw}))


@keys_app.command("list")
def keys_list(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per key")] = False,
) -> None:
    """Every key with its role and dates (never the key itself)."""
    from engine.auth import service as auth
    from engine.db import unit_of_work

    with unit_of_work() as session:
        keys = auth.list_keys(session)
    for key in keys:
        if as_json:
            typer.echo(json.dumps(_key_info(key)))
            continue
        state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
        used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
        typer.echo(
            f"{key.id}  {key.name:<20} {key.role:<13} created {key.created_at:%Y-%m-%d %H:%M}  "
            f"used {used}  {state}"
        )


@keys_app.command("revoke")
def keys_revoke(
    id_or_name: Annotated[str, typer.Argument(metavar="NAME_OR_ID", help="the key's id or holder name")],
) -> None:
    """Revoke a key at once (its next request is refused); the last active admin key is kept."""
    from engine.auth import service as auth
    from engine.db import unit_of_work
    from engine.errors import EngineError, NotFound

    try:
        with unit_of_work() as session:
            key, revoked = auth.revoke_key(session, id_or_name, actor="cli")
    except NotFound as err:
        typer.echo(f"error: no key with the id or name {id_or_name!r}; 'sift keys list' shows them", err=True)
        raise typer.Exit(2) from err
    except EngineError as err:
        typer.echo(f"error: {err.detail}", err=True)
        raise typer.Exit(2) from err
    if revoked:
        typer.echo(f"revoked {key.name} ({key.role}, {key.id})")
    else:
        typer.echo(f"{key.name} was revoked already, at {key.revoked_at:%Y-%m-%d %H:%M:%S} UTC")


def _key_info(key: object) -> dict[str, object]:
    fields = ("id", "name", "role", "skills", "queues", "created_at", "last_used_at", "revoked_at")
    info = {f: getattr(key, f) for f in fields}
    return {f: v.isoformat() if hasattr(v, "isoformat") else v for f, v in info.items()}


@app.command()
def demo(
    url: Annotated[str, typer.Option(help="base URL of a running Sift")] = "http://127.0.0.1:8000",
    key: Annotated[
        str | None,
        typer.Option(
            help="a key with the integration or admin role; prefer SIFT_KEY, which ps does not show",
            envvar="SIFT_KEY",
        ),
    ] = None,
    rate: Annotated[float, typer.Option(help="signals per second")] = 2.0,
    count: Annotated[int, typer.Option(help="how many to send (0 = until stopped)")] = 0,
    seed: Annotated[int | None, typer.Option(help="random seed for a reproducible stream")] = None,
) -> None:
    """Send a demo stream of mentions into a running Sift."""
    from engine.demo import team
    from engine.demo.stream import signals

    if not key:
        typer.echo("error: set SIFT_KEY (or pass --key) to an integration or admin key", err=True)
        raise typer.Exit(2)
    headers = {"Authorization": f"Bearer {key}"}
    sent = 0
    with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
        _wait_healthy(client)
        try:
            made = team.set_up(client)
        except (RuntimeError, httpx.HTTPError) as err:
            made = team.SetUp([], [], str(err))
        if made.problem:
            typer.echo(f"demo: {made.problem}", err=True)
        elif made.created:
            names = ", ".join(made.created)
            typer.echo(
                f"demo: made the CSRs {names} (keys not shown); you work {', '.join(made.admin_queues)}"
            )
        for body in signals(seed=seed):
            if count and sent >= count:
                break
            try:
                r = client.post("/api/v1/signals", json=body)
                if r.status_code >= 400:
                    typer.echo(f"demo: {r.status_code} {r.text[:200]}", err=True)
            except httpx.HTTPError as err:
                typer.echo(f"demo: {type(err).__name__}; retrying", err=True)
                time.sleep(1)
                continue
            sent += 1
            time.sleep(1.0 / rate if rate > 0 else 0)
    typer.echo(f"demo: sent {sent} signals")


def _wait_healthy(client: httpx.Client, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    typer.echo("error: Sift did not answer /healthz in time", err=True)
    raise typer.Exit(1)


@app.command()
def replay(
    path: Annotated[
        Path, typer.Argument(help="JSON lines (.jsonl) or CSV (.csv) of mentions, as POST /signals")
    ],
    url: Annotated[str, typer.Option(help="base URL of a running Sift")] = "http://127.0.0.1:8000",
    key: Annotated[
        str | None, typer.Option(help="an integration or admin key (or SIFT_KEY)", envvar="SIFT_KEY")
    ] = None,
    batch: Annotated[int, typer.Option(min=1, max=1000, help="mentions per POST /signals:batch")] = 500,
    wait: Annotated[float, typer.Option(help="seconds to wait for the worker before the summary")] = 300.0,
) -> None:
    """Post historical mentions in event-time order (created_at), then list the trends found."""
    from api.replay import read

    if not key:
        typer.echo("error: set SIFT_KEY (or pass --key) to an integration or admin key", err=True)
        raise typer.Exit(2)
    try:
        mentions, problems = read(path)
    except (OSError, UnicodeDecodeError) as err:
        typer.echo(f"error: cannot read {path}: {getattr(err, 'strerror', None) or err}", err=True)
        raise typer.Exit(2) from err
    if problems:
        for problem in problems:
            typer.echo(f"{path}:{problem}", err=True)
        typer.echo(f"error: {path} has problems (first {len(problems)} shown); nothing was sent", err=True)
        raise typer.Exit(2)
    if not mentions:
        typer.echo(f"error: {path} holds no mentions", err=True)
        raise typer.Exit(2)
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
        try:
            refused = _post_in_order(client, mentions, batch)
            _wait_processed(client, wait)
            trends = _trends_since(client, mentions[0].at.isoformat())
        except httpx.HTTPError as err:
            typer.echo(f"error: cannot reach {url} ({type(err).__name__})", err=True)
            raise typer.Exit(2) from err
    _summary(len(mentions), refused, trends, mentions[0].at, mentions[-1].at)
    raise typer.Exit(1 if refused else 0)


def _post_in_order(client: httpx.Client, mentions: list, size: int) -> int:
    from rich.progress import Progress

    refused = 0
    with Progress(transient=False) as progress:
        task = progress.add_task("replaying", total=len(mentions))
        for at in range(0, len(mentions), size):
            chunk = mentions[at : at + size]
            r = client.post("/api/v1/signals:batch", json={"signals": [m.body for m in chunk]})
            if r.status_code == 429:
                time.sleep(float(r.headers.get("Retry-After", "5")))
                r = client.post("/api/v1/signals:batch", json={"signals": [m.body for m in chunk]})
            if r.status_code >= 400:
                _fail(r)
            for mention, result in zip(chunk, r.json()["results"], strict=True):
                if "error" in result:
                    refused += 1
                    typer.echo(f"line {mention.line}: {result['error']}: {result['detail']}", err=True)
            progress.advance(task, len(chunk))
    return refused


def _wait_processed(client: httpx.Client, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        r = client.get("/api/v1/signals", params={"status": "pending", "limit": 1})
        if r.status_code >= 400:
            _fail(r)
        if not r.json()["items"]:
            return
        time.sleep(0.5)
    typer.echo(f"warning: signals still pending after {seconds:g} s; the summary may be short", err=True)


def _trends_since(client: httpx.Client, since: str) -> list[dict]:
    found: list[dict] = []
    cursor = None
    while True:
        params = {"since": since, "limit": 200, **({"cursor": cursor} if cursor else {})}
        r = client.get("/api/v1/trends", params=params)
        if r.status_code >= 400:
            _fail(r)
        page = r.json()
        found += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return list(reversed(found))  # oldest first


def _summary(sent: int, refused: int, trends: list[dict], first: object, last: object) -> None:
    typer.echo(f"replayed {sent - refused} of {sent} mentions from {first} to {last}; {len(trends)} trends:")
    for t in trends:
        name = f"{t['series']['kind']}:{t['series']['key']}"
        case = f" investigation {t['case_id']}" if t.get("case_id") else ""
        typer.echo(
            f"  {t['detected_at']}  {name:<32} volume {t['volume']} vs {t['baseline']:.1f} expected, "
            f"score {t['score']:.1f}, severity {t['severity']}{case}"
        )


@app.command()
def enrich() -> None:
    """JSON lines (or plain text lines) in on stdin, one JSON line of enrichment out per line."""
    from engine.nlp.cli import enrich_stream

    _nlp_ready()
    _ok, bad = enrich_stream(sys.stdin, sys.stdout, sys.stderr)
    raise typer.Exit(1 if bad else 0)


@customers_app.command("import")
def customers_import(
    path: Annotated[Path, typer.Argument(help="CSV: external_ref,name,lifetime_value,tier,handles")],
) -> None:
    """Import customer records (value tier, lifetime value, handles across channels)."""
    from engine.customers.importer import import_csv
    from engine.db import unit_of_work
    from engine.errors import EngineError

    try:
        with unit_of_work() as session:
            report = import_csv(session, path.read_text(encoding="utf-8-sig"), actor="cli")
    except (EngineError, OSError, UnicodeDecodeError) as err:
        typer.echo(f"error: {getattr(err, 'detail', err)}", err=True)
        raise typer.Exit(2) from err
    for problem in report.errors:
        typer.echo(f"line {problem['line']}: {problem['message']}", err=True)
    typer.echo(
        f"{report.rows} rows: {report.created} created, {report.updated} updated, "
        f"{report.merged} merged, {len(report.errors)} skipped"
    )
    raise typer.Exit(1 if report.errors else 0)


@processes_app.command("validate")
def processes_validate(path: Annotated[Path, typer.Argument(help="a .bpmn or .dmn file")]) -> None:
    """Check a definition offline; print every problem (exit 1 when there is any)."""
    from engine import bootstrap
    from engine.errors import EngineError
    from engine.runtime import parse_definition

    bootstrap.register_operations()
    try:
        parsed = parse_definition(path.read_bytes(), path.name)
    except OSError as err:
        typer.echo(f"error: cannot read {path}: {err.strerror}", err=True)
        raise typer.Exit(2) from err
    except EngineError as err:
        typer.echo(f"{path}: {err.detail}", err=True)
        for problem in err.fields or []:
            typer.echo(_problem_line(path, problem))
        raise typer.Exit(1) from err
    typer.echo(f"{path}: valid {parsed.kind.upper()} {parsed.key!r}")
    for warning in parsed.warnings:
        typer.echo(_problem_line(path, warning.as_field(), "warning"))


def _problem_line(path: Path, problem: dict, level: str = "error") -> str:
    at = f":{problem['line']}" if problem.get("line") else ""
    at += f":{problem['column']}" if problem.get("column") else ""
    element = problem.get("element_id")
    name = f" ({problem['element_name']})" if problem.get("element_name") else ""
    where = f" [{element}{name}]" if element else ""
    return f"{path}{at}: {level}{where}: {problem.get('message')}"


def _api(url: str, key: str | None) -> httpx.Client:
    if not key:
        typer.echo("error: pass --key (or set SIFT_KEY) with a process_owner or admin key", err=True)
        raise typer.Exit(2)
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def _fail(r: httpx.Response, path: Path | None = None) -> None:
    try:
        body = r.json()
    except ValueError:
        body = {"error": "HttpError", "detail": r.text[:300]}
    typer.echo(f"error: {r.status_code} {body.get('error')}: {body.get('detail')}", err=True)
    for problem in body.get("fields") or []:
        typer.echo(_problem_line(path or Path("file"), problem))
    raise typer.Exit(1)


_URL = Annotated[str, typer.Option(help="base URL of a running Sift")]
_KEY = Annotated[str | None, typer.Option(help="a process_owner or admin key", envvar="SIFT_KEY")]


@processes_app.command("upload")
def processes_upload(
    path: Annotated[Path, typer.Argument(help="a .bpmn or .dmn file")],
    deploy: Annotated[bool, typer.Option(help="deploy the uploaded version")] = False,
    url: _URL = "http://127.0.0.1:8000",
    key: _KEY = None,
) -> None:
    """Upload a definition as a new draft version (and deploy it with --deploy)."""
    try:
        data = path.read_bytes()
    except OSError as err:
        typer.echo(f"error: cannot read {path}: {err.strerror}", err=True)
        raise typer.Exit(2) from err
    with _api(url, key) as client:
        try:
            r = client.post("/api/v1/processes", files={"file": (path.name, data, "application/xml")})
            if r.status_code >= 400:
                _fail(r, path)
            version = r.json()
            state = "uploaded" if version.get("created") else "unchanged, already stored as"
            typer.echo(f"{state} {version['key']} v{version['version']} ({version['status']})")
            if deploy:
                r = client.post(f"/api/v1/processes/{version['key']}/versions/{version['version']}/deploy")
                if r.status_code >= 400:
                    _fail(r)
                typer.echo(f"deployed {version['key']} v{version['version']}")
        except httpx.HTTPError as err:
            typer.echo(f"error: cannot reach {url} ({type(err).__name__})", err=True)
            raise typer.Exit(2) from err


@processes_app.command("list")
def processes_list(url: _URL = "http://127.0.0.1:8000", key: _KEY = None) -> None:
    """Keys, their versions, who uploaded them and which is deployed."""
    with _api(url, key) as client:
        try:
            r = client.get("/api/v1/processes")
        except httpx.HTTPError as err:
            typer.echo(f"error: cannot reach {url} ({type(err).__name__})", err=True)
            raise typer.Exit(2) from err
        if r.status_code >= 400:
            _fail(r)
    for item in r.json()["items"]:
        typer.echo(f"{item['key']} ({item['kind']}), deployed: v{item['deployed_version']}")
        for v in item["versions"]:
            mark = "*" if v["version"] == item["deployed_version"] else " "
            typer.echo(
                f"  {mark} v{v['version']}  {v['status']:<8} {v['uploaded_by'] or '-'}  {v['uploaded_at']}"
            )


@app.command("dev-key")
def dev_key(path: Annotated[Path, typer.Argument(help="file that keeps the key")]) -> None:
    """Print the local admin key kept in PATH, creating it on first use (used by ./dev run)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("sift_" + secrets.token_urlsafe(24))
        os.chmod(path, 0o600)
    typer.echo(path.read_text().strip())


if __name__ == "__main__":
    app()
