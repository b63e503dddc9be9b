"""The score store's bulk write: a whole chunk of fresh scores in a few set-based statements.

:meth:`rescore.store.ScoreStore.write_bulk` writes a population chunk (one tenant and pack)
through this module, inside the caller's transaction:

1. :func:`stage` loads the chunk, a Polars frame of :data:`STAGE_COLUMNS` (JSON already
   text), in key order, into the staging table ``rescore_scores_in`` (``COPY`` in text
   format, written by Polars, on PostgreSQL; one ``executemany`` elsewhere: PyMySQL sends
   it as multi-row ``INSERT`` statements; on SQLite the table lives in the in-memory
   database every connection attaches, :data:`rescore.db.engine.SCRATCH`);
2. :func:`stale_entities` takes out of the staging table the entities a newer event already
   reached (a stored watermark above the write's): they are left alone, whole, as
   ``ScoreStore.write`` does;
3. :func:`changed` returns only the staged scores that changed (new, another scorer version,
   a value beyond ``math.isclose``, other components) with the value and components stored
   before, so the store builds their history rows with the same code as every other write;
4. :func:`first_history` writes the history rows of the scores stored for the first time in
   one ``INSERT ... SELECT`` (a first score's deltas are its components), so a first run
   builds no history row in Python; the store builds the others (changed scores) itself;
5. :func:`apply` is one ``INSERT ... SELECT`` upsert from the staging table that writes the
   changed scores, and refreshes the ones whose reasons, features or watermark moved, never
   overwriting a newer watermark. Unchanged scores are not touched at all: an unchanged
   re-run writes nothing but the staging table.

A population run that began with none of the pack's scores stored skips all of that:
:func:`insert_first` inserts the chunk straight into the store's tables (``COPY`` on
PostgreSQL; on SQLite the history rows are copied from the score rows just added), inside a
savepoint that gives way to the steps above when an entity got a score meanwhile.

Components, reasons and features are compared as the stored JSON text (PostgreSQL's ``json``
keeps the text it was given; casting both sides to ``jsonb`` made the statements four times
slower): every write serializes them with the same function (orjson, insertion order), so equal
results give equal text, and a text written otherwise can only cost an extra history row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
import polars as pl
import sqlalchemy as sa
from sqlalchemy import Connection

from rescore.db.engine import SCRATCH
from rescore.db.schema import UTCDateTime, history, utc_text
from rescore.exceptions import InvalidInput

__all__ = [
    "STAGE_COLUMNS",
    "apply",
    "changed",
    "digest_misses",
    "first_history",
    "has_digests",
    "has_scores",
    "insert_first",
    "stage",
    "stale_entities",
    "unstage",
]

STAGE = "rescore_scores_in"
STAGE_COLUMNS = (
    "entity",
    "scorer",
    "version",
    "value",
    "components",
    "reasons",
    "features",
    "watermark",
    "digest",
)
#: (value, components) stored before a change; None for a score written the first time.
Before = tuple[float, dict[str, float]] | None

_CREATE = {
    "postgresql": (
        f"CREATE TEMP TABLE {STAGE} (entity text, scorer text, version text, "
        "value double precision, components json, reasons json, features json, "
        "watermark bigint, digest varchar(32))"
    ),
    "sqlite": (
        f"CREATE TABLE {SCRATCH}.{STAGE} (entity TEXT, scorer TEXT, version TEXT, value REAL, "
        "components TEXT, reasons TEXT, features TEXT, watermark INTEGER, digest TEXT, "
        "PRIMARY KEY (entity, scorer))"
    ),
    "mysql": (
        f"CREATE TEMPORARY TABLE {STAGE} (entity VARCHAR(128) NOT NULL, "
        "scorer VARCHAR(64) NOT NULL, version VARCHAR(32) NOT NULL, value DOUBLE NOT NULL, "
        "components LONGTEXT COLLATE utf8mb4_bin NOT NULL, "
        "reasons LONGTEXT COLLATE utf8mb4_bin NOT NULL, "
        "features LONGTEXT COLLATE utf8mb4_bin NOT NULL, watermark BIGINT NOT NULL, "
        "digest VARCHAR(32) NULL, PRIMARY KEY (entity, scorer)) DEFAULT CHARSET=utf8mb4"
    ),
}
_DROP = {
    "postgresql": f"DROP TABLE IF EXISTS pg_temp.{STAGE}",
    "sqlite": f"DROP TABLE IF EXISTS {SCRATCH}.{STAGE}",
    "mysql": f"DROP TEMPORARY TABLE IF EXISTS {STAGE}",
}


def _dialect(conn: Connection) -> str:
    name = conn.dialect.name
    if name == "mariadb":
        return "mysql"
    if name not in _CREATE:
        raise InvalidInput(
            f"unsupported database {name!r}: use sqlite, postgresql or mysql", field="database_url"
        )
    return name


DIGESTS = "rescore_digests_in"
_CREATE_DIGESTS = {
    "postgresql": f"CREATE TEMP TABLE {DIGESTS} (entity text, digest varchar(32))",
    "sqlite": f"CREATE TABLE {SCRATCH}.{DIGESTS} (entity TEXT PRIMARY KEY, digest TEXT)",
    "mysql": (
        f"CREATE TEMPORARY TABLE {DIGESTS} (entity VARCHAR(128) NOT NULL PRIMARY KEY, "
        "digest VARCHAR(32) NOT NULL) DEFAULT CHARSET=utf8mb4"
    ),
}
_DROP_DIGESTS = {
    "postgresql": f"DROP TABLE IF EXISTS pg_temp.{DIGESTS}",
    "sqlite": f"DROP TABLE IF EXISTS {SCRATCH}.{DIGESTS}",
    "mysql": f"DROP TEMPORARY TABLE IF EXISTS {DIGESTS}",
}


def stage(conn: Connection, rows: pl.DataFrame) -> None:
    """(Re)create the staging table and load ``rows`` (the columns of :data:`STAGE_COLUMNS`)
    into it."""
    # in key order: the upserts that read the staging table then insert into the store's
    # primary key (and history's entity index) page after page, not all over them
    frame = rows.select(STAGE_COLUMNS).sort("entity", "scorer")
    _load(conn, STAGE, frame, create=_CREATE, drop=_DROP)


def insert_first(
    conn: Connection, tenant: str, pack: str, rows: pl.DataFrame, now: datetime, trigger: str
) -> bool:
    """Write ``rows`` (:data:`STAGE_COLUMNS`) as their entities' first scores, with their
    history rows, straight into the store's tables: no staging, no comparison. For a
    population run that began with none of the pack's scores stored (its chunks hold
    disjoint entities). False, with nothing written, when one of them got a score meanwhile
    (an event's recompute): the caller then takes the staged path, which compares."""
    frame = rows.select(STAGE_COLUMNS).sort("entity", "scorer")
    stamp = pl.lit(utc_text(now))  # naive UTC text, which every dialect reads
    keys = (pl.lit(tenant).alias("tenant"), pl.lit(pack).alias("pack"), "entity", "scorer")
    stored = frame.select(
        *keys,
        *STAGE_COLUMNS[2:-1],  # version to watermark: the stored score's own columns
        stamp.alias("changed_at"),
        stamp.alias("computed_at"),
        pl.col("digest").alias("population_digest"),
    )
    # COPY runs on the driver's connection: its error is the driver's, not SQLAlchemy's
    taken = (sa.exc.IntegrityError, conn.dialect.loaded_dbapi.IntegrityError, _GaveWay)
    try:
        with conn.begin_nested():
            if _dialect(conn) == "sqlite":
                _insert_sqlite(conn, stored, trigger)
            else:
                _insert_frame(conn, "rescore_scores", stored)
                _insert_frame(conn, history.name, _first_entries(stored, trigger))
    except taken:
        return False
    return True


class _GaveWay(Exception):
    """The straight insert cannot vouch for what it wrote: the staged path takes over."""


#: a first score's history row: these columns copied from its stored row, with no value
#: before, no event ids and the write's trigger
_FROM_SCORE = {
    "tenant": "tenant",
    "pack": "pack",
    "entity": "entity",
    "scorer": "scorer",
    "version": "version",
    "after_value": "value",
    "deltas": "components",  # a first score's deltas are its components
    "components": "components",
    "reasons": "reasons",
    "watermark": "watermark",
    "changed_at": "changed_at",
}


def _first_entries(stored: pl.DataFrame, trigger: str) -> pl.DataFrame:
    return stored.select(
        *(pl.col(source).alias(name) for name, source in _FROM_SCORE.items()),
        pl.lit(None, pl.Float64).alias("before_value"),
        pl.lit("[]").alias("event_ids"),
        pl.lit(trigger).alias("trigger"),
    )


def _insert_sqlite(conn: Connection, stored: pl.DataFrame, trigger: str) -> None:
    """SQLite: the scores by ``executemany``, their history rows copied from them by one
    ``INSERT ... SELECT`` of the rows it added (rowids past the largest before: the one
    writer holds the lock), instead of binding every value a second time."""
    last = conn.exec_driver_sql("SELECT coalesce(max(rowid), 0) FROM rescore_scores").scalar()
    _insert_frame(conn, "rescore_scores", stored)
    names = _names(conn, [*_FROM_SCORE, "before_value", "event_ids", "trigger"])
    query = (
        f"INSERT INTO rescore_history ({names}) "  # noqa: S608
        f"SELECT {', '.join(_FROM_SCORE.values())}, NULL, '[]', ? "
        "FROM rescore_scores WHERE rowid > ? ORDER BY rowid"
    )
    copied = conn.exec_driver_sql(query, (trigger, last)).rowcount
    if copied != stored.height:  # a rowid was reused (only past 2**63 - 1 rows)
        raise _GaveWay


def _insert_frame(conn: Connection, table: str, frame: pl.DataFrame) -> None:
    """Insert a frame whose columns are ``table``'s: ``COPY`` on PostgreSQL, one
    ``executemany`` elsewhere."""
    if frame.is_empty():
        return
    if _dialect(conn) == "postgresql":
        _copy_frame(conn, table, frame)
        return
    _insert_rows(conn, table, frame.columns, frame.rows())


def _insert_rows(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """One ``executemany`` (PyMySQL sends it as multi-row ``INSERT`` statements)."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    names, marks = _names(conn, columns), ", ".join([mark] * len(columns))
    conn.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(rows))  # noqa: S608


def _names(conn: Connection, columns: Sequence[str]) -> str:
    """Column names quoted where the dialect needs it (``trigger`` is reserved on MariaDB)."""
    return ", ".join(conn.dialect.identifier_preparer.quote(c) for c in columns)


def _copy_frame(conn: Connection, table: str, frame: pl.DataFrame) -> None:
    """``COPY`` a frame into a PostgreSQL table, its columns by name, written by Polars in
    ``COPY``'s text format (faster to parse than csv): tab-separated, NULL as \\N, a
    backslash, tab, newline or carriage return inside a value escaped."""
    raw = conn.connection.driver_connection
    assert raw is not None
    text = f"COPY {table} ({_names(conn, frame.columns)}) FROM STDIN"
    escaped = frame.with_columns(pl.col(pl.String).str.replace_many(_RAW, _ESCAPED))
    with raw.cursor() as cursor, cursor.copy(text) as copy:
        for part in escaped.iter_slices(20_000):  # a bounded text at a time
            csv = part.write_csv(
                include_header=False, separator="\t", quote_style="never", null_value="\\N"
            )
            copy.write(csv.encode())


_RAW = ["\\", "\t", "\n", "\r"]
_ESCAPED = ["\\\\", "\\t", "\\n", "\\r"]


def _load(
    conn: Connection,
    table: str,
    frame: pl.DataFrame,
    *,
    create: Mapping[str, str],
    drop: Mapping[str, str],
) -> None:
    """(Re)create a temporary table and load ``frame`` (its columns are the table's)."""
    _recreate(conn, create=create, drop=drop, filled=not frame.is_empty())
    _insert_frame(conn, table, frame)


def _recreate(
    conn: Connection, *, create: Mapping[str, str], drop: Mapping[str, str], filled: bool
) -> str:
    """Drop and create a temporary table; returns the dialect's name. On PostgreSQL, about to
    be ``filled``: the per-row lookups that follow look costly to the planner, which then
    JIT-compiles each statement (about 0.4 s of a batch's few seconds), so JIT is off for
    this transaction only."""
    name = _dialect(conn)
    conn.exec_driver_sql(drop[name])
    conn.exec_driver_sql(create[name])
    if filled and name == "postgresql":
        conn.exec_driver_sql("SET LOCAL jit = off")
    return name


def has_scores(conn: Connection, tenant: str, pack: str) -> bool:
    """Whether the store holds any score of the pack."""
    query = "SELECT 1 FROM rescore_scores WHERE tenant = :tenant AND pack = :pack LIMIT 1"
    return conn.execute(sa.text(query), {"tenant": tenant, "pack": pack}).first() is not None


def has_digests(conn: Connection, tenant: str, pack: str) -> bool:
    """Whether any score of the pack carries a population digest."""
    query = (
        "SELECT 1 FROM rescore_scores WHERE tenant = :tenant AND pack = :pack "
        "AND population_digest IS NOT NULL LIMIT 1"
    )
    return conn.execute(sa.text(query), {"tenant": tenant, "pack": pack}).first() is not None


def digest_misses(
    conn: Connection, tenant: str, pack: str, digests: pl.DataFrame, scorers: int
) -> set[str]:
    """Of ``digests`` (a frame of ``entity`` and ``digest``), the entities a population write
    must still look at: not all ``scorers`` of their stored scores carry that digest (new,
    written by something else since, or scored differently). One primary-key lookup per
    entity, like the stale check."""
    frame = digests.select("entity", "digest")
    _load(conn, DIGESTS, frame, create=_CREATE_DIGESTS, drop=_DROP_DIGESTS)
    query = (
        f"SELECT d.entity FROM {DIGESTS} d WHERE (SELECT COUNT(*) FROM rescore_scores s "  # noqa: S608
        "WHERE s.tenant = :tenant AND s.pack = :pack AND s.entity = d.entity "
        "AND s.population_digest = d.digest) <> :scorers"
    )
    params = {"tenant": tenant, "pack": pack, "scorers": scorers}
    missed = {str(entity) for (entity,) in conn.execute(sa.text(query), params)}
    conn.exec_driver_sql(_DROP_DIGESTS[_dialect(conn)])
    return missed


def unstage(conn: Connection) -> None:
    """Drop the staging table (MariaDB keeps a temporary table past a rollback, so the next
    :func:`stage` drops it first too)."""
    conn.exec_driver_sql(_DROP[_dialect(conn)])


def _differ(name: str, column: str) -> str:
    """The stored and the staged JSON of ``column`` differ (both sides non-null)."""
    if name == "postgresql":  # json keeps the text it was given; text compares fastest
        return f"s.{column}::text <> t.{column}::text"
    if name == "mysql":
        return f"BINARY s.{column} <> BINARY t.{column}"
    return f"s.{column} <> t.{column}"


def _sql(name: str) -> dict[str, str]:
    """The predicates every statement shares, for one dialect. ``t`` is a staged score, ``s``
    the stored one (NULL when new), ``:tenant`` and ``:pack`` bound."""
    most = "MAX" if name == "sqlite" else "GREATEST"  # SQLite's two-argument max() is scalar
    close = f"{most}(1e-9, 1e-9 * {most}(ABS(s.value), ABS(t.value)))"  # math.isclose
    return {
        "join": _join(name),
        # the newest event any stored score of the entity reflects, looked up per staged row
        # through the primary key (NOT EXISTS would become an anti-join over the whole pack)
        "fresh": (
            "COALESCE((SELECT MAX(x.watermark) FROM rescore_scores x "  # noqa: S608
            f"WHERE x.tenant = :tenant AND x.pack = :pack AND x.entity = {STAGE}.entity), 0) "
            f"<= {STAGE}.watermark"
        ),
        "changed": (
            f"(s.entity IS NULL OR s.version <> t.version OR ABS(s.value - t.value) > {close} "
            f"OR {_differ(name, 'components')})"
        ),
        "refresh": (
            f"(s.watermark < t.watermark OR {_differ(name, 'reasons')} "
            f"OR {_differ(name, 'features')} OR {_digest_differs(name)})"
        ),
        "text": "s.components::text" if name == "postgresql" else "s.components",
    }


def _digest_differs(name: str) -> str:
    """The stored population digest is not the staged one (NULL on either side differs)."""
    if name == "mysql":
        return "NOT (s.population_digest <=> t.digest)"
    return "s.population_digest IS DISTINCT FROM t.digest"


def _join(name: str) -> str:
    """Each staged score with its stored one (NULLs when new), one primary-key lookup per
    staged row. On PostgreSQL a plain join would be a hash join that reads every stored score
    of the pack, so a batch would cost as much as the whole store (a first run of 1M contacts
    slowed from 7k to 2k contacts/s as the table grew); ``LIMIT 1`` keeps the lateral lookup
    from being flattened back into such a join. SQLite and MariaDB look up by index anyway."""
    on = "s.tenant = :tenant AND s.pack = :pack AND s.entity = t.entity AND s.scorer = t.scorer"
    if name == "postgresql":
        return (
            f"{STAGE} t LEFT JOIN LATERAL (SELECT * FROM rescore_scores s "  # noqa: S608
            f"WHERE {on} LIMIT 1) s ON true"
        )
    return f"{STAGE} t LEFT JOIN rescore_scores s ON {on}"


def stale_entities(conn: Connection, tenant: str, pack: str) -> set[str]:
    """Take the staged entities whose stored scores already reflect a newer event out of the
    staging table (every later statement then sees only fresh ones); return their keys."""
    fresh = _sql(_dialect(conn))["fresh"]
    query = f"DELETE FROM {STAGE} WHERE NOT ({fresh}) RETURNING entity"  # noqa: S608
    rows = conn.execute(sa.text(query), {"tenant": tenant, "pack": pack})
    return {str(entity) for (entity,) in rows}


def changed(conn: Connection, tenant: str, pack: str) -> dict[tuple[str, str], Before]:
    """``{(entity, scorer): what was stored before}`` for the staged scores that changed (call
    :func:`stale_entities` first: it takes the stale ones out)."""
    q = _sql(_dialect(conn))
    query = (
        f"SELECT t.entity, t.scorer, s.value, {q['text']} FROM {q['join']} "  # noqa: S608
        f"WHERE {q['changed']}"
    )
    found: dict[tuple[str, str], Before] = {}
    params = {"tenant": tenant, "pack": pack}
    # fetched at once: a first run returns every staged score, and a row at a time through
    # the result's iterator cost four times the query on SQLite
    for entity, scorer, value, components in conn.execute(sa.text(query), params).all():
        found[(entity, scorer)] = None if value is None else (value, _loads(components))
    return found


def first_history(conn: Connection, tenant: str, pack: str, now: datetime, trigger: str) -> int:
    """Write the history rows of the staged scores the store does not hold yet (call it after
    :func:`stale_entities` and before :func:`apply`): one ``INSERT ... SELECT``, a first
    score's deltas being its components, as in ``ScoreStore.write``. Returns the rows.

    The stored score is looked up through the same per-row join as :func:`changed` (a ``NOT
    EXISTS`` became a hash anti-join over the whole pack on PostgreSQL: half a second for a
    re-run that found five new scores)."""
    t: dict[str, sa.ColumnElement[Any]] = {c: sa.literal_column(f"t.{c}") for c in STAGE_COLUMNS}
    h = history.c
    columns = {
        h.tenant: sa.literal(tenant, h.tenant.type),
        h.pack: sa.literal(pack, h.pack.type),
        h.entity: t["entity"],
        h.scorer: t["scorer"],
        h.version: t["version"],
        h.before_value: sa.null(),
        h.after_value: t["value"],
        h.deltas: t["components"],
        h.components: t["components"],
        h.reasons: t["reasons"],
        h.event_ids: sa.literal([], h.event_ids.type),
        h.watermark: t["watermark"],
        h.changed_at: sa.literal(now, h.changed_at.type),
        h.trigger: sa.literal(trigger, h.trigger.type),
    }
    joined = sa.text(_join(_dialect(conn))).bindparams(tenant=tenant, pack=pack)
    select = (
        sa.select(*columns.values())
        .select_from(joined)
        .where(sa.literal_column("s.entity").is_(None))
    )
    result = conn.execute(history.insert().from_select(list(columns), select))
    return int(result.rowcount or 0)


def _loads(components: Any) -> dict[str, float]:
    loaded = components if isinstance(components, Mapping) else orjson.loads(components)
    return dict(loaded)


_COLUMNS = (
    "tenant, pack, entity, scorer, version, value, components, reasons, features, watermark, "
    "population_digest"
)
_UPDATED = (
    "version",
    "value",
    "components",
    "reasons",
    "features",
    "changed_at",
    "computed_at",
    "population_digest",
)


def _upsert(name: str) -> str:
    if name == "mysql":
        # no WHERE here: each column keeps its value unless the write is not older, and the
        # watermark goes last (later assignments see the earlier ones' new values)
        def keep(c: str) -> str:
            return (
                f"{c} = IF(rescore_scores.watermark <= VALUES(watermark), VALUES({c}), "
                f"rescore_scores.{c})"
            )

        return "ON DUPLICATE KEY UPDATE " + ", ".join(keep(c) for c in (*_UPDATED, "watermark"))
    sets = ", ".join(f"{c} = excluded.{c}" for c in (*_UPDATED, "watermark"))
    return (
        f"ON CONFLICT (tenant, pack, entity, scorer) DO UPDATE SET {sets} "
        "WHERE rescore_scores.watermark <= excluded.watermark"
    )


def apply(conn: Connection, tenant: str, pack: str, now: datetime) -> int:
    """Upsert the staged scores that changed or need a refresh (after :func:`stale_entities`);
    return the rows written. The upsert's own watermark condition still refuses to overwrite
    a newer score that another writer committed since."""
    name = _dialect(conn)
    q = _sql(name)
    staged = ", ".join(f"t.{c}" for c in STAGE_COLUMNS)
    query = (
        f"INSERT INTO rescore_scores ({_COLUMNS}, changed_at, computed_at) "  # noqa: S608
        f"SELECT :tenant, :pack, {staged}, "
        f"CASE WHEN {q['changed']} THEN :now ELSE s.changed_at END, :now "
        f"FROM {q['join']} WHERE {q['changed']} OR {q['refresh']} " + _upsert(name)
    )
    statement = sa.text(query).bindparams(sa.bindparam("now", type_=UTCDateTime()))
    result = conn.execute(statement, {"tenant": tenant, "pack": pack, "now": now})
    return int(result.rowcount or 0)
