"""The error boundary: every driver and OS error becomes one of rescore's, through one table.

httpx's ``map_httpcore_exceptions`` is the model: callers never see a SQLAlchemy, psycopg,
PyMySQL, sqlite3 or OS exception, only the most specific :class:`RescoreError` the table finds.
Two kinds matter to a user, and the table keeps them apart:

- :class:`ConfigurationError`: only the user can fix it (a wrong URL scheme, a database that does
  not exist, a password refused, a folder that cannot be written). Retrying will not help.
- :class:`StorageUnavailable` / :class:`ServiceUnavailable`: the server is down or unreachable;
  retrying later will.

Example::

    with converted(url="postgres://db/x"):
        create_engine(...)        # NoSuchModuleError -> ConfigurationError("... postgresql+psycopg://")
"""

from __future__ import annotations

import errno
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rescore.exceptions import (
    ConfigurationError,
    InvalidInput,
    RescoreError,
    ServiceUnavailable,
    StorageUnavailable,
    WriteConflict,
)

__all__ = ["RULES", "Rule", "convert", "converted"]

#: What to write instead of a scheme SQLAlchemy cannot load (or loads a driver we do not ship).
SCHEME_HINTS = {
    "postgres": "postgresql+psycopg://",
    "postgresql": "postgresql+psycopg://",
    "postgresql+psycopg2": "postgresql+psycopg://",
    "mysql": "mysql+pymysql://",
    "mariadb": "mysql+pymysql://",
    "mysql+mysqldb": "mysql+pymysql://",
    "mariadb+mysqldb": "mysql+pymysql://",
}
SCHEMES = "sqlite:///PATH, postgresql+psycopg://... or mysql+pymysql://..."


@dataclass(frozen=True, kw_only=True, slots=True)
class Rule:
    """One row of the table: an exception type, an optional pattern its message must match,
    and how to build our error from it (``where`` names the URL or path concerned)."""

    kind: str  # "module.ClassName" of the exception (or of its ``.orig`` driver error)
    pattern: str | None
    make: Callable[[BaseException, str], RescoreError]

    def matches(self, exc: BaseException) -> bool:
        if not any(_qualname(t) == self.kind for t in type(exc).__mro__):
            return False
        return self.pattern is None or re.search(self.pattern, str(exc), re.I) is not None


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _scheme(where: str) -> str:
    return where.split("://", 1)[0] if "://" in where else where


def _unknown_scheme(_exc: BaseException, where: str) -> RescoreError:
    scheme = _scheme(where)
    hint = SCHEME_HINTS.get(scheme)
    advice = f"use {hint}" if hint else f"use {SCHEMES}"
    return ConfigurationError(f"unknown database URL scheme {scheme}://: {advice}")


def _missing_driver(exc: BaseException, where: str) -> RescoreError:
    scheme = _scheme(where)
    hint = SCHEME_HINTS.get(scheme)
    if hint:
        return ConfigurationError(f"{scheme}:// needs a driver rescore does not ship: use {hint}")
    name = getattr(exc, "name", None) or str(exc)
    return ConfigurationError(
        f"the driver for {scheme}:// is not installed ({name}): install rescore's extra for it, "
        "e.g. pip install 'rescore[postgres]' or 'rescore[mysql]'"
    )


def _fixed(cls: type[RescoreError], message: str) -> Callable[[BaseException, str], RescoreError]:
    def make(exc: BaseException, where: str) -> RescoreError:
        return cls(message.format(where=where or "the database", error=_first_line(exc)))

    return make


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _os_error(exc: BaseException, where: str) -> RescoreError:
    assert isinstance(exc, OSError)
    target = where or exc.filename or "the file"
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageUnavailable(f"cannot write {target}: {reason}; free some space and retry")
    return ConfigurationError(f"cannot use {target}: {reason}")


def _not_utf8(exc: BaseException, where: str) -> RescoreError:
    assert isinstance(exc, UnicodeDecodeError)
    return InvalidInput(
        f"{where or 'the input'} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at "
        f"offset {exc.start}): save it as UTF-8 and try again"
    )


_DB_MISSING = "{where}: no such database; create it on the server, then run `rescore init`"
_DB_DENIED = "{where} refused the credentials ({error}); check the user and password"
_DB_DOWN = "{where} cannot be reached ({error}); try again when it is back"
_CONFLICT = "{where} refused the transaction ({error}); nothing was written: send it again"

#: The table, most specific first. Driver errors are matched on SQLAlchemy's wrapper's
#: ``.orig`` too, so one rule serves both.
RULES: tuple[Rule, ...] = (
    Rule(kind="sqlalchemy.exc.NoSuchModuleError", pattern=None, make=_unknown_scheme),
    Rule(
        kind="sqlalchemy.exc.ArgumentError",
        pattern=None,
        make=_fixed(ConfigurationError, "{where!r} is not a database URL: use " + SCHEMES),
    ),
    Rule(kind="builtins.ModuleNotFoundError", pattern=None, make=_missing_driver),
    Rule(
        kind="sqlite3.OperationalError",
        pattern="unable to open database file",
        make=_fixed(ConfigurationError, _DB_MISSING),
    ),
    Rule(
        kind="sqlite3.DatabaseError",
        pattern="file is not a database",
        make=_fixed(ConfigurationError, "{where} is not a SQLite database ({error})"),
    ),
    Rule(
        kind="psycopg.OperationalError",
        pattern=r'database ".*" does not exist',
        make=_fixed(ConfigurationError, _DB_MISSING),
    ),
    Rule(
        kind="psycopg.OperationalError",
        pattern=r"password authentication failed|role .* does not exist|no password supplied",
        make=_fixed(ConfigurationError, _DB_DENIED),
    ),
    Rule(
        kind="pymysql.err.OperationalError",
        pattern=r"\(1049,",
        make=_fixed(ConfigurationError, _DB_MISSING),
    ),
    Rule(
        kind="pymysql.err.OperationalError",
        pattern=r"\((1044|1045|1698),",
        make=_fixed(ConfigurationError, _DB_DENIED),
    ),
    Rule(
        kind="psycopg.OperationalError",
        pattern=r"deadlock detected|could not serialize access",
        make=_fixed(WriteConflict, _CONFLICT),
    ),
    Rule(
        kind="pymysql.err.OperationalError",
        pattern=r"\((1205|1213),",  # lock wait timeout, deadlock
        make=_fixed(WriteConflict, _CONFLICT),
    ),
    Rule(
        kind="sqlalchemy.exc.OperationalError",
        pattern=None,
        make=_fixed(StorageUnavailable, _DB_DOWN),
    ),
    Rule(
        kind="sqlalchemy.exc.InterfaceError",
        pattern=None,
        make=_fixed(StorageUnavailable, _DB_DOWN),
    ),
    Rule(kind="sqlite3.OperationalError", pattern=None, make=_fixed(StorageUnavailable, _DB_DOWN)),
    Rule(kind="psycopg.OperationalError", pattern=None, make=_fixed(StorageUnavailable, _DB_DOWN)),
    Rule(
        kind="pymysql.err.OperationalError", pattern=None, make=_fixed(StorageUnavailable, _DB_DOWN)
    ),
    Rule(kind="builtins.UnicodeDecodeError", pattern=None, make=_not_utf8),
    Rule(
        kind="builtins.ConnectionError",
        pattern=None,
        make=_fixed(ServiceUnavailable, "{where} cannot be reached ({error}); is it running?"),
    ),
    Rule(
        kind="builtins.TimeoutError",
        pattern=None,
        make=_fixed(ServiceUnavailable, "{where} did not answer in time ({error}); is it running?"),
    ),
    Rule(kind="builtins.OSError", pattern=None, make=_os_error),
)


def convert(exc: BaseException, *, where: str = "") -> RescoreError | None:
    """Our error for ``exc`` (or for the driver error it wraps), or None when the table has no
    row for it. ``where`` names the URL or path the operation was on, for the message."""
    if isinstance(exc, RescoreError):
        return exc
    candidates = [exc]
    orig = getattr(exc, "orig", None)
    if isinstance(orig, BaseException):
        candidates.insert(0, orig)
    for candidate in candidates:
        for rule in RULES:
            if rule.matches(candidate):
                return rule.make(candidate, where)
    return None


@contextmanager
def converted(*, where: str = "") -> Iterator[None]:
    """Re-raise any error the table knows as ours (chained to the original for --debug)."""
    try:
        yield
    except RescoreError:
        raise
    except Exception as exc:
        ours = convert(exc, where=where)
        if ours is None:
            raise
        raise ours from exc
