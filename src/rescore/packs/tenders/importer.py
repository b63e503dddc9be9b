"""Import the monthly open-data files into ``historico_licitaciones``: streaming, idempotent.

A file is read row by row (:func:`.cotfile.read_rows`), each row checked (:func:`.rows.parse_row`)
and written in batches; one file is one transaction, recorded in ``importaciones_historico``
with its counts. Re-importing a month adds nothing: a row whose natural key (request, line,
supplier, closing date) is already stored, or seen earlier in the same file, is counted as a
duplicate. Refused rows are counted by reason, with the first few line numbers.

How a batch is written is the database's business (:mod:`.storage`): ``COPY`` into a staging
table and one ``INSERT ... ON CONFLICT DO NOTHING`` on PostgreSQL, existing keys looked up and
the rest inserted with ``executemany`` elsewhere. Either way the catalogue of product names
(``productos_cotizados``) grows with the new rows only, in the same transaction.

Example::

    with engine.source.begin() as conn:
        report = import_file(conn, Path("COT_2024-12.zip"))
    print(report.new, report.duplicate, report.rejected, report.reasons)
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, insert

from rescore.exceptions import InvalidInput
from rescore.packs.tenders import storage
from rescore.packs.tenders.cotfile import file_month, read_rows
from rescore.packs.tenders.rows import KEY, Rejected, parse_row
from rescore.packs.tenders.schema import imports

__all__ = ["BATCH_SIZE", "EXAMPLES", "ImportReport", "import_file", "sha256_of"]

BATCH_SIZE = 20_000
#: How many refused rows a report names by line number.
EXAMPLES = 5

Progress = Callable[[int], None]


@dataclass(slots=True)
class ImportReport:
    """What importing one file did: rows new, duplicate and refused (with reasons)."""

    file: str
    month: date | None
    new: int = 0
    duplicate: int = 0
    rejected: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    examples: list[tuple[int, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        """Data rows read."""
        return self.new + self.duplicate + self.rejected

    @property
    def rate(self) -> float:
        """Rows read per second."""
        return self.rows / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "file": self.file,
            "month": self.month.isoformat()[:7] if self.month else None,
            "new": self.new,
            "duplicate": self.duplicate,
            "rejected": self.rejected,
            "reasons": dict(self.reasons.most_common()),
            "examples": [{"line": line, "reason": why} for line, why in self.examples],
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rate),
        }

    def refuse(self, line: int, reason: str) -> None:
        self.rejected += 1
        self.reasons[_reason_kind(reason)] += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append((line, reason))


def _reason_kind(reason: str) -> str:
    """``RutProveedor '1-2' is not ...`` -> ``RutProveedor is not ...``: one count per kind."""
    words = reason.split()
    return " ".join(w for w in words if not (w.startswith("'") or w.startswith('"')))


def sha256_of(path: Path) -> str:
    """The file's SHA-256 (the schedule skips a file already imported with the same digest)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def import_file(
    conn: Connection,
    path: Path,
    *,
    batch_size: int = BATCH_SIZE,
    on_progress: Progress | None = None,
    now: datetime | None = None,
) -> ImportReport:
    """Import one ``COT_YYYY-MM.zip`` inside the caller's transaction; see the module."""
    if not path.is_file():
        raise InvalidInput(f"{path} is not a file", field="file")
    month = file_month(path)
    report = ImportReport(path.name, month)
    started = time.perf_counter()
    storage.prepare_import(conn, month)
    sink = storage.sink_for(conn)
    for rows in _batches(_parsed(path, month, report), batch_size):
        new = sink.write(conn, rows)
        report.new += new
        report.duplicate += len(rows) - new
        if on_progress is not None:
            on_progress(len(rows))
    report.seconds = time.perf_counter() - started
    _record(conn, path, report, now or datetime.now(UTC).replace(tzinfo=None))
    return report


def _parsed(path: Path, month: date | None, report: ImportReport) -> Iterator[tuple[Any, ...]]:
    """Good rows not seen before in this file; refused and repeated ones are counted."""
    seen: set[tuple[Any, ...]] = set()
    for line, raw in read_rows(path):
        try:
            row = parse_row(raw, month)
        except Rejected as refused:
            report.refuse(line, refused.reason)
            continue
        key = tuple(row[i] for i in KEY)
        if key in seen:
            report.duplicate += 1
            continue
        seen.add(key)
        yield row


def _batches(rows: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _record(conn: Connection, path: Path, report: ImportReport, now: datetime) -> None:
    conn.execute(delete(imports).where(imports.c.archivo == path.name))
    conn.execute(
        insert(imports).values(
            archivo=path.name,
            sha256=sha256_of(path),
            filas_nuevas=report.new,
            filas_duplicadas=report.duplicate,
            filas_rechazadas=report.rejected,
            importado_en=now,
        )
    )
