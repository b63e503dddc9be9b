"""Logging for every command, configured in one place: readable text or JSON lines, secrets out.

``rescore``'s group calls :func:`configure` once, before any command runs, from
``--log-format``/``RESCORE_LOG_FORMAT`` and ``--log-level``/``RESCORE_LOG_LEVEL``; uvicorn and
Celery are told to keep their hands off the root logger, so their lines come out the same way.

With ``json`` each line is one object (what Promtail ships to Loki): ``timestamp`` (UTC, ISO
8601), ``level``, ``logger``, ``message`` and, where the code passes them with ``extra=``, the
context fields :data:`CONTEXT` lists::

    log.info("rescored", extra={"pack": "credit", "entity": "1001", "duration_ms": 4.2})

Secrets never reach a line: :class:`Redactor` (a filter on the one handler, so it sees every
record, propagated ones too) masks URL passwords, API keys, the query values of web URLs, whole
notification-channel URLs (their tokens are in the path), the values of secret-named
environment variables (``RESCORE_*_KEY``, ``*_TOKEN``, ``*_SECRET``, ``*_PASSWORD``) and any
value given to :func:`add_secret`.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter

__all__ = ["CONTEXT", "MASK", "Redactor", "add_secret", "configure", "redact"]

#: The context fields a JSON line carries when a record has them.
CONTEXT = ("pack", "entity", "event_id", "tenant", "lane", "duration_ms")
MASK = "***"
HANDLER = "rescore"  # the name of the handler configure() installs (and replaces)
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
#: Environment variables whose values are secrets, by the end of their name.
SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD)$", re.IGNORECASE)
MIN_SECRET = 6  # shorter values ("1", "true") would mask ordinary words

_PASSWORD = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)([^@\s]+)(@)")
_API_KEY = re.compile(r"\brsk_[A-Za-z0-9]+_[A-Za-z0-9_-]+")
_WEB_QUERY = re.compile(r"\bhttps?://[^\s?#]+\?[^\s#\"']+")
_QUERY_VALUE = re.compile(r"=[^&]*")
#: Schemes whose URLs locate data or a broker (the password alone is masked); any other
#: scheme (tgram://, slack://, mailto://, json://...) is a notification channel: masked whole.
_PLAIN_SCHEMES = (
    "http|https|sqlite|postgresql|postgres|mysql|mariadb|redis|rediss|amqp|amqps|s3|file|nats"
)
_NOT_PLAIN = rf"(?<![a-zA-Z0-9+.-])(?!(?:{_PLAIN_SCHEMES})(?:\+[a-z0-9]+)?://)"
_CHANNEL = re.compile(_NOT_PLAIN + r"([a-z][a-z0-9+.-]{1,20})://[^\s\"']+", re.IGNORECASE)
_secrets: set[str] = set()


def add_secret(value: str) -> None:
    """Mask ``value`` wherever it appears in a log line from now on (a webhook URL, a token
    read from a file)."""
    if len(value) >= MIN_SECRET:
        _secrets.add(value)


def secrets_of(environ: Mapping[str, str]) -> list[str]:
    """The values of ``environ``'s secret-named variables."""
    return [v for k, v in environ.items() if SECRET_NAME.search(k) and len(v) >= MIN_SECRET]


def redact(text: str) -> str:
    """``text`` with every secret this module knows of masked."""
    for secret in sorted(_secrets, key=len, reverse=True):  # longest first: no partial leftovers
        text = text.replace(secret, MASK)
    text = _PASSWORD.sub(rf"\g<1>{MASK}\g<3>", text)
    text = _API_KEY.sub(f"rsk_{MASK}", text)
    text = _CHANNEL.sub(rf"\g<1>://{MASK}", text)
    return _WEB_QUERY.sub(_mask_query, text)


def _mask_query(found: re.Match[str]) -> str:
    """Every value of a web URL's query string (``?token=...&sig=...``)."""
    url, _, query = found.group(0).partition("?")
    return f"{url}?{_QUERY_VALUE.sub('=' + MASK, query)}"


class Redactor(logging.Filter):
    """Masks secrets in a record's message, arguments, traceback and string extras before any
    formatter sees it; changes nothing else (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        for name in CONTEXT:
            value = getattr(record, name, None)
            if isinstance(value, str):
                setattr(record, name, redact(value))
        return True


class _Json(JsonFormatter):
    """python-json-logger with the field names Loki dashboards expect."""

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data["level"] = log_data.pop("levelname", record.levelname)
        log_data["logger"] = log_data.pop("name", record.name)
        if "exc_info" in log_data:
            log_data["exception"] = log_data.pop("exc_info")


def configure(
    *,
    fmt: str = "text",
    level: str = "info",
    stream: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> logging.Handler:
    """Send every logger's records, redacted, to ``stream`` (standard error) as ``fmt``
    (``text`` or ``json``) from ``level`` up; replaces what an earlier call installed."""
    for secret in secrets_of(os.environ if environ is None else environ):
        add_secret(secret)
    handler: logging.Handler = logging.StreamHandler(stream) if stream else _Stderr()
    handler.addFilter(Redactor())
    handler.setFormatter(_formatter(fmt))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER]:
        root.removeHandler(old)
    handler.set_name(HANDLER)
    root.addHandler(handler)
    root.setLevel(level.upper())
    _quiet(("httpx", "httpcore", "kombu", "amqp", "urllib3", "botocore", "alembic.runtime"))
    return handler


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes (a test runner or a daemon
    may swap it after logging was configured), like logging's own last-resort handler."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        """The stream is always the current standard error."""


def _formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        return _Json(
            "%(message)s %(levelname)s %(name)s",
            timestamp=True,  # "timestamp": UTC ISO 8601
            reserved_attrs=_reserved(),
        )
    formatter = logging.Formatter(TEXT_FORMAT)
    formatter.converter = _utc
    return formatter


def _reserved() -> list[str]:
    """python-json-logger's reserved attributes; every other extra is written as a field."""
    from pythonjsonlogger.core import RESERVED_ATTRS

    return list(RESERVED_ATTRS)


def _utc(seconds: float | None) -> Any:
    import time

    return time.gmtime(seconds)


def _quiet(names: Iterable[str]) -> None:
    """Chatty libraries log their connections at INFO; warnings still come through."""
    for name in names:
        logging.getLogger(name).setLevel(logging.WARNING)
