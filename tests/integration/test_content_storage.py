"""Where the content pack keeps videos: S3-compatible storage against moto's standalone S3
server on loopback (the SDK not mocked) and the local folder; both streamed, both purged by
age (the seed's 7-day lifecycle), neither leaving a half-written video under its key."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from test_backup_s3 import keys, s3_endpoint  # noqa: F401 (fixtures)

from rescore.exceptions import ConfigurationError
from rescore.packs.content.storage import LocalStorage, S3Storage, fetch

pytestmark = pytest.mark.integration

VIDEO = (
    Path(__file__).resolve().parents[2]
    / "src/rescore/packs/content/sample/python-desde-cero/m1/l1.mp4"
)


@pytest.mark.usefixtures("keys")
def test_s3_storage_streams_checks_and_purges(s3_endpoint: str) -> None:  # noqa: F811
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket="videos")
    store = S3Storage("s3://videos/content", endpoint_url=s3_endpoint)
    chunks = [b"a" * 70_000, b"b" * 70_000, b"c"]
    assert store.put("c1/m1/l1.mp4", iter(chunks)) == 140_001
    assert store.put("c1/m1/l2.mp4", fetch(VIDEO.as_uri())) == VIDEO.stat().st_size
    assert store.exists("c1/m1/l1.mp4")
    assert not store.exists("c1/m1/l1")
    body = (
        boto3.client("s3", endpoint_url=s3_endpoint)
        .get_object(Bucket="videos", Key="content/c1/m1/l1.mp4")["Body"]
        .read()
    )
    assert body == b"".join(chunks)
    assert store.purge(older_than=datetime.now(UTC) - timedelta(days=7)) == []
    gone = store.purge(older_than=datetime.now(UTC) + timedelta(seconds=5))
    assert sorted(gone) == ["content/c1/m1/l1.mp4", "content/c1/m1/l2.mp4"]
    assert not store.exists("c1/m1/l1.mp4")


def test_local_storage_is_atomic_confined_and_purged_by_age(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "videos")

    def broken() -> object:
        yield b"half"
        raise OSError("connection dropped")

    with pytest.raises(OSError, match="dropped"):
        store.put("c1/m1/l1.mp4", broken())  # type: ignore[arg-type]
    assert not store.exists("c1/m1/l1.mp4"), "no half-written video under its key"
    assert store.put("c1/m1/l1.mp4", fetch(VIDEO.as_uri())) == VIDEO.stat().st_size
    assert store.put("c1/m1/l2.mp4", [b"new"]) == 3
    old = time.time() - 8 * 86_400
    os.utime(tmp_path / "videos" / "c1/m1/l1.mp4", (old, old))
    assert store.purge(older_than=datetime.now(UTC) - timedelta(days=7)) == ["c1/m1/l1.mp4"]
    assert store.exists("c1/m1/l2.mp4")
    with pytest.raises(ConfigurationError, match="leaves the storage folder"):
        store.put("../../etc/x", [b"x"])
    with pytest.raises(ConfigurationError, match="s3://BUCKET/PREFIX"):
        S3Storage("videos/content")
