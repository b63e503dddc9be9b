"""Import many monthly files, one transaction each: the CLI's ``import`` and the schedule's.

The monthly schedule reads the inbox folder (``RESCORE_TENDERS_INBOX``) and imports every
``COT_YYYY-MM.zip`` it has not imported already with the same content (its SHA-256 is in
``importaciones_historico``), after the storage steps have made the partitions ahead. A file
that fails rolls back alone and the others go on; the failure is reported, not swallowed.
"""

from __future__ import annotations

import csv
import logging
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Connection, select

from rescore.exceptions import InvalidInput, RescoreError
from rescore.packs.tenders import storage
from rescore.packs.tenders.cotfile import file_month
from rescore.packs.tenders.importer import ImportReport, Progress, import_file, sha256_of
from rescore.packs.tenders.schema import imports

__all__ = ["Failed", "import_paths", "inbox_files", "pending_files"]

log = logging.getLogger(__name__)

#: Opens a write transaction on the source database (``rescore.packs.sdk.source_write``).
Transaction = Callable[[], AbstractContextManager[Connection]]


@dataclass(frozen=True, slots=True)
class Failed:
    """A file that could not be imported, and why (its transaction was rolled back)."""

    file: str
    error: str


def inbox_files(folder: Path) -> list[Path]:
    """The monthly files in ``folder``, oldest month first (other files are ignored)."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_file() and file_month(p) is not None]
    return sorted(found, key=lambda p: (file_month(p) or date.min, p.name))


def pending_files(conn: Connection, paths: Sequence[Path]) -> list[Path]:
    """Those of ``paths`` not imported yet with the same content."""
    names = [p.name for p in paths]
    query = select(imports.c.archivo, imports.c.sha256).where(imports.c.archivo.in_(names))
    done = dict(conn.execute(query).all())
    return [p for p in paths if done.get(p.name) != sha256_of(p)]


def import_paths(
    begin: Transaction,
    paths: Sequence[Path],
    *,
    now: datetime,
    ahead: int = storage.MONTHS_AHEAD,
    on_progress: Progress | None = None,
) -> Iterator[ImportReport | Failed]:
    """Import each file in its own transaction, after the storage steps; yield each outcome."""
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise InvalidInput(f"no such file: {', '.join(missing)}", field="file")
    with begin() as conn:
        storage.ensure(conn, now.date(), ahead)
    for path in paths:
        try:
            with begin() as conn:
                report = import_file(conn, path, on_progress=on_progress, now=now)
        except (RescoreError, OSError, ValueError, zipfile.BadZipFile, csv.Error) as exc:
            log.error("tenders import of %s failed: %s", path.name, exc)
            yield Failed(path.name, str(exc))
            continue
        yield report
