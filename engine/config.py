"""One Settings object for the whole process; every value can be set with a
``SIFT_`` environment variable."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIFT_", env_file=None, extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="Folder for the embedded database and caches.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default: SQLite in data_dir.")
    bootstrap_admin_key: str | None = None

    max_body_bytes: int = 1_048_576
    max_text_chars: int = 20_000
    batch_max_items: int = 1000

    worker_batch_size: int = 50
    worker_poll_seconds: float = 0.5
    signal_max_attempts: int = 5
    signal_retry_base_seconds: float = 2.0

    gc_threshold: int = Field(
        default=20_000,
        description="Generation-0 threshold of Python's cyclic GC in worker processes (0: Python's default). "
        "Process trees and ORM rows allocate heavily; the default 700 cost ~12% of worker time.",
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

    nlp_model: str | None = Field(
        default=None, description="Installed spaCy package to use instead of blank."
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'sift.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
