"""One Settings object for the whole process; every value can be set with a
``SIFT_`` environment variable."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

from limits import parse as parse_rate_limit
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIFT_", env_file=None, extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="Folder for the embedded database and caches.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default: SQLite in data_dir.")
    bootstrap_admin_key: str | None = Field(
        default=None,
        description="When set and no admin key exists, an admin key with exactly this value is created; "
        "at least 24 characters.",
    )

    # Rate limits, in the `limits` library's notation ("20/minute", "100 per 10 seconds"), counted
    # in a moving window. With the default memory storage every API process counts on its own
    # (N processes allow N times the figure); set rate_limit_storage to a shared store such as
    # "redis://127.0.0.1:6379/0" (needs the `redis` package) to count once across processes.
    rate_limit_storage: str = Field(
        default="memory://",
        description="`limits` storage URI: memory:// (per process) or redis://host:port/db.",
    )
    auth_failure_rate_limit: str = Field(
        default="20/minute",
        description="Invalid API keys allowed per client address (IPv6: per /64); past it, that address "
        "gets 429 for any key that has not already worked from it.",
    )
    ingest_rate_limit: str = Field(
        default="6000/minute",
        description="Signals accepted per key through POST /signals and /signals:batch (a batch counts "
        "its items); past it, 429.",
    )

    max_body_bytes: int = 1_048_576
    max_text_chars: int = 20_000
    nlp_max_chars: int = Field(
        default=5_000,
        ge=280,
        description="Characters of a signal's text that enrichment reads: the first N, cut at the last "
        "whitespace before N when there is one. The signal keeps its whole text; the enrichment says "
        "how much it read (`analysed_chars`).",
    )
    batch_max_items: int = 1000

    worker_batch_size: int = 50
    worker_poll_seconds: float = 0.5
    signal_max_attempts: int = 5
    signal_retry_base_seconds: float = 2.0

    intake: Literal["database", "nats"] = Field(
        default="database",
        description="How workers learn of new signals: database (they poll the inbox table) or nats (the API "
        "publishes each accepted signal's id to a NATS JetStream stream and workers pull from a durable "
        "consumer with explicit acks; the database stays the truth).",
    )
    nats_url: str = Field(default="nats://127.0.0.1:4222", description="NATS server(s) of the intake.")
    nats_stream: str = Field(
        default="SIFT_SIGNALS", description="JetStream stream of the intake (a work queue)."
    )
    nats_subject: str = Field(default="sift.signals", description="Subject the API publishes signal ids on.")
    nats_consumer: str = Field(default="sift-workers", description="Durable pull consumer all workers share.")
    nats_ack_wait_seconds: float = Field(
        default=30.0, gt=0, description="A fetched message not acked within this is delivered again."
    )
    nats_timeout_seconds: float = Field(default=5.0, gt=0, description="Connect, publish and ack timeout.")
    nats_sweep_seconds: float = Field(
        default=5.0,
        gt=0,
        description="With the NATS intake: how often a worker sweeps the inbox table for signals the broker "
        "did not carry (a failed publish, a retry, a reply whose buffer window ended).",
    )
    nats_sweep_grace_seconds: float = Field(
        default=10.0,
        ge=0,
        description="The sweep takes only signals due for longer than this (the broker path goes first).",
    )

    retention_days: float | None = Field(
        default=None,
        gt=0,
        description="Signals and activity events older than this many days are archived to gzip JSON lines in "
        "archive_dir and deleted, except those a live case or the inbox still needs (docs/operations.md); "
        "unset, everything is kept. At least the reopen window.",
    )
    retention_interval_seconds: float = Field(
        default=3600.0, gt=0, description="How often the timer service runs the retention job."
    )
    archive_dir: Path | None = Field(
        default=None, description="Where archived rows go; default data_dir/archive."
    )

    timer_poll_seconds: float = Field(
        default=1.0,
        description="How often the timer service looks for due timers written by other processes; "
        "timers written in this process, and the nearest due one, wake it at their due time.",
    )
    timer_batch_size: int = 100
    timer_lease_seconds: float = Field(
        default=30.0,
        description="How long a claimed timer is held; a firing still running after it cannot commit.",
    )
    timer_max_attempts: int = 5
    timer_retry_base_seconds: float = 2.0

    delivery_poll_seconds: float = Field(
        default=0.5, description="How often the delivery service looks for new outbox events and due sends."
    )
    delivery_timeout_seconds: float = Field(
        default=10.0, description="HTTP timeout of one webhook or reply send."
    )
    delivery_lease_seconds: float = Field(
        default=60.0, description="How long a claimed send is held; longer than the HTTP timeout."
    )
    delivery_threads: int = Field(default=4, description="Sends the delivery service runs side by side.")
    webhook_max_attempts: int = Field(default=8, description="Attempts of one delivery before it is failed.")
    webhook_retry_base_seconds: float = Field(
        default=30.0, description="Wait after a first failed attempt; doubles after each further failure."
    )
    webhook_retry_max_seconds: float = Field(default=3600.0, description="Longest wait between attempts.")
    webhook_disable_after_failures: int = Field(
        default=20,
        description="Failed attempts in a row, over all of a subscription's deliveries, that disable it.",
    )
    reply_endpoint: str | None = Field(
        default=None,
        description="URL the HTTP channel adapter POSTs outbound replies to; unset, replies stay queued.",
    )
    reply_secret: str | None = Field(
        default=None, description="When set, reply POSTs carry a Sift-Signature made with it."
    )
    reply_max_attempts: int = Field(default=8, description="Attempts to send one reply before it is failed.")
    reply_retry_base_seconds: float = Field(
        default=10.0, description="Wait after a reply's first failed attempt; doubles after each further one."
    )
    reply_retry_max_seconds: float = Field(default=3600.0, description="Longest wait between reply attempts.")

    # Listening connectors (engine/connectors): Mastodon, Bluesky, RSS/Atom, Reddit
    connector_key: str | None = Field(
        default=None,
        description="Fernet key (32 url-safe base64 bytes) that encrypts connectors' credentials; "
        "needed to store or use any.",
    )
    connector_poll_seconds: float = Field(
        default=5.0, gt=0, description="How often the timer service looks for connectors due to run."
    )
    connector_interval_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Wait between two polls of a feed, listing or timeline (per connector).",
    )
    connector_stream_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How long one run holds a stream (Mastodon SSE, Bluesky Jetstream) open before it "
        "saves its cursor and hands the connector to the next run.",
    )
    connector_timeout_seconds: float = Field(default=15.0, gt=0, description="HTTP timeout of one request.")
    connector_retry_base_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Wait after a connector's first failed run; doubles after each further one.",
    )
    connector_retry_max_seconds: float = Field(
        default=900.0, gt=0, description="Longest wait after failures."
    )
    connector_threads: int = Field(default=4, ge=1, description="Connectors run side by side in one round.")

    web_session_hours: float = Field(
        default=12.0,
        gt=0,
        description="A web sign-in lasts at most this long (a working day), then the person signs in again.",
    )
    web_session_idle_minutes: float = Field(
        default=60.0,
        gt=0,
        description="A web session unused for this long has ended (the next page asks to sign in).",
    )

    node_modules: Path | None = Field(
        default=None,
        description="Folder of the installed front-end packages (npm ci); default: node_modules of the checkout.",
    )

    assist_url: str | None = Field(
        default=None,
        description="Base URL of an OpenAI-compatible chat endpoint (…/v1) for draft replies; unset, assisted "
        "replies are off.",
    )
    assist_model: str = Field(default="gpt-4o-mini", description="The model the draft requests name.")
    assist_key: str | None = Field(
        default=None, description="Bearer key for the assist endpoint, if it needs one."
    )
    assist_timeout_seconds: float = Field(default=30.0, gt=0, description="How long a draft may take.")
    assist_pii_labels: str = Field(
        default="EMAIL,PHONE",
        description="Entity labels redacted before anything leaves for the assist endpoint (add ORDER_ID, "
        "TRACKING_NUMBER, … as your policy needs), comma-separated.",
    )

    gc_threshold: int = Field(
        default=20_000,
        description="Generation-0 threshold of Python's cyclic GC in worker processes (0: Python's default). "
        "Process trees and ORM rows allocate heavily; the default 700 cost ~12% of worker time.",
    )

    malloc_arenas: int = Field(
        default=2,
        ge=0,
        description="glibc malloc arenas of sift serve and sift worker (0: glibc's default, 8 per core). "
        "Each thread that meets contention gets an arena of its own, and each keeps its freed memory.",
    )
    malloc_mmap_threshold: int = Field(
        default=1024 * 1024,
        ge=0,
        description="Bytes from which glibc malloc maps a block of its own, given back when freed "
        "(0: glibc's default, a threshold that grows up to 32 MiB with the blocks freed).",
    )

    script_time_limit_seconds: float = 0.5
    script_step_limit: int = 100_000
    script_pool_size: int = Field(
        default=2, description="Sandbox processes that run BPMN script tasks (started on first use)."
    )
    script_memory_mb: int = Field(
        default=256, description="Address-space limit (RLIMIT_AS) of one sandbox process, in MB."
    )
    script_cpu_seconds: int = Field(
        default=2, description="CPU seconds (RLIMIT_CPU) one script task may use, even inside one C call."
    )
    script_wall_seconds: float = Field(
        default=5.0,
        description="A script task that has not answered by then is killed (its process replaced).",
    )

    duplicate_window_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="The same text from the same author within this window is recorded once (as Dispatch: 1 h).",
    )
    reopen_window_seconds: float = Field(
        default=7 * 24 * 3600.0,
        ge=0,
        description="A mention or reply this long after its case was resolved reopens the case; later, a new case.",
    )
    reply_buffer_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="How long a reply that came before its parent waits for it before it is handled alone.",
    )
    conversation_quiet_period: timedelta = Field(
        default=timedelta(days=3),
        gt=timedelta(0),
        description="How long a case waits for the customer before it resolves itself (ISO 8601, e.g. P3D; "
        "the BPMN timer quiet_period of the reactive case).",
    )
    writing_lease_seconds: float = Field(
        default=90.0,
        gt=0,
        le=3600,
        description="How long a CSR's claim to be writing on a task lasts unless renewed "
        "(POST /tasks/{id}/writing again); a closed browser blocks nobody past it.",
    )

    trend_lateness_minutes: int = Field(
        default=1,
        ge=0,
        le=60,
        description="Trends: a minute of event time is evaluated once a signal this many minutes after its "
        "end has been counted; a signal later than that is counted (insights) but no longer scored.",
    )
    trend_live_horizon_minutes: int = Field(
        default=10,
        ge=1,
        description="Trends: while the newest counted signal is at most this old, the minute job evaluates "
        "up to the clock (a quiet live stream); a replay of older mentions is driven by its own events.",
    )
    trend_tick_seconds: float = Field(
        default=60.0, gt=0, description="How often the timer service runs trend detection on the clock."
    )
    trend_queue: str = Field(default="investigations", description="The queue investigation cases open in.")
    trend_sla_policy: str = Field(
        default="investigation",
        description="The SLA policy investigation cases get (shipped: define the cause within hours, close within days).",
    )

    nlp_model: str | None = Field(
        default=None, description="Installed spaCy package to use instead of blank."
    )

    @field_validator("auth_failure_rate_limit", "ingest_rate_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        try:
            parse_rate_limit(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a rate limit; write it like '20/minute' or '100 per 10 seconds'"
            ) from None
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'sift.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
