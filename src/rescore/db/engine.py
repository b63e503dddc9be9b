"""The one connector everything goes through: engines, transactions and error conversion.

SQLite (the embedded default) gets WAL mode, a busy timeout and ``BEGIN IMMEDIATE`` for write
transactions, so concurrent writers queue up instead of failing on a lock upgrade; reads use a
second engine with ordinary deferred transactions so they never take the write lock. Writers of
one process also take turns through a first-come-first-served lock: SQLite's own busy handler
polls with sleeps of up to 100 ms and no fairness, which under a steady stream of short ingest
transactions starved the workers for seconds (measured: critical p99 8.5 s before, see the
issue note).
Driver errors that mean "the database is not there" become :class:`StorageUnavailable`.

PostgreSQL and MariaDB/MySQL get a pool that checks connections before use and the READ
COMMITTED isolation level on both (MariaDB defaults to REPEATABLE READ, whose gap locks made
concurrent ingest and claims deadlock-prone; one level for both keeps one behaviour).
:meth:`Database.listen` gives PostgreSQL's LISTEN, so workers in other processes wake the
moment critical work is committed.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from rescore.boundary import SCHEMES, converted
from rescore.exceptions import (
    ConfigurationError,
    RescoreError,
    StorageUnavailable,
    WriteConflict,
)

__all__ = ["Database", "Listener", "json_dumps"]

T = TypeVar("T")


def json_dumps(value: Any) -> str:
    """JSON text as every JSON column is written (the score store's bulk path stages its
    rows with it, so its text compares equal to what the per-entity path wrote)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


class Database:
    """A database rescore writes to (or a pack reads its source from)."""

    def __init__(self, url: str, *, field: str = "database_url", create: bool = True) -> None:
        """``create=False`` refuses a SQLite file that does not exist (instead of creating an
        empty one); ``field`` names the setting the URL came from, for error messages."""
        with converted(where=_redacted(url)):
            try:
                self.url = make_url(url)
            except sa.exc.ArgumentError as exc:
                raise ConfigurationError(
                    f"{field}: {_redacted(url)!r} is not a database URL: use {SCHEMES}"
                ) from exc
            self.where = self.url.render_as_string(hide_password=True)
            self.dialect = self.url.get_backend_name()
            self._write_turn: TurnLock | None = None
            self.down_since: datetime | None = None
            if self.dialect == "sqlite":
                self._open_sqlite(create=create, field=field)
            else:
                self._open_server()

    def _open_sqlite(self, *, create: bool, field: str) -> None:
        if not self._in_memory:
            path = Path(self.url.database or "")
            if not create and not path.exists():
                flag = field.replace("_", "-").lstrip("-")
                raise ConfigurationError(
                    f"no database at {path}: create it with `rescore init`, or point "
                    f"--{flag} (RESCORE_{flag.replace('-', '_').upper()}) at an existing one"
                )
        self._write_turn = TurnLock()
        self.engine = self._sqlite_engine(immediate=True)
        self.reader = self.engine if self._in_memory else self._sqlite_engine(immediate=False)

    def _open_server(self) -> None:
        self.engine = sa.create_engine(
            self.url,
            pool_pre_ping=True,
            pool_recycle=3600,
            isolation_level="READ COMMITTED",
            json_serializer=json_dumps,
            json_deserializer=orjson.loads,
        )
        self.reader = self.engine

    @property
    def _in_memory(self) -> bool:
        return self.url.database in (None, "", ":memory:")

    def _sqlite_engine(self, *, immediate: bool) -> Engine:
        kwargs: dict[str, Any] = {"json_serializer": json_dumps, "json_deserializer": orjson.loads}
        if self._in_memory:
            kwargs |= {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
        else:
            Path(self.url.database or "").parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        engine = sa.create_engine(self.url, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_begin_immediate if immediate else _sqlite_begin)
        return engine

    @contextmanager
    def begin(self, *, urgent: bool = False) -> Iterator[Connection]:
        """A write transaction: committed on success, rolled back on any error.

        ``urgent`` puts this transaction ahead of other waiting writers of this process."""
        turn = self._write_turn.turn(urgent=urgent) if self._write_turn else nullcontext()
        with turn, self._watched(), converted(where=self.where), self.engine.begin() as conn:
            yield conn

    def retried(
        self, body: Callable[[Connection], T], *, urgent: bool = False, attempts: int = 5
    ) -> T:
        """Run ``body`` in a write transaction, from the start again when PostgreSQL or MariaDB
        picks it as a deadlock victim (:class:`WriteConflict`: it was rolled back whole).

        Two writers that lock rows in different orders deadlock now and then however carefully
        each one orders its own statements (an ingest's unique-index insert waits on a worker's
        uncommitted delete of the same key); the servers' advice is to retry, and the bodies
        given here (an ingest batch) are all-or-nothing, so replaying one is safe. The backoff
        is short and jittered so the two victims do not collide again in step."""
        for attempt in range(1, attempts):
            try:
                with self.begin(urgent=urgent) as conn:
                    return body(conn)
            except WriteConflict:
                time.sleep(random.uniform(0.005, 0.02) * 2**attempt)
        with self.begin(urgent=urgent) as conn:  # the last attempt: its conflict is the caller's
            return body(conn)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only snapshot; never blocks writers on SQLite (WAL)."""
        with self._watched(), converted(where=self.where), self.reader.connect() as conn:
            yield conn

    @contextmanager
    def _watched(self) -> Iterator[None]:
        """Keep ``down_since``: when this process first found the database unreachable, until
        a transaction succeeds again (lookups served meanwhile say they are stale, since when)."""
        try:
            yield
        except StorageUnavailable:
            if self.down_since is None:
                self.down_since = datetime.now(UTC)
            raise
        self.down_since = None

    def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            with self.read() as conn:
                conn.execute(sa.text("SELECT 1"))
        except RescoreError:
            return False
        return True

    def dispose(self) -> None:
        self.engine.dispose()
        if self.reader is not self.engine:
            self.reader.dispose()

    def listen(self, channel: str) -> Listener | None:
        """A LISTEN connection on ``channel`` (PostgreSQL); None where the database has none."""
        if self.dialect != "postgresql":
            return None
        return Listener(self.url.set(drivername="postgresql"), channel)


class Listener:
    """One dedicated autocommit connection that LISTENs; ``wait`` blocks until a NOTIFY.

    Example::

        listener = db.listen("rescore_work")
        while running:
            if listener.wait(1.0):
                wake_the_critical_worker()
    """

    def __init__(self, url: sa.URL, channel: str) -> None:
        import psycopg

        self._url = url.render_as_string(hide_password=False)
        self._channel = channel
        self._conn: psycopg.Connection[Any] | None = None

    def _connect(self) -> Any:
        import psycopg

        if self._conn is None or self._conn.closed:
            try:
                self._conn = psycopg.connect(self._url, autocommit=True)
                self._conn.execute(f'LISTEN "{self._channel}"')
            except psycopg.OperationalError as exc:
                self._conn = None
                raise StorageUnavailable(f"database unavailable: {exc}") from exc
        return self._conn

    def wait(self, timeout: float) -> bool:
        """True when a notification arrived within ``timeout`` seconds (all pending ones are
        consumed)."""
        import psycopg

        conn = self._connect()
        try:
            got = any(True for _ in conn.notifies(timeout=timeout, stop_after=1))
            while got and any(True for _ in conn.notifies(timeout=0, stop_after=1)):
                pass
        except psycopg.OperationalError as exc:
            self.close()
            raise StorageUnavailable(f"database unavailable: {exc}") from exc
        return got

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class TurnLock:
    """A lock handed out in arrival order, urgent callers first.

    ``threading.Lock`` promises neither; critical-lane work asks for an urgent turn so it
    never queues behind a normal-lane flush.
    """

    def __init__(self) -> None:
        self._turns = threading.Condition()
        self._waiting: list[tuple[int, int]] = []
        self._tickets = itertools.count()
        self._held = False

    @contextmanager
    def turn(self, *, urgent: bool = False) -> Iterator[None]:
        entry = (0 if urgent else 1, next(self._tickets))
        with self._turns:
            heapq.heappush(self._waiting, entry)
            self._turns.wait_for(lambda: not self._held and self._waiting[0] == entry)
            heapq.heappop(self._waiting)
            self._held = True
        try:
            yield
        finally:
            with self._turns:
                self._held = False
                self._turns.notify_all()


def _redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@", 1)[-1] if "@" in url else url


#: the in-memory database every SQLite connection attaches, where the bulk store stages its
#: rows (:mod:`rescore.db.bulk`): a ``TEMP`` table lives in a file, and writing, reading and
#: dropping it took a fifth of a population write
SCRATCH = "scratch"


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # let SQLAlchemy's begin event issue BEGIN
    cursor = dbapi_connection.cursor()
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "busy_timeout=30000",
        "foreign_keys=ON",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.execute(f"ATTACH DATABASE ':memory:' AS {SCRATCH}")
    cursor.close()


def _sqlite_begin_immediate(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN")
