"""Synthetic loyalty programmes: businesses of the Americas, their customers, visits, points.

Reproducible (a seed gives the same data) and fast enough for seed 003's scale: 1,000,000
customers across 200 businesses are drawn with NumPy and written in bulk (``COPY`` on
PostgreSQL, multi-row ``executemany`` elsewhere). What makes the data realistic for the
automations:

- businesses in 15 time zones of the Americas, each requiring phone and a random subset of
  name, e-mail and birth date of its customers;
- birthdays over 1950-2008, uniform over each year's days, so 29 February appears about once
  in 1,461 customers; 25% of customers never gave a birth date, 40% no e-mail;
- 60% regulars (last visit a few days ago) and 40% lapsed (31 to 400 days ago), so a real
  share is inactive; one to a dozen visits each, half of them with a points load.

Entities per business: ``size // 100``, at most 200 businesses (the demo's 2,000 customers
come in 20 businesses; 1M in 200).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Connection, Table, func, insert, select

from rescore.packs.loyalty.schema import businesses, customers, points, visits

__all__ = ["MAX_BUSINESSES", "ZONES", "Population", "business_count", "insert_demo", "new_ids"]

MAX_BUSINESSES = 200
ZONES = (
    "America/Bogota",
    "America/Mexico_City",
    "America/Lima",
    "America/Santiago",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "America/Caracas",
    "America/Guayaquil",
    "America/New_York",
    "America/Los_Angeles",
    "America/Panama",
    "America/Montevideo",
    "America/La_Paz",
    "America/Guatemala",
    "America/Santo_Domingo",
)
KINDS = ("Café", "Panadería", "Barbería", "Heladería", "Librería", "Farmacia", "Restaurante")
FIRST = ("María", "José", "Ana", "Luis", "Camila", "Juan", "Valentina", "Carlos", "Sofía", "Diego")
LAST = ("García", "Rodríguez", "Martínez", "López", "Gómez", "Pérez", "Sánchez", "Díaz", "Torres")
OPTIONAL_FIELDS = ("name", "email", "birth_date")
BATCH = 50_000
#: From this many customers a load rebuilds the indexes instead of maintaining them.
BIG_LOAD = 100_000
EPOCH = datetime(1970, 1, 1)


def business_count(size: int) -> int:
    """How many businesses ``size`` customers are spread over."""
    return max(1, min(MAX_BUSINESSES, size // 100))


def new_ids(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` random (version 4) UUID strings drawn from ``rng``: reproducible ids, made in
    bulk (a million in about a second)."""
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    text = raw.tobytes().hex()
    return [
        f"{text[i : i + 8]}-{text[i + 8 : i + 12]}-{text[i + 12 : i + 16]}-"
        f"{text[i + 16 : i + 20]}-{text[i + 20 : i + 32]}"
        for i in range(0, 32 * n, 32)
    ]


@dataclass(frozen=True, kw_only=True, slots=True)
class Population:
    """How many rows of each table one call wrote."""

    businesses: int
    customers: int
    visits: int
    points: int


def insert_demo(conn: Connection, *, seed: int, size: int, as_of: datetime) -> Population:
    """Add ``size`` customers (and their businesses, visits and points) to the source."""
    existing = conn.execute(select(func.count()).select_from(customers)).scalar_one()
    rng = np.random.default_rng([seed, existing])
    owners = _businesses(rng, business_count(size))
    bulk_insert(conn, businesses, [tuple(b.values()) for b in owners])
    people = _customers(rng, [b["id"] for b in owners], size, as_of)
    seen, loaded = _history(rng, people)
    with _indexes_rebuilt(conn, size):
        bulk_insert(conn, customers, sorted(_customer_rows(people, loaded)))
        bulk_insert(conn, visits, seen)
        bulk_insert(conn, points, loaded)
    return Population(businesses=len(owners), customers=size, visits=len(seen), points=len(loaded))


@contextmanager
def _indexes_rebuilt(conn: Connection, size: int) -> Iterator[None]:
    """For a big load, drop the secondary indexes first and build them once at the end
    (several times faster than keeping them up to date row by row). Only where DDL is
    transactional (SQLite, PostgreSQL), so a failed load rolls the drop back with it; MariaDB
    commits DDL at once, so there the indexes are kept up to date instead."""
    tables = (customers, visits, points)
    transactional = conn.dialect.name in ("sqlite", "postgresql")
    big = size >= BIG_LOAD and transactional
    dropped = [ix for t in tables for ix in t.indexes] if big else []
    for index in dropped:
        index.drop(conn)
    yield
    for index in dropped:
        index.create(conn)


def _businesses(rng: np.random.Generator, n: int) -> list[dict[str, Any]]:
    found = []
    for i, key in enumerate(new_ids(rng, n)):
        optional = [f for f in OPTIONAL_FIELDS if rng.random() < 0.5]
        found.append(
            {
                "id": key,
                "name": f"{KINDS[i % len(KINDS)]} {LAST[int(rng.integers(len(LAST)))]} {i + 1}",
                "time_zone": ZONES[i % len(ZONES)],
                "required_fields": ["phone", *optional],
            }
        )
    return found


def _birth_dates(rng: np.random.Generator, n: int) -> np.ndarray[Any, np.dtype[Any]]:
    years = rng.integers(1950, 2009, n)
    leap = (years % 4 == 0) & ((years % 100 != 0) | (years % 400 == 0))
    day_of_year = (rng.random(n) * np.where(leap, 366, 365)).astype(np.int64)
    starts = (years - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    born: np.ndarray[Any, np.dtype[Any]] = starts + day_of_year.astype("timedelta64[D]")
    return born


def _customers(
    rng: np.random.Generator, owners: list[str], n: int, as_of: datetime
) -> dict[str, Any]:
    now_s = int((as_of - EPOCH).total_seconds())
    registered = now_s - rng.integers(0, 3 * 365 * 86_400, n)
    regular = rng.random(n) < 0.6
    ago = np.where(regular, rng.exponential(6 * 86_400, n), rng.uniform(31, 400, n) * 86_400)
    last = np.maximum(registered, now_s - ago.astype(np.int64))
    return {
        "id": new_ids(rng, n),
        "business_id": np.asarray(owners, dtype=object)[rng.integers(0, len(owners), n)],
        "first": rng.integers(0, len(FIRST), n),
        "surname": rng.integers(0, len(LAST), n),
        "has_name": rng.random(n) < 0.95,
        "phone": (3_000_000_000 + rng.integers(0, 999_999_999, n)).tolist(),
        "has_phone": rng.random(n) < 0.97,
        "has_email": rng.random(n) < 0.6,
        "birth": _birth_dates(rng, n),
        "has_birth": rng.random(n) < 0.75,
        "registered": registered,
        "last": last,
        "visits": 1 + rng.poisson(np.where(regular, 3.0, 0.5)),
    }


def _history(
    rng: np.random.Generator, people: dict[str, Any]
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Visits (the last one at ``last_visit_at``, the others between registration and it)
    and points loads (about half the visits), as rows in the tables' column order."""
    counts = people["visits"]
    owner = np.repeat(np.arange(len(counts)), counts)
    first = np.concatenate(([0], np.cumsum(counts)[:-1]))
    start, end = people["registered"][owner], people["last"][owner]
    at = start + (rng.random(len(owner)) * (end - start)).astype(np.int64)
    at[first] = people["last"]
    amount = np.round(rng.lognormal(3.3, 0.7, len(owner)), 2)
    load = rng.random(len(owner)) < 0.5
    ids = np.asarray(people["id"], dtype=object)
    times = _times(at)
    seen = list(zip(ids[owner[~load]], times[~load], amount[~load].tolist(), strict=True))
    earned = np.maximum(1, amount[load] // 2).astype(np.int64).tolist()
    loaded = list(zip(ids[owner[load]], earned, amount[load].tolist(), times[load], strict=True))
    return seen, loaded


def _times(seconds: np.ndarray[Any, np.dtype[Any]]) -> np.ndarray[Any, np.dtype[Any]]:
    """Seconds since 1970 as naive datetimes (object array)."""
    times: np.ndarray[Any, np.dtype[Any]] = np.asarray(seconds, dtype="datetime64[s]")
    return times.astype(object)


def _customer_rows(
    people: dict[str, Any], loaded: Sequence[tuple[Any, ...]]
) -> list[tuple[Any, ...]]:
    ids = people["id"]
    index = {cid: i for i, cid in enumerate(ids)}
    balance = [0] * len(ids)
    for cid, earned, _, _ in loaded:
        balance[index[cid]] += earned
    n = len(ids)
    births = np.where(people["has_birth"], people["birth"], np.datetime64("NaT")).astype(object)
    names = np.char.add(
        np.char.add(np.asarray(FIRST)[people["first"]], " "), np.asarray(LAST)[people["surname"]]
    ).tolist()
    return [
        (
            ids[i],
            people["business_id"][i],
            names[i] if people["has_name"][i] else None,
            f"+57{people['phone'][i]}" if people["has_phone"][i] else None,
            f"cliente.{ids[i][:8]}@example.com" if people["has_email"][i] else None,
            births[i],
            births[i].month if births[i] else None,
            births[i].day if births[i] else None,
            registered,
            last,
            balance[i],
        )
        for i, registered, last in zip(
            range(n), _times(people["registered"]), _times(people["last"]), strict=True
        )
    ]


def bulk_insert(conn: Connection, table: Table, rows: Iterable[tuple[Any, ...]]) -> int:
    """Insert tuples in the order of ``table``'s columns (points and visits without their
    ``id``, which the database assigns) in batches: ``COPY`` on PostgreSQL, the driver's
    ``executemany`` elsewhere, values converted by the columns' own SQLAlchemy types."""
    generated = table in (points, visits)
    names = [c.name for c in table.columns if not (generated and c.name == "id")]
    batch: list[tuple[Any, ...]] = []
    total = 0
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            total += _write(conn, table, names, batch)
            batch = []
    return total + (_write(conn, table, names, batch) if batch else 0)


def _write(conn: Connection, table: Table, names: list[str], batch: list[tuple[Any, ...]]) -> int:
    if conn.dialect.name == "postgresql":
        _copy(conn, table, names, batch)
        return len(batch)
    compiled = insert(table).compile(dialect=conn.dialect, column_keys=names)
    columns = [list(c) for c in zip(*batch, strict=True)]  # column-wise: one pass per type
    for i, name in enumerate(names):
        convert = table.c[name].type.bind_processor(conn.dialect)
        if convert is not None:
            columns[i] = [None if v is None else convert(v) for v in columns[i]]
    if compiled.positional:
        ordered = [columns[names.index(key)] for key in compiled.positiontup or ()]
        conn.exec_driver_sql(compiled.string, list(zip(*ordered, strict=True)))
    else:
        rows = [dict(zip(names, r, strict=True)) for r in zip(*columns, strict=True)]
        conn.exec_driver_sql(compiled.string, rows)
    return len(batch)


def _copy(conn: Connection, table: Table, names: list[str], batch: list[tuple[Any, ...]]) -> None:
    raw: Any = conn.connection.driver_connection
    sql = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
    with raw.cursor() as cursor, cursor.copy(sql) as copy:
        for row in batch:
            copy.write_row([orjson.dumps(v).decode() if isinstance(v, list) else v for v in row])
