"""The error boundary: one table maps driver and OS errors to ours (httpx's model)."""

from __future__ import annotations

import errno
import re
import sqlite3

import pytest
import sqlalchemy as sa

from rescore.boundary import RULES, convert, converted
from rescore.db.engine import Database
from rescore.exceptions import (
    ConfigurationError,
    InvalidInput,
    RescoreError,
    ServiceUnavailable,
    StorageUnavailable,
)

NO_FILE = "unable to open database file"


@pytest.mark.parametrize(
    ("exc", "kind", "text"),
    [
        (sa.exc.NoSuchModuleError("Can't load plugin"), ConfigurationError, "foo://"),
        (ModuleNotFoundError("No module named 'MySQLdb'", name="MySQLdb"), ConfigurationError, ""),
        (
            sa.exc.OperationalError(
                "x", {}, sqlite3.OperationalError("unable to open database file")
            ),
            ConfigurationError,
            "no such database",
        ),
        (
            sa.exc.OperationalError("x", {}, sqlite3.OperationalError("disk I/O error")),
            StorageUnavailable,
            "cannot be reached",
        ),
        (UnicodeDecodeError("utf-8", b"\xf1", 0, 1, "invalid"), InvalidInput, "not UTF-8"),
        (NotADirectoryError(errno.ENOTDIR, "Not a directory"), ConfigurationError, "cannot use"),
        (OSError(errno.ENOSPC, "No space left on device"), StorageUnavailable, "free some space"),
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), ServiceUnavailable, "running?"),
    ],
)
def test_the_table_maps_each_error_to_the_most_specific_of_ours(
    exc: BaseException, kind: type[RescoreError], text: str
) -> None:
    ours = convert(exc, where="foo://somewhere")
    assert type(ours) is kind
    assert text in str(ours)


def test_an_unknown_error_is_left_alone() -> None:
    assert convert(ZeroDivisionError("boom")) is None
    with pytest.raises(ZeroDivisionError), converted():
        raise ZeroDivisionError("boom")


def test_converted_chains_the_original_for_debugging() -> None:
    with pytest.raises(StorageUnavailable) as found, converted(where="db"):
        raise sa.exc.OperationalError("x", {}, sqlite3.OperationalError("database is locked"))
    assert isinstance(found.value.__cause__, sa.exc.OperationalError)


def test_every_rule_names_a_real_exception_class() -> None:
    """A typo in a rule's class name would silently never match."""
    import importlib

    for rule in RULES:
        module, _, name = rule.kind.rpartition(".")
        assert hasattr(importlib.import_module(module), name), rule.kind


def test_database_urls_are_checked_at_the_boundary() -> None:
    for url, text in [
        ("postgres://u@h/db", "use postgresql+psycopg://"),
        ("mysql://root@h/db", "use mysql+pymysql://"),
        ("nonsense", "is not a database URL"),
    ]:
        with pytest.raises(ConfigurationError, match=re.escape(text)):
            Database(url)


def test_passwords_never_appear_in_messages() -> None:
    with pytest.raises(ConfigurationError) as found:
        Database("postgres://user:s3cret@h/db")
    assert "s3cret" not in str(found.value)
