"""The content pack's configuration, from ``RESCORE_CONTENT_*`` variables (and the services'
own key variables, read from the environment only).

Defaults run offline: the shipped sample course folder, videos in ``.rescore/content/videos``,
the offline analyser and the local vector store. Each part switches by one variable::

    RESCORE_CONTENT_SOURCE=hotmart   HOTMART_CLIENT_ID, HOTMART_CLIENT_SECRET,
                                     RESCORE_CONTENT_HOTMART_URL, RESCORE_CONTENT_HOTMART_TOKEN_URL
    RESCORE_CONTENT_STORAGE=s3://bucket/videos   RESCORE_CONTENT_S3_ENDPOINT (MinIO, ...)
    RESCORE_CONTENT_ANALYZER=gemini  GEMINI_API_KEY (or openai: OPENAI_API_KEY)
    RESCORE_CONTENT_VECTORS=openai   OPENAI_API_KEY, RESCORE_OPENAI_BASE_URL
"""

from __future__ import annotations

import importlib.util
import os
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from rescore.exceptions import ConfigurationError

if TYPE_CHECKING:
    from rescore.packs.content.analysis import Analyzer
    from rescore.packs.content.knowledge import LocalVectorStore, VectorStore
    from rescore.packs.content.sources import Source
    from rescore.packs.content.storage import Storage

__all__ = ["SAMPLE", "ContentSettings", "load_settings"]

#: The sample course folder shipped in the package (the demo's and the default source).
SAMPLE = Path(str(files("rescore.packs.content").joinpath("sample")))


class ContentSettings(BaseSettings):
    """Where courses come from, where videos go, who analyses and where knowledge is kept."""

    model_config = SettingsConfigDict(env_prefix="RESCORE_CONTENT_", extra="ignore")

    source: Literal["folder", "hotmart"] = "folder"
    folder: Path = SAMPLE
    hotmart_url: str = "https://developers.hotmart.com/club/api/v1"
    hotmart_token_url: str = "https://api-sec-vlc.hotmart.com/security/oauth/token"
    storage: str = ".rescore/content/videos"
    s3_endpoint: str | None = None
    analyzer: Literal["offline", "gemini", "openai"] = "offline"
    vectors: Literal["local", "openai"] = "local"
    index_dir: Path = Path(".rescore/content/index")
    concurrency: int = Field(5, ge=1, le=64)
    max_attempts: int = Field(3, ge=1, le=20)
    retry_seconds: float = Field(60.0, ge=0)
    lease_seconds: float = Field(900.0, gt=0)
    retention_days: float = Field(7.0, gt=0)
    #: the secret Hotmart signs its webhooks with; POST /hotmart refuses every call without it
    hottok: str | None = Field(None, repr=False)

    def make_source(self) -> Source:
        from rescore.packs.content.sources import FolderSource, HotmartSource

        if self.source == "folder":
            return FolderSource(self.folder)
        return HotmartSource(
            base_url=self.hotmart_url,
            token_url=self.hotmart_token_url,
            client_id=_env("HOTMART_CLIENT_ID"),
            client_secret=_env("HOTMART_CLIENT_SECRET"),
        )

    def make_storage(self) -> Storage:
        from rescore.packs.content.storage import LocalStorage, S3Storage

        if self.storage.startswith("s3://"):
            return S3Storage(self.storage, endpoint_url=self.s3_endpoint)
        return LocalStorage(Path(self.storage))

    def make_analyzer(self) -> Analyzer:
        if self.analyzer == "offline":
            _require("yake", "usearch")
            from rescore.packs.content.offline import OfflineAnalyzer

            return OfflineAnalyzer()
        from rescore.llm import from_env
        from rescore.packs.content.analysis import ModelAnalyzer

        return ModelAnalyzer(from_env(self.analyzer))

    def make_local_index(self) -> LocalVectorStore:
        _require("usearch")
        from rescore.packs.content.knowledge import LocalVectorStore

        return LocalVectorStore(self.index_dir)

    def make_vectors(self) -> VectorStore:
        if self.vectors == "local":
            return self.make_local_index()
        from rescore.packs.content.knowledge import OpenAIVectorStore

        return OpenAIVectorStore(
            api_key=_env("OPENAI_API_KEY"), base_url=os.environ.get("RESCORE_OPENAI_BASE_URL")
        )


def _require(*modules: str) -> None:
    """A clear error when the ``content`` extra is not installed."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigurationError(
            f"the content pack's offline pipeline needs {', '.join(missing)}: "
            "pip install 'rescore[content]'"
        )


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ConfigurationError(f"the content pack needs {name} in the environment")
    return value


def load_settings() -> ContentSettings:
    """The settings the environment gives, or one clear :class:`ConfigurationError`."""
    try:
        return ContentSettings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "RESCORE_CONTENT_" + str(first["loc"][0]).upper()
        raise ConfigurationError(f"{name}: {first['msg']}") from None
