"""Everything the tenders pack does differently per database, in one module.

**Idempotent storage steps** (:func:`ensure`; ADR 0018): run when ``rescore init`` creates the
history table, before every import, by the monthly schedule and by ``rescore tenders
storage``. Each step checks before it acts, so running them on a table that already holds
10.6M rows changes nothing that exists:

- PostgreSQL: ``pg_trgm``; the history table is created partitioned by month (``schema``),
  with a ``DEFAULT`` partition so an insert never fails; the months from the oldest data up to
  :data:`MONTHS_AHEAD` ahead get their own partitions (a month whose rows sit in the default
  partition is moved out first, in one transaction, as ADR 0012 does for rescore's history);
  trigram GIN indexes on the history's and the catalogue's product names and on the buyer's
  name (an analysis for "Hospital Regional" reads only that buyer's rows).
- SQLite: FTS5 tables with the ``trigram`` tokenizer over the same names, kept by triggers.
- MariaDB/MySQL: a trigram table beside the catalogue (:data:`TRIGRAMS`: each name's
  three-letter pieces, kept as names are added, backfilled by the step for names it lacks),
  so a misspelt word finds its names as it does on the other two. (``FULLTEXT`` indexes
  served before: a word prefix found only names sharing a word's start. A database that has
  them keeps them; nothing reads them.)

**Writing a batch** (:func:`sink_for`): ``COPY`` into a staging table on PostgreSQL, an
``executemany`` of the rows whose key is new elsewhere.

**Finding product names** (:func:`candidate_names`): the index above narrows the catalogue;
:func:`.similarity.word_similarity` ranks what it finds the same way on every database.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Any, Protocol, cast

from sqlalchemy import Connection, String, bindparam, insert, select, text, update

from rescore.packs.tenders.schema import history, products

__all__ = [
    "FTS_AVAILABLE",
    "MONTHS_AHEAD",
    "TRIGRAMS",
    "Sink",
    "candidate_names",
    "ensure",
    "partition_months",
    "prepare_import",
    "sink_for",
]

MONTHS_AHEAD = 3
HISTORY = history.name
DEFAULT_PARTITION = f"{HISTORY}_default"
_NAMES = [c.name for c in history.columns]
_KEY = ("codigo_licitacion", "item", "rut_proveedor", "fecha_cierre")
_CHUNK = 500


def _probe_fts() -> bool:
    """Whether this Python's SQLite has FTS5 with the trigram tokenizer (3.34+)."""
    import sqlite3

    try:
        with sqlite3.connect(":memory:") as db:
            db.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='trigram')")
    except sqlite3.OperationalError:
        return False
    return True


#: Checked once: without it SQLite searches the catalogue with ``LIKE`` (and says so).
FTS_AVAILABLE = _probe_fts()


def ensure(conn: Connection, today: date, ahead: int = MONTHS_AHEAD) -> list[str]:
    """Run every storage step for this database; return what was created or found missing."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        return _ensure_postgres(conn, today, ahead)
    if dialect == "sqlite":
        return _ensure_sqlite(conn)
    if dialect in ("mysql", "mariadb"):
        return _ensure_mysql(conn)
    return []


def prepare_import(conn: Connection, month: date | None) -> None:
    """Before a file is imported: on PostgreSQL the file's month partition, on MariaDB the
    catalogue's trigram table (which the import adds to; a database made before it had one
    gets it here)."""
    if conn.dialect.name == "postgresql" and month is not None and _partitioned(conn):
        _month_partition(conn, month)
    if conn.dialect.name in ("mysql", "mariadb"):
        _ensure_mysql(conn)


# -- PostgreSQL ---------------------------------------------------------------------------------


def _ensure_postgres(conn: Connection, today: date, ahead: int) -> list[str]:
    done = []
    conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    if _partitioned(conn):
        if _regclass(conn, DEFAULT_PARTITION) is None:
            conn.execute(text(f"CREATE TABLE {DEFAULT_PARTITION} PARTITION OF {HISTORY} DEFAULT"))
            done.append(DEFAULT_PARTITION)
        made = (_month_partition(conn, month) for month in _months(conn, today, ahead))
        done += [name for name in made if name]
    else:
        done.append(f"{HISTORY} is not partitioned (it existed before the pack): left as it is")
    for name, table, column in (
        ("idx_historico_producto_trgm", HISTORY, "producto_cotizado"),
        ("idx_historico_organismo_trgm", HISTORY, "organismo"),
        ("idx_productos_producto_trgm", products.name, "producto"),
    ):
        if _regclass(conn, name) is None:
            conn.execute(text(f"CREATE INDEX {name} ON {table} USING gin ({column} gin_trgm_ops)"))
            done.append(name)
    return done


def _partitioned(conn: Connection) -> bool:
    query = text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:name)")
    return conn.execute(query, {"name": HISTORY}).scalar() == "p"


def _regclass(conn: Connection, name: str) -> str | None:
    found: str | None = conn.execute(text("SELECT to_regclass(:n)::text"), {"n": name}).scalar()
    return found


def partition_months(oldest: date | None, today: date, ahead: int = MONTHS_AHEAD) -> list[date]:
    """The months from ``oldest``'s (or this one) to ``ahead`` months after this one."""
    first = oldest or today
    start, stop = first.year * 12 + first.month - 1, today.year * 12 + today.month - 1 + ahead
    return [date(i // 12, i % 12 + 1, 1) for i in range(start, stop + 1)]


def _months(conn: Connection, today: date, ahead: int) -> list[date]:
    """Every month with rows in the default partition, then this month and ``ahead`` more."""
    stranded = conn.execute(
        text(f"SELECT DISTINCT date_trunc('month', fecha_cierre)::date FROM {DEFAULT_PARTITION}")  # noqa: S608
    ).scalars()
    return sorted(set(stranded) | set(partition_months(None, today, ahead)))


def _month_partition(conn: Connection, month: date) -> str | None:
    """Create (and fill from the default partition) ``month``'s partition if it is missing.

    Partition bounds are DDL, which takes no bound parameters: they are formatted from
    ``date`` objects, never from text a caller sent."""
    name = f"{HISTORY}_{month.year:04d}_{month.month:02d}"
    if _regclass(conn, name) is not None:
        return None
    start = month.isoformat()
    stop = date(month.year + month.month // 12, month.month % 12 + 1, 1).isoformat()
    conn.execute(text(f"CREATE TABLE {name} (LIKE {HISTORY} INCLUDING DEFAULTS)"))
    conn.execute(
        text(
            f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE fecha_cierre >= :a "  # noqa: S608
            f"AND fecha_cierre < :b RETURNING *) INSERT INTO {name} SELECT * FROM moved"
        ),
        {"a": month, "b": date.fromisoformat(stop)},
    )
    conn.execute(
        text(
            f"ALTER TABLE {HISTORY} ATTACH PARTITION {name} "
            f"FOR VALUES FROM ('{start}') TO ('{stop}')"
        )
    )
    return name


# -- SQLite -------------------------------------------------------------------------------------


def _fts_statements(table: str, column: str, key: str) -> list[str]:
    fts = f"{table}_fts"
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5({column}, content='{table}', "
        f"content_rowid='{key}', tokenize='trigram')",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_ai AFTER INSERT ON {table} BEGIN "  # noqa: S608
        f"INSERT INTO {fts}(rowid, {column}) VALUES (new.{key}, new.{column}); END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_ad AFTER DELETE ON {table} BEGIN "  # noqa: S608
        f"INSERT INTO {fts}({fts}, rowid, {column}) VALUES ('delete', old.{key}, old.{column}); END",  # noqa: E501
        f"CREATE TRIGGER IF NOT EXISTS {fts}_au AFTER UPDATE OF {column} ON {table} BEGIN "  # noqa: S608
        f"INSERT INTO {fts}({fts}, rowid, {column}) VALUES ('delete', old.{key}, old.{column}); "
        f"INSERT INTO {fts}(rowid, {column}) VALUES (new.{key}, new.{column}); END",
    ]


def _ensure_sqlite(conn: Connection) -> list[str]:
    if not FTS_AVAILABLE:
        return ["FTS5 trigram tokenizer missing from this SQLite: product search uses LIKE"]
    done = []
    for table, column in ((HISTORY, "producto_cotizado"), (products.name, "producto")):
        fts = f"{table}_fts"
        exists = conn.execute(
            text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :n"), {"n": fts}
        ).first()
        if exists:
            continue
        for statement in _fts_statements(table, column, "rowid"):
            conn.execute(text(statement))
        conn.execute(text(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')"))  # noqa: S608
        done.append(fts)
    return done


# -- MariaDB / MySQL ----------------------------------------------------------------------------


#: MariaDB/MySQL: (trigram, name) for every catalogue name, what candidate_names matches
TRIGRAMS = "productos_cotizados_trigramas"
_NAME_LENGTH = cast(String, products.c.producto.type).length
_WORD = re.compile(r"[^\W_]+")


def name_trigrams(name: str) -> set[str]:
    """The three-letter pieces of each word (a run of letters and digits, as ``pg_trgm``
    reads words) of three letters or more, lowercased: what a search's words and the
    catalogue's names are matched by (SQLite's FTS5 ``trigram`` table holds these too)."""
    words = [w for w in _WORD.findall(name.lower()) if len(w) >= 3]
    return {w[i : i + 3] for w in words for i in range(len(w) - 2)}


def _ensure_mysql(conn: Connection) -> list[str]:
    done = []
    conn.execute(
        text(
            f"CREATE TABLE IF NOT EXISTS {TRIGRAMS} (trigrama VARCHAR(3) NOT NULL, "
            f"producto VARCHAR({_NAME_LENGTH}) NOT NULL, "
            "PRIMARY KEY (trigrama, producto), KEY ix_trigramas_producto (producto))"
        )
    )
    lacking = conn.execute(
        text(
            f"SELECT p.producto FROM {products.name} p WHERE NOT EXISTS "  # noqa: S608
            f"(SELECT 1 FROM {TRIGRAMS} t WHERE t.producto = p.producto)"
        )
    ).scalars()
    added = _add_trigrams(conn, list(lacking))
    if added:
        done.append(f"{TRIGRAMS}: {added} names")
    return done


def _add_trigrams(conn: Connection, names: Sequence[str]) -> int:
    """Index ``names`` in :data:`TRIGRAMS`; how many had a trigram to index. ``IGNORE``: the
    table's collation holds "ó" and "o" equal, so one name may cut two equal pieces."""
    rows = [{"g": g, "p": name} for name in names for g in sorted(name_trigrams(name))]
    if rows:
        statement = f"INSERT IGNORE INTO {TRIGRAMS} (trigrama, producto) VALUES (:g, :p)"  # noqa: S608
        conn.execute(text(statement), rows)
    return len({row["p"] for row in rows})


# -- writing batches ----------------------------------------------------------------------------


class Sink(Protocol):
    """Writes a batch of parsed rows; answers how many were new (the rest were stored already)."""

    def write(self, conn: Connection, rows: Sequence[tuple[Any, ...]]) -> int: ...


def sink_for(conn: Connection) -> Sink:
    """``COPY`` on PostgreSQL, ``executemany`` of the new rows elsewhere."""
    return CopySink() if conn.dialect.name == "postgresql" else ManySink()


class ManySink:
    """Look up which keys exist (by request code, the key's first column), insert the rest."""

    def write(self, conn: Connection, rows: Sequence[tuple[Any, ...]]) -> int:
        stored = _stored_keys(conn, sorted({row[0] for row in rows}))
        fresh = [row for row in rows if row[:4] not in stored]
        if fresh:
            conn.execute(insert(history), [dict(zip(_NAMES, row, strict=True)) for row in fresh])
            _count_products(conn, fresh)
        return len(fresh)


def _stored_keys(conn: Connection, codes: list[str]) -> set[tuple[Any, ...]]:
    columns = [history.c[name] for name in _KEY]
    found: set[tuple[Any, ...]] = set()
    for start in range(0, len(codes), _CHUNK):
        chunk = codes[start : start + _CHUNK]
        query = select(*columns).where(history.c.codigo_licitacion.in_(chunk))
        found.update(tuple(row) for row in conn.execute(query))
    return found


def _count_products(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Add the new rows to the catalogue: counts grow, the latest date moves forward."""
    seen: dict[str, list[Any]] = {}
    for row in rows:
        entry = seen.setdefault(row[8], [row[7], 0, row[3]])
        entry[1] += 1
        entry[2] = max(entry[2], row[3])
    known = {
        name: (count, last)
        for name, count, last in conn.execute(
            select(products.c.producto, products.c.cotizaciones, products.c.ultima_fecha).where(
                products.c.producto.in_(sorted(seen))
            )
        )
    }
    fresh = [
        {"producto": n, "categoria": c, "cotizaciones": k, "ultima_fecha": d}
        for n, (c, k, d) in seen.items()
        if n not in known
    ]
    if fresh:
        conn.execute(insert(products), fresh)
        if conn.dialect.name in ("mysql", "mariadb"):
            _add_trigrams(conn, [row["producto"] for row in fresh])
    changed = [
        {"p": n, "k": known[n][0] + k, "d": max(known[n][1], d)}
        for n, (_, k, d) in seen.items()
        if n in known
    ]
    if changed:
        conn.execute(
            update(products)
            .where(products.c.producto == bindparam("p"))
            .values(cotizaciones=bindparam("k"), ultima_fecha=bindparam("d")),
            changed,
        )


class CopySink:
    """PostgreSQL: ``COPY`` the batch into a temporary staging table, then one statement
    inserts what is new (``ON CONFLICT DO NOTHING`` on the primary key) and adds it to the
    catalogue."""

    _STAGE = "historico_stage"

    def write(self, conn: Connection, rows: Sequence[tuple[Any, ...]]) -> int:
        columns = ", ".join(_NAMES)
        conn.execute(
            text(
                f"CREATE TEMP TABLE IF NOT EXISTS {self._STAGE} "
                f"(LIKE {HISTORY} INCLUDING DEFAULTS) ON COMMIT DROP"
            )
        )
        conn.execute(text(f"TRUNCATE {self._STAGE}"))
        raw = conn.connection.driver_connection
        assert raw is not None
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY {self._STAGE} ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        new: int = conn.execute(text(self._MERGE.format(columns=columns))).scalar_one()
        return new

    _MERGE = (
        f"WITH ins AS (INSERT INTO {HISTORY} ({{columns}}) SELECT {{columns}} FROM historico_stage "  # noqa: S608
        f"ON CONFLICT DO NOTHING RETURNING producto_cotizado, categoria, fecha_cierre), "
        f"cat AS (INSERT INTO {products.name} (producto, categoria, cotizaciones, ultima_fecha) "
        f"SELECT producto_cotizado, min(categoria), count(*), max(fecha_cierre) FROM ins "
        f"GROUP BY producto_cotizado ON CONFLICT (producto) DO UPDATE SET "
        f"cotizaciones = {products.name}.cotizaciones + excluded.cotizaciones, "
        f"ultima_fecha = greatest({products.name}.ultima_fecha, excluded.ultima_fecha) "
        f"RETURNING 1) SELECT count(*) FROM ins"
    )


# -- finding product names ---------------------------------------------------------------------


def candidate_names(
    conn: Connection, query: str, limit: int = 2_000, threshold: float = 0.5
) -> list[tuple[str, int]]:
    """Catalogue names (with their quote counts) that share something with ``query``, found
    through the dialect's index; the caller ranks them by word similarity. On PostgreSQL the
    index answers ``word_similarity >= threshold`` itself (``<%`` under this transaction's
    ``pg_trgm.word_similarity_threshold``)."""
    query = "".join(ch for ch in query if ch.isprintable())  # a NUL ends a string in SQL
    words = [w for w in query.lower().split() if len(w) >= 3]
    grams = sorted(name_trigrams(query))
    if not words or not grams:
        return []
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(
            text("SELECT set_config('pg_trgm.word_similarity_threshold', :t, true)"),
            {"t": str(threshold)},
        )
        sql = (
            "SELECT producto, cotizaciones FROM productos_cotizados "
            "WHERE :q <% producto ORDER BY word_similarity(:q, producto) DESC LIMIT :n"
        )
        return [(p, c) for p, c in conn.execute(text(sql), {"q": query, "n": limit})]
    if dialect == "sqlite" and FTS_AVAILABLE:
        # any shared trigram: a superset of what word_similarity can rank above zero
        match = " OR ".join('"' + g.replace('"', '""') + '"' for g in grams)
        sql = (
            "SELECT p.producto, p.cotizaciones FROM productos_cotizados_fts f "
            "JOIN productos_cotizados p ON p.rowid = f.rowid "
            "WHERE productos_cotizados_fts MATCH :m LIMIT :n"
        )
        return [(p, c) for p, c in conn.execute(text(sql), {"m": match, "n": limit})]
    if dialect in ("mysql", "mariadb"):
        # the names sharing most trigrams first: the best of a large catalogue stay in limit
        sql = (
            f"SELECT p.producto, p.cotizaciones FROM {TRIGRAMS} t "  # noqa: S608
            f"JOIN {products.name} p ON p.producto = t.producto WHERE t.trigrama IN :grams "
            "GROUP BY p.producto, p.cotizaciones ORDER BY COUNT(*) DESC, p.producto LIMIT :n"
        )
        statement = text(sql).bindparams(bindparam("grams", expanding=True))
        return [(p, c) for p, c in conn.execute(statement, {"grams": grams, "n": limit})]
    return _like_names(conn, words, limit)


def _prefix(word: str) -> str:
    """A word's stem for a prefix search (``computadores`` -> ``computado``), without the
    characters boolean full-text search treats as operators."""
    clean = "".join(ch for ch in word if ch.isalnum())
    return clean[: max(3, len(clean) - 3)]


def _like_names(conn: Connection, words: list[str], limit: int) -> list[tuple[str, int]]:
    from sqlalchemy import or_

    column = products.c.producto
    query = (
        select(column, products.c.cotizaciones)
        .where(or_(*(column.ilike(f"%{_prefix(w)}%") for w in words)))
        .limit(limit)
    )
    return [(p, c) for p, c in conn.execute(query)]
