"""What a benchmark reports: its numbers, how it measured them, and whether the goal was met."""

from __future__ import annotations

import os
import platform
import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

__all__ = ["Measurement", "machine", "print_table", "write_json"]


@dataclass(kw_only=True, slots=True)
class Measurement:
    """One benchmark's result. ``met`` is None when there is no goal or it did not run."""

    id: str
    title: str
    method: str
    numbers: dict[str, float] = field(default_factory=dict)
    goal: str = ""
    met: bool | None = None
    skipped: str | None = None

    def summary(self) -> str:
        if self.skipped:
            return f"skipped: {self.skipped}"
        return "\n".join(f"{k} {_fmt(v)}" for k, v in self.numbers.items())


def _fmt(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def machine() -> dict[str, Any]:
    """Where the numbers were measured."""
    packages: dict[str, str | None] = {}
    for name in ("rescore", "sqlalchemy", "fastapi", "uvicorn", "pydantic", "polars", "orjson"):
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = None
    return {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "packages": packages,
        "measured_at": datetime.now(UTC).isoformat(),
    }


def print_table(console: Console, results: list[Measurement]) -> None:
    table = Table(title="rescore bench (embedded default)", show_lines=True)
    for column in ("id", "what", "numbers", "goal", "met"):
        table.add_column(column, overflow="fold")
    for r in results:
        met = {True: "[green]yes[/]", False: "[red]no[/]", None: "-"}[r.met]
        table.add_row(r.id, r.title, r.summary(), r.goal, met)
    console.print(table)
    for r in results:
        console.print(f"[bold]{r.id}[/] method: {r.method}", highlight=False)


def write_json(path: Path, results: list[Measurement]) -> None:
    data = {"machine": machine(), "results": [asdict(r) for r in results]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
