"""Copies of backups in an S3-compatible bucket, against moto's standalone S3 server on
loopback (a real HTTP server speaking S3; the SDK is not mocked): what lands in the bucket is
the backup, byte for byte, and each failure is a one-line error that never shows the keys."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import event, make_engine
from helpers import free_port, reachable
from rescore.backup import backup
from rescore.exceptions import ConfigurationError, ServiceUnavailable

pytestmark = pytest.mark.integration

SECRET = "s3cr3t-never-printed"


def _need_moto() -> str:
    server = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    if server:
        return server
    message = "moto[server] is not installed (it is in the dev extra: make env)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}, and CI=true requires it")
    pytest.skip(message)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = _need_moto()
    port = free_port()
    proc = subprocess.Popen(
        [server, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not reachable("127.0.0.1", port):
            assert proc.poll() is None, "moto_server exited"
            assert time.monotonic() < deadline, "moto_server did not start"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "rescore-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))


def _bucket(endpoint: str, name: str) -> object:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint)
    client.create_bucket(Bucket=name)
    return client


def _database(tmp_path: Path) -> str:
    engine = make_engine(tmp_path / "live.db")
    engine.ingest([event("e1", "noted", "x")])
    engine.close()
    return f"sqlite:///{tmp_path / 'live.db'}"


@pytest.mark.usefixtures("keys")
def test_a_backup_is_copied_to_the_bucket(s3_endpoint: str, tmp_path: Path) -> None:
    client: object = _bucket(s3_endpoint, "acme-backups")
    made = backup(
        _database(tmp_path),
        tmp_path / "out",
        s3_url="s3://acme-backups/rescore/nightly",
        s3_endpoint=s3_endpoint,
    )
    assert made.uploaded_to == f"s3://acme-backups/rescore/nightly/{made.path.name}/"
    prefix = f"rescore/nightly/{made.path.name}/"
    for name in ("data.sqlite", "manifest.json"):
        body = client.get_object(Bucket="acme-backups", Key=prefix + name)["Body"].read()  # type: ignore[attr-defined]
        assert (
            hashlib.sha256(body).digest()
            == hashlib.sha256((made.path / name).read_bytes()).digest()
        )


@pytest.mark.usefixtures("keys")
def test_bucket_failures_are_one_line_errors_without_the_keys(
    s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _database(tmp_path)
    with pytest.raises(ConfigurationError, match="does not exist") as missing:
        backup(url, tmp_path / "a", s3_url="s3://no-such-bucket", s3_endpoint=s3_endpoint)
    with pytest.raises(ServiceUnavailable, match="cannot be reached") as down:
        backup(url, tmp_path / "b", s3_url="s3://x", s3_endpoint=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ConfigurationError, match="not s3://BUCKET"):
        backup(url, tmp_path / "c", s3_url="https://x/y", s3_endpoint=s3_endpoint)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(ConfigurationError, match="no S3 credentials") as anonymous:
        backup(url, tmp_path / "d", s3_url="s3://acme-backups", s3_endpoint=s3_endpoint)
    for raised in (missing, down, anonymous):
        assert SECRET not in str(raised.value)
        assert "\n" not in str(raised.value)
    assert len(list((tmp_path / "a").iterdir())) == 1  # the local backup is kept regardless
