"""Snapshots: every current score of a pack as one wide table, in CSV and Parquet.

One row per (tenant, entity); for each scorer its value (column ``<scorer>``), each component
(``<scorer>.<component>``) and version (``<scorer>.version``), then the entity's watermark and
when it was last computed. Seed 000's API falls back to such a CSV when its database is down.
Files are written to a temporary name and renamed, so a reader never sees half a snapshot.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from rescore.engine import Engine

__all__ = ["FORMATS", "export_snapshot"]

FORMATS = ("csv", "parquet")


def _wide_rows(rows: Iterable[Any]) -> list[dict[str, Any]]:
    by_entity: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        blank = {"tenant": row.tenant, "entity": row.entity, "watermark": 0}
        out = by_entity.setdefault((row.tenant, row.entity), blank)
        out[row.scorer] = row.value
        out[f"{row.scorer}.version"] = row.version
        for name, value in sorted(row.components.items()):
            out[f"{row.scorer}.{name}"] = value
        out["watermark"] = max(out["watermark"], row.watermark)
        out["computed_at"] = max(out.get("computed_at", row.computed_at), row.computed_at)
    return list(by_entity.values())


def export_snapshot(
    engine: Engine, out_dir: Path, *, formats: Sequence[str] = FORMATS, pack: str | None = None
) -> list[Path]:
    """Write one snapshot file per pack and format; return the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name in [pack] if pack else engine.registry.names:
        rows = _wide_rows(engine.iter_scores(name))
        if not rows:
            continue
        frame = pl.DataFrame(rows, infer_schema_length=None)
        for fmt in formats:
            written.append(_write(frame, out_dir / f"{name}_scores.{fmt}", fmt))
    return written


def _write(frame: pl.DataFrame, path: Path, fmt: str) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    if fmt == "csv":
        frame.write_csv(tmp)
    else:
        frame.write_parquet(tmp)
    os.replace(tmp, path)
    return path
