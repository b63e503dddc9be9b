"""One place for configuration: every setting can come from a ``RESCORE_*`` environment variable.

The CLI builds a :class:`Settings` from its flags (each flag names its variable in ``--help``),
the rest of the code receives it explicitly: no global configuration object.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rescore.exceptions import ConfigurationError

__all__ = ["DEFAULT_DATABASE_URL", "Settings", "settings_from"]

DEFAULT_DATABASE_URL = "sqlite:///.rescore/rescore.db"


class Settings(BaseSettings):
    """rescore's settings. Defaults give the embedded runtime: one SQLite file, no services."""

    model_config = SettingsConfigDict(env_prefix="RESCORE_", extra="forbid")

    database_url: str = Field(
        DEFAULT_DATABASE_URL, description="Where scores, events and pending work live."
    )
    source_url: str | None = Field(
        None, description="The packs' source database; defaults to database_url."
    )
    packs: list[str] | None = Field(None, description="Load only these packs (default: all).")
    tenant: str = Field(
        "default",
        min_length=1,
        max_length=64,
        description="The tenant (business) CLI commands act on; HTTP takes it from the API key.",
    )
    flush_interval: float = Field(2.0, gt=0, description="Seconds between normal-lane flushes.")
    flush_size: int = Field(
        1000, ge=1, description="Flush the normal lane early once this many entities wait."
    )
    batch_size: int = Field(500, ge=1, description="Entities claimed and written per batch.")
    flush_slice: int = Field(
        50,
        ge=1,
        description="Entities the embedded runtime's normal flush claims and writes per "
        "transaction; between slices it yields to critical work.",
    )
    max_attempts: int = Field(5, ge=1, description="Failures before an entity is dead-lettered.")
    retry_backoff: float = Field(
        1.0, ge=0, description="First retry delay in seconds; doubles per attempt."
    )
    lease_seconds: float = Field(
        300.0, gt=0, description="A claim older than this is presumed abandoned and retaken."
    )
    heartbeat_interval: float = Field(
        2.0, gt=0, description="Seconds between a worker process's heartbeats in the database."
    )
    worker_stale_after: float = Field(
        10.0,
        gt=0,
        description="A worker silent this long is pruned and its claims are given back at once.",
    )
    split_workers: bool = Field(
        True,
        description="`rescore serve`: rescore critical events in the API's process and run "
        "the normal lane, schedules and deliveries in a companion process beside it, so a "
        "flush never holds the interpreter a critical rescore needs; false: one process.",
    )
    poll_interval: float = Field(
        0.5, gt=0, description="How often workers look for work queued by other processes."
    )
    snapshot_dir: Path = Field(Path(".rescore/snapshots"), description="Where exports go.")
    snapshot_cron: str = Field(
        "*/15 * * * *",
        description="When (cron, in `timezone`) both runtimes export a snapshot; empty: never.",
    )
    cache_ttl: float = Field(
        60.0,
        ge=0,
        description="Seconds before a cached lookup is re-read in the background (jittered, "
        "served meanwhile; past twice this it is re-read first; 0: no cache).",
    )
    max_critical_lag: float = Field(
        5.0, gt=0, description="/readyz fails when critical work waits longer than this."
    )
    broker_url: str | None = Field(
        None,
        description="Celery broker (amqp://... or redis://...) for `rescore worker --celery`; "
        "when set, ingest sends critical work to the `critical` queue at once.",
    )
    cache_url: str | None = Field(
        None,
        description="Redis URL of a lookup cache shared by every process (default: each "
        "process caches in memory).",
    )
    reconcile_cron: str = Field(
        "0 3 * * *",
        description="When (cron, in `timezone`) both runtimes reconcile every pack; empty: never.",
    )
    max_body_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, description="Largest HTTP request body accepted (413 above)."
    )
    max_payload_bytes: int = Field(
        64 * 1024, ge=64, description="Largest event payload accepted, as JSON (413 above)."
    )
    max_event_age_days: float = Field(
        7305.0,
        gt=0,
        description="Refuse an event whose occurred_at is older than this (20 years: an older "
        "time is nearly always a mistake, such as Unix time 0).",
    )
    max_event_lead_seconds: float = Field(
        86400.0, ge=0, description="Refuse an event whose occurred_at is further ahead than this."
    )
    history_partitions_ahead: int = Field(
        3,
        ge=0,
        le=120,
        description="PostgreSQL: monthly history partitions kept created ahead of the current "
        "month by the hourly partition job.",
    )
    history_retention_months: int = Field(
        0,
        ge=0,
        description="PostgreSQL: remove history partitions whose month ended more than this "
        "many months ago, once a verified backup in backup_dir covers them (0: keep forever).",
    )
    history_retention_action: Literal["detach", "drop"] = Field(
        "detach",
        description="What retention does with an expired history partition: detach it (a "
        "plain table, out of every query) or drop it.",
    )
    backup_dir: Path = Field(Path(".rescore/backups"), description="Where backups are written.")
    backup_keep: int = Field(7, ge=1, description="Backups kept in backup_dir; older ones go.")
    backup_cron: str = Field(
        "30 2 * * *",
        description="When (cron, in `timezone`) both runtimes back up the database (before the "
        "reconciliation, so a backup holds the state it repairs); empty: never.",
    )
    backup_s3_url: str | None = Field(
        None, description="Also copy every backup to this bucket: s3://BUCKET/PREFIX."
    )
    backup_s3_endpoint: str | None = Field(
        None,
        description="Endpoint of an S3-compatible service (MinIO, Backblaze B2, ...); "
        "keys come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.",
    )
    backup_before_migrate: bool = Field(
        True,
        description="Back up an existing database before migrating it, and refuse to "
        "migrate when that backup fails.",
    )
    timezone: str = Field(
        "UTC", description="IANA time zone of rescore's own cron jobs (backup, reconcile, ...)."
    )
    schedule_catch_up: float = Field(
        3600.0,
        ge=0,
        description="A cron tick missed while no scheduler ran (a restart) still runs if it "
        "is at most this many seconds old.",
    )
    rules_refresh: float = Field(
        5.0, gt=0, description="Seconds a process keeps a tenant's automation rules cached."
    )
    delivery_attempts: int = Field(
        6, ge=1, description="Failed attempts before an automation delivery is dead-lettered."
    )
    delivery_backoff: float = Field(
        2.0, gt=0, description="Seconds before a failed delivery's first retry (doubling)."
    )
    delivery_lease: float = Field(
        60.0,
        gt=0,
        description="Seconds a dispatcher holds a claimed delivery before another may take it "
        "(a dead worker's are given back sooner, when it is pruned).",
    )
    channel_dir: Path = Field(
        Path(".rescore/inbox"),
        description="Where notifications to a channel with no `RESCORE_CHANNEL_<NAME>` URL "
        "go (one JSON line each): the offline default.",
    )
    embedder: Literal["auto", "e5", "minilm", "hashing"] = Field(
        "auto",
        description="What turns texts into vectors for matching by meaning: the offline "
        "multilingual E5 model (`rescore[multilingual]`, best for Spanish and Portuguese), "
        "the offline English MiniLM model (`rescore[embeddings]`), a hashing fallback that "
        "needs nothing, or `auto` (MiniLM when installed).",
    )
    host: str = Field("127.0.0.1", description="Address `rescore serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `rescore serve` listens on.")
    metrics_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="`rescore worker` serves /metrics on this port (a Celery worker's process "
        "N on this port + N); 0: not served. `rescore serve` answers /metrics on its own port.",
    )
    metrics_host: str = Field(
        "127.0.0.1", description="Address a worker's /metrics server listens on."
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="Log lines as readable text or as JSON (one object per line)."
    )
    log_level: Literal["debug", "info", "warning", "error", "critical"] = Field(
        "info",
        description="The lowest level of the log lines written (on standard error) by the "
        "services (serve, worker, poll, consume); other commands log warnings unless set.",
    )

    @field_validator("snapshot_cron", "reconcile_cron", "backup_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from rescore.schedule import check_cron

        return check_cron(value) if value else value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from rescore.schedule import check_zone

        return check_zone(value)

    @field_validator("worker_stale_after")
    @classmethod
    def _stale_after_beats(cls, value: float, info: ValidationInfo) -> float:
        """A threshold within two heartbeats would prune live workers and steal their claims."""
        interval = info.data.get("heartbeat_interval")
        if interval is not None and value <= 2 * interval:
            raise ValueError(
                f"must exceed twice the heartbeat interval ({interval} s), or live workers "
                "are pruned"
            )
        return value

    @property
    def effective_source_url(self) -> str:
        return self.source_url or self.database_url


def settings_from(values: Mapping[str, Any]) -> Settings:
    """Settings from explicit values (CLI flags; None means "not given"), the rest from
    ``RESCORE_*`` variables and defaults. A bad value is a :class:`ConfigurationError` that
    names both the flag and the variable, since either may have carried it."""
    given = {k: v for k, v in values.items() if v is not None}
    if isinstance(given.get("packs"), str):
        given["packs"] = [p.strip() for p in given["packs"].split(",") if p.strip()]
    try:
        return Settings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "settings"
        source = "--" + name.replace("_", "-") if name in given else f"RESCORE_{name.upper()}"
        got = first.get("input")
        shown = f" (got {got!r})" if isinstance(got, str | int | float) else ""
        raise ConfigurationError(f"{source}: {first['msg']}{shown}") from None
