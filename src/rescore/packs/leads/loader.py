"""Read contacts and their validations: a few at a time for the engine, or in whole chunks.

``load_inputs`` serves the engine's per-contact path: one query per table per 500 contacts,
bound parameters only, validations in row (``id``) order, which is the order the seed's
``contact.platform_validations`` relationship iterates in. ``database_chunks`` and
``parquet_chunks`` serve the vectorized path: contacts by ascending id, ``chunk_size`` at a
time, with the validations of exactly those contacts, as Polars frames.

A Parquet population is a folder with ``contacts/*.parquet`` and ``validations/*.parquet``
(the columns of the tables; ``rescore leads generate`` writes one) and, optionally,
``ladas_reference.parquet``; without it the built-in LADA table is used.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection, select

from rescore.exceptions import PluginError
from rescore.packs.leads.frame import CONTACT_SCHEMA, VALIDATION_SCHEMA
from rescore.packs.leads.ladas import reference_pairs
from rescore.packs.leads.schema import contacts, ladas_reference, platform_validations

__all__ = [
    "CHUNK_SIZE",
    "PARTS",
    "database_chunks",
    "entity_keys",
    "load_inputs",
    "parquet_chunks",
    "parquet_ladas",
    "parquet_size",
    "reference",
]

CHUNK_SIZE = 500
PARTS = frozenset({"contact", "validations", "ladas", "as_of"})
Chunk = tuple[pl.DataFrame, pl.DataFrame]
_VALIDATION_COLUMNS = (*VALIDATION_SCHEMA, "validation_method")


def load_inputs(
    conn: Connection, entities: Sequence[str], parts: frozenset[str], as_of: datetime
) -> dict[str, dict[str, Any]]:
    """``{contact id: {"contact", "validations", "ladas", "as_of"}}`` for the ids found."""
    unknown = parts - PARTS
    if unknown:
        raise PluginError(f"leads pack has no input part(s) {sorted(unknown)}")
    ids = contact_ids(entities)
    ladas = reference(conn)
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), CHUNK_SIZE):
        found.update(_load_chunk(conn, ids[start : start + CHUNK_SIZE], ladas, as_of))
    return found


def _load_chunk(
    conn: Connection, ids: list[int], ladas: frozenset[tuple[str, str]], as_of: datetime
) -> dict[str, dict[str, Any]]:
    rows = conn.execute(select(contacts).where(contacts.c.id.in_(ids))).mappings().all()
    grouped: dict[int, list[dict[str, Any]]] = {}
    query = (
        select(platform_validations)
        .where(platform_validations.c.contact_id.in_(ids))
        .order_by(platform_validations.c.contact_id, platform_validations.c.id)
    )
    for v in conn.execute(query).mappings():
        grouped.setdefault(v["contact_id"], []).append(dict(v))
    return {
        str(row["id"]): {
            "contact": dict(row),
            "validations": tuple(grouped.get(row["id"], ())),
            "ladas": ladas,
            "as_of": as_of,
        }
        for row in rows
    }


def reference(conn: Connection) -> frozenset[tuple[str, str]]:
    """The ``ladas_reference`` table as ``(lada, STATE)`` pairs (the seed compares upper case)."""
    rows = conn.execute(select(ladas_reference.c.lada, ladas_reference.c.state_name))
    return frozenset((lada, state.upper()) for lada, state in rows)


def contact_ids(entities: Sequence[str]) -> list[int]:
    """The contact ids ``entities`` can name: a contact id is written in plain ASCII digits,
    without leading zeros, and fits a 64-bit integer (anything else names no contact)."""
    return sorted(
        {
            int(e)
            for e in entities
            if e.isascii() and e.isdigit() and str(int(e)) == e and len(e) <= 18
        }
    )


def known_entities(conn: Connection, entities: Sequence[str]) -> set[str]:
    """Which of ``entities`` are ids in ``contacts`` (one ``IN`` query per chunk)."""
    ids = contact_ids(entities)
    found: set[str] = set()
    for start in range(0, len(ids), CHUNK_SIZE):
        query = select(contacts.c.id).where(contacts.c.id.in_(ids[start : start + CHUNK_SIZE]))
        found.update(str(i) for i in conn.execute(query).scalars())
    return found


def entity_keys(conn: Connection) -> Iterator[str]:
    """Every contact id, ascending, as strings."""
    query = select(contacts.c.id).order_by(contacts.c.id)
    for contact_id in conn.execution_options(yield_per=50_000).execute(query).scalars():
        yield str(contact_id)


def database_chunks(conn: Connection, chunk_size: int) -> Iterator[Chunk]:
    """Contacts by ascending id, ``chunk_size`` at a time, with their validations."""
    last = -1
    while True:
        query = select(contacts).where(contacts.c.id > last).order_by(contacts.c.id)
        rows = conn.execute(query.limit(chunk_size)).all()
        if not rows:
            return
        people = pl.DataFrame(
            [tuple(r) for r in rows], schema=list(contacts.c.keys()), orient="row"
        )
        low, last = rows[0].id, rows[-1].id
        vq = (
            select(*(platform_validations.c[n] for n in _VALIDATION_COLUMNS))
            .where(platform_validations.c.contact_id.between(low, last))
            .order_by(platform_validations.c.contact_id, platform_validations.c.id)
        )
        checks = pl.DataFrame(
            [tuple(r) for r in conn.execute(vq)],
            schema={**VALIDATION_SCHEMA, "validation_method": pl.String()},
            orient="row",
        )
        yield _typed(people, CONTACT_SCHEMA), checks


def _typed(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return frame.with_columns(pl.col(n).cast(t) for n, t in schema.items() if n in frame.columns)


def _scans(path: Path) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    people, checks = path / "contacts", path / "validations"
    if not people.is_dir() or not checks.is_dir():
        raise PluginError(f"{path} has no contacts/ and validations/ Parquet folders")
    return pl.scan_parquet(people / "*.parquet"), pl.scan_parquet(checks / "*.parquet")


def _projected(path: Path) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """The scans with only the columns ``database_chunks`` reads: the same frames from either
    source, and a validation's other columns (its timestamp, its latency) are never decoded."""
    people, checks = _scans(path)
    return people.select(*CONTACT_SCHEMA), checks.select(*_VALIDATION_COLUMNS)


def parquet_size(path: Path) -> int:
    """How many contacts a Parquet population holds (from the files' metadata)."""
    people, _ = _scans(path)
    return int(people.select(pl.len()).collect().item())


def parquet_ladas(path: Path) -> frozenset[tuple[str, str]]:
    """The population's LADA reference, or the built-in one."""
    table = path / "ladas_reference.parquet"
    if not table.exists():
        return reference_pairs()
    frame = pl.read_parquet(table, columns=["lada", "state_name"])
    return frozenset((lada, state.upper()) for lada, state in frame.iter_rows())


def parquet_chunks(path: Path, chunk_size: int) -> Iterator[Chunk]:
    """Contacts by ascending id in ranges of ``chunk_size`` ids, with their validations.

    Files sorted by id (as the generator writes them) let Parquet statistics skip every file
    but the ones a range touches.
    """
    people, checks = _projected(path)
    bounds = people.select(pl.col("id").min().alias("lo"), pl.col("id").max().alias("hi"))
    lo, hi = bounds.collect().row(0)
    if lo is None:
        return
    for start in range(int(lo), int(hi) + 1, chunk_size):
        end = start + chunk_size
        chunk = people.filter(pl.col("id").is_between(start, end, closed="left")).collect()
        if chunk.height == 0:
            continue
        rows = checks.filter(pl.col("contact_id").is_between(start, end, closed="left"))
        yield chunk.sort("id"), rows.collect()
