"""The tenders pack's settings, from ``RESCORE_TENDERS_*`` variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["TendersSettings"]


class TendersSettings(BaseSettings):
    """Where monthly files arrive, when they are imported, how long analyses are cached, where
    the win model and the alert profiles' index live."""

    model_config = SettingsConfigDict(env_prefix="RESCORE_TENDERS_", extra="forbid")

    inbox: Path = Field(
        Path(".rescore/tenders-inbox"),
        description="Folder the monthly schedule imports new COT_YYYY-MM.zip files from.",
    )
    import_cron: str = Field(
        "0 6 2 * *", description="When the inbox is imported (cron, in import_timezone)."
    )
    import_timezone: str = Field("America/Santiago", description="IANA zone of import_cron.")
    partitions_ahead: int = Field(
        3, ge=0, le=36, description="Monthly history partitions kept ahead (PostgreSQL)."
    )
    semantic_min_similarity: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Cosine a product name needs to count as similar by meaning (default: "
        "0.55 with MiniLM, 0.4 with the hashing fallback).",
    )
    cache_ttl: float = Field(
        3600.0, ge=0, description="Seconds a price analysis stays cached (0: no cache)."
    )
    cache_url: str | None = Field(
        None,
        description="Redis URL of the price-analysis cache (default: RESCORE_CACHE_URL, "
        "else this process's memory).",
    )

    models_dir: Path = Field(
        Path(".rescore/models"),
        description="Where `rescore tenders train` saves the win model (used instead of the "
        "shipped one once there).",
    )
    index_dir: Path | None = Field(
        None,
        description="Folder of the alert profiles' vector index (default: beside the SQLite "
        "file, else .rescore).",
    )

    llm: Literal["offline", "gemini", "openai"] = Field(
        "offline",
        description="Who writes proposal drafts: offline templates over the data, or Gemini "
        "(GEMINI_API_KEY) / OpenAI (OPENAI_API_KEY) through rescore.llm.",
    )
    telegram_token: SecretStr | None = Field(
        None, description="The bot's token from @BotFather (never logged)."
    )
    link_secret: SecretStr | None = Field(
        None,
        description="Signs the codes `/start` links a chat with (rescore tenders enlace); "
        "unset: `/start <rut>` links by RUT, which anyone who knows the RUT can do.",
    )
    telegram_base_url: str = Field(
        "https://api.telegram.org/bot",
        description="Bot API base URL (the token is appended); tests point it at a local fake.",
    )
    upgrade_url: str | None = Field(
        None,
        description="Checkout URL /upgrade answers (a Stripe payment link; {suscriptor} and "
        "{tier} are filled in); none: the plans as text.",
    )
    exports_dir: Path = Field(
        Path(".rescore/tenders-exports"), description="Where exports and proposal files go."
    )
    workers: int = Field(2, ge=1, le=64, description="Job worker threads the bot runs.")
    jobs_cron: str = Field(
        "* * * * *",
        description="When the runtime's scheduler runs queued jobs (UTC cron); the bot and "
        "`rescore tenders workers` run them at once.",
    )
    job_attempts: int = Field(3, ge=1, le=20, description="Tries a job gets before it fails.")
    stripe_secret: SecretStr | None = Field(
        None,
        description="The Stripe endpoint's signing secret (whsec_...): POST /stripe verifies "
        "each event's Stripe-Signature with it; unset, the webhook answers 503.",
    )
    stripe_tolerance: int = Field(
        300, ge=1, le=3600, description="Seconds a Stripe signature's timestamp may be off."
    )
    grace_days: float = Field(
        3.0,
        ge=0,
        le=60,
        description="Days a paid tier is kept after a failed renewal or its expiry, before "
        "the downgrade schedule puts the subscriber back on free.",
    )
    downgrade_cron: str = Field(
        "*/15 * * * *", description="When the downgrade schedule runs (cron, UTC)."
    )

    def redis_url(self) -> str | None:
        """This pack's Redis, or the core's lookup-cache Redis, or none."""
        return self.cache_url or os.environ.get("RESCORE_CACHE_URL") or None
