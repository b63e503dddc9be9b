"""Log lines: JSON objects with the context fields when asked, readable text otherwise, one
handler however often logging is configured, and secrets masked wherever they appear."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from conftest import event, put_items
from rescore import logs
from rescore.engine import Engine
from rescore.journal import Journal
from rescore.testing import drain


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    out = io.StringIO()
    yield out
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_timestamp_level_logger_message_and_context(
    stream: io.StringIO,
) -> None:
    logs.configure(fmt="json", stream=stream, environ={})
    extra = {"pack": "credit", "entity": "1001", "lane": "critical", "duration_ms": 4.5}
    logging.getLogger("rescore.test").info("rescored %s", "1001", extra=extra)
    (line,) = lines(stream)
    assert line["message"] == "rescored 1001"
    assert line["level"] == "INFO"
    assert line["logger"] == "rescore.test"
    assert str(line["timestamp"]).endswith("+00:00")
    assert {k: line[k] for k in extra} == extra


def test_text_is_the_default_and_configuring_twice_keeps_one_handler(
    stream: io.StringIO,
) -> None:
    logs.configure(stream=stream, environ={})
    logs.configure(stream=stream, environ={})
    logging.getLogger("rescore.test").warning("plain words")
    (line,) = stream.getvalue().splitlines()
    assert line.endswith("WARNING rescore.test: plain words")


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("postgresql+psycopg://app:pg-pass-1@db:5432/scores", "pg-pass-1"),
        ("redis://:redis-pass-2@cache:6379/0", "redis-pass-2"),
        ("amqp://guest:amqp-pass-3@mq//", "amqp-pass-3"),
        ("Bearer rsk_4f2a_Zm9vYmFyYmF6cXV4", "Zm9vYmFyYmF6cXV4"),
        ("tgram://123456789:AAbot-token-5/987654", "AAbot-token-5"),
        ("https://hooks.example/notify?token=web-token-6&sig=sig-7", "web-token-6"),
        ("https://hooks.example/notify?token=web-token-6&sig=sig-7", "sig-7"),
        ("mailto://user:mail-pass-8@example.com", "mail-pass-8"),
    ],
)
def test_secrets_are_masked_in_messages(text: str, secret: str) -> None:
    masked = logs.redact(f"connecting to {text} now")
    assert secret not in masked
    assert logs.MASK in masked


def test_plain_urls_keep_what_an_operator_needs() -> None:
    text = "sqlite:///.rescore/rescore.db and postgresql+psycopg://app:pw1234@db:5432/scores"
    assert logs.redact(text) == (
        "sqlite:///.rescore/rescore.db and postgresql+psycopg://app:***@db:5432/scores"
    )


def test_secret_named_variables_arguments_and_tracebacks_are_masked(
    stream: io.StringIO,
) -> None:
    environ = {"RESCORE_TELEGRAM_TOKEN": "tok-98765-abc", "RESCORE_TENANT": "default"}
    logs.configure(fmt="json", stream=stream, environ=environ)
    log = logging.getLogger("rescore.test")
    log.info("token is %s", "tok-98765-abc", extra={"entity": "tok-98765-abc"})
    log.info("tenant %s", "default")
    try:
        raise RuntimeError("cannot reach mysql+pymysql://root:hunter2-db@h/x")
    except RuntimeError:
        log.exception("failed")
    out = stream.getvalue()
    assert "tok-98765-abc" not in out
    assert "hunter2-db" not in out
    assert "tenant default" in out, "only secret-named variables are secrets"
    assert "RuntimeError" in lines(stream)[2]["exception"]  # type: ignore[operator]


def test_the_journal_logs_failures_and_rescores_with_context(
    engine: Engine, stream: io.StringIO
) -> None:
    logs.configure(fmt="json", level="debug", stream=stream, environ={})
    engine.observers.append(Journal())
    put_items(engine, x=(10, 20), bad=(-1, 0))  # the toy pack refuses a negative a
    engine.ingest([event("e1", "a_changed", "x"), event("e2", "a_changed", "bad")])
    drain(engine)
    found = [line for line in lines(stream) if line["logger"] == "rescore.journal"]
    stored = next(line for line in found if line.get("event_id") == "e1")
    assert stored["lane"] == "critical"
    rescored = next(line for line in found if str(line["message"]).startswith("rescored"))
    assert rescored["entity"] == "x"
    assert rescored["pack"] == "toy"
    assert isinstance(rescored["duration_ms"], float)
    failed = next(line for line in found if line["level"] == "WARNING")
    assert failed["entity"] == "bad"
    assert failed["tenant"] == "default"


def test_without_a_stream_lines_go_to_the_current_standard_error(
    stream: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test runner (or a daemon) may swap sys.stderr after logging was configured."""
    logs.configure(environ={})
    monkeypatch.setattr("sys.stderr", stream)
    logging.getLogger("rescore.test").warning("after the swap")
    assert stream.getvalue().endswith("WARNING rescore.test: after the swap\n")
