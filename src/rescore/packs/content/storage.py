"""Where downloaded videos go: a local folder by default, S3-compatible storage optionally.

A download is **streamed** (never held whole in memory) into a temporary name and renamed into
place when complete, so a crash leaves no half-written video under the real key (on S3 the
multipart upload only becomes an object when it completes). The seed's lifecycle rule (delete
videos after 7 days) is :meth:`Storage.purge`, run by the pack's daily schedule::

    store = LocalStorage(Path(".rescore/content/videos"))
    store.put("c1/m1/l1.mp4", fetch("file:///courses/c1/m1/l1.mp4"))
    store.purge(older_than=datetime.now(UTC) - timedelta(days=7))
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

import httpx

from rescore.exceptions import ConfigurationError, ServiceUnavailable

__all__ = ["CHUNK", "LocalStorage", "S3Storage", "Storage", "fetch", "fetch_text"]

CHUNK = 1 << 16


class Storage(Protocol):
    """A place for large artefacts, by key."""

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        """Store the streamed ``chunks`` under ``key``; return the byte count."""
        ...

    def exists(self, key: str) -> bool: ...

    def purge(self, *, older_than: datetime) -> list[str]:
        """Delete what was stored before ``older_than`` (aware); return the deleted keys."""
        ...


def fetch(url: str, *, timeout: float = 60.0) -> Iterator[bytes]:
    """The bytes at ``url`` (``file:`` or ``http(s):``), chunk by chunk."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        with open(unquote(parsed.path), "rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk
        return
    if parsed.scheme not in ("http", "https"):
        raise ConfigurationError(f"cannot download {parsed.scheme!r} URLs")
    try:
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as response:
            response.raise_for_status()
            yield from response.iter_bytes(CHUNK)
    except httpx.HTTPError as exc:
        raise ServiceUnavailable(f"download failed: {type(exc).__name__}") from None


def fetch_text(url: str) -> str:
    """A small text file (subtitles) at ``url``, decoded as UTF-8 (BOM tolerated)."""
    return b"".join(fetch(url)).decode("utf-8-sig", errors="replace")


class LocalStorage:
    """Files under ``root``; the modification time is the age :meth:`purge` reads."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ConfigurationError(f"storage key {key!r} leaves the storage folder")
        return path

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        size = 0
        with open(partial, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
                size += len(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
        return size

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def purge(self, *, older_than: datetime) -> list[str]:
        cutoff = older_than.timestamp()
        gone = []
        for path in sorted(self.root.rglob("*")) if self.root.exists() else []:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                gone.append(path.relative_to(self.root).as_posix())
        return gone


class S3Storage:
    """An S3-compatible bucket (AWS, MinIO, moto's server): ``s3://BUCKET/PREFIX`` with an
    optional endpoint URL. Credentials come from the environment, as boto3 reads them."""

    def __init__(self, url: str, *, endpoint_url: str | None = None) -> None:
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ConfigurationError(f"{url!r} is not an s3://BUCKET/PREFIX URL")
        import boto3

        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self._s3: Any = boto3.client("s3", endpoint_url=endpoint_url)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        reader = _ChunkReader(iter(chunks))
        self._s3.upload_fileobj(reader, self.bucket, self._key(key))
        return reader.size

    def exists(self, key: str) -> bool:
        found = self._s3.list_objects_v2(Bucket=self.bucket, Prefix=self._key(key), MaxKeys=1)
        return any(o["Key"] == self._key(key) for o in found.get("Contents", []))

    def purge(self, *, older_than: datetime) -> list[str]:
        gone = []
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        )
        for page in pages:
            for item in page.get("Contents", []):
                if item["LastModified"].astimezone(UTC) < older_than:
                    self._s3.delete_object(Bucket=self.bucket, Key=item["Key"])
                    gone.append(item["Key"])
        return gone


class _ChunkReader:
    """A file-like ``read`` over a chunk iterator, so boto3 streams a multipart upload."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        out, self._buffer = (
            (self._buffer, b"") if size < 0 else (self._buffer[:size], self._buffer[size:])
        )
        self.size += len(out)
        return out
