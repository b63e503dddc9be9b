"""Copies of backups in an S3-compatible bucket (AWS S3, MinIO, Backblaze B2, ...): the
off-site layer of seed 001's three ("recovery after losing the whole server").

A backup ``rescore-...`` goes to ``s3://BUCKET/PREFIX/rescore-.../`` as its two files, the data
first and the manifest last, each checked by size once stored: a folder with a manifest is a
complete copy. The keys come from the environment the way every S3 tool reads them
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, optionally ``AWS_DEFAULT_REGION``); rescore
never logs or prints them. How long copies stay is the bucket's lifecycle rule to decide.

Example::

    upload(Path("backups/rescore-20261130T030000Z"), "s3://acme-backups/rescore",
           endpoint_url="http://127.0.0.1:9000")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rescore.db.checksum import Progress
from rescore.exceptions import (
    BackupError,
    ConfigurationError,
    RescoreError,
    ServiceUnavailable,
)

__all__ = ["parse_s3_url", "upload"]

#: S3 error codes only a change of configuration fixes.
_USER_ERRORS = {
    "NoSuchBucket": "the bucket does not exist",
    "AccessDenied": "access denied: check the keys' permissions on the bucket",
    "InvalidAccessKeyId": "the access key is not known to the service",
    "SignatureDoesNotMatch": "the secret key does not match the access key",
}


def _quiet(_message: str) -> None:
    pass


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ("bucket", "some/prefix")."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ConfigurationError(f"backup_s3_url: {url!r} is not s3://BUCKET[/PREFIX]")
    return parts.netloc, parts.path.strip("/")


def _client(endpoint_url: str | None) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ModuleNotFoundError as exc:
        raise ConfigurationError(
            "copying backups to a bucket needs boto3: pip install 'rescore[s3]'"
        ) from exc
    # a session of its own: keys are read from the environment now, not cached from before
    config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10)
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)


def upload(
    folder: Path, url: str, *, endpoint_url: str | None = None, progress: Progress = _quiet
) -> str:
    """Copy the backup in ``folder`` to the bucket at ``url``; return where it went."""
    bucket, prefix = parse_s3_url(url)
    base = f"{prefix}/{folder.name}" if prefix else folder.name
    files = sorted(folder.iterdir(), key=lambda f: f.name == "manifest.json")  # manifest last
    try:
        client = _client(endpoint_url)
        for file in files:
            progress(f"uploading {file.name} to s3://{bucket}/{base}/")
            _put(client, file, bucket, f"{base}/{file.name}")
    except RescoreError:
        raise
    except Exception as exc:
        raise _converted(exc, bucket) from exc
    return f"s3://{bucket}/{base}/"


def _put(client: Any, file: Path, bucket: str, key: str) -> None:
    client.upload_file(str(file), bucket, key)
    stored = client.head_object(Bucket=bucket, Key=key)["ContentLength"]
    if stored != file.stat().st_size:
        raise BackupError(
            f"s3://{bucket}/{key} holds {stored} bytes, {file.stat().st_size} were sent"
        )


def _converted(exc: Exception, bucket: str) -> RescoreError:
    """botocore's errors as ours; their messages never carry the keys."""
    from botocore import exceptions as bx

    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return ConfigurationError(
            "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectTimeoutError):
        return ServiceUnavailable(f"the bucket's service cannot be reached ({exc})")
    code = ""
    for candidate in (exc, exc.__cause__, exc.__context__):  # boto3 wraps upload errors
        if isinstance(candidate, bx.ClientError):
            code = str(candidate.response.get("Error", {}).get("Code", ""))
            break
    if code in _USER_ERRORS:
        return ConfigurationError(f"s3://{bucket}: {_USER_ERRORS[code]}")
    return BackupError(f"copying the backup to s3://{bucket} failed: {exc}")
