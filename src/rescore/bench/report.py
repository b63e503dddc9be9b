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

__all__ = [
    "TABLE_END",
    "TABLE_START",
    "Measurement",
    "as_data",
    "machine",
    "markdown",
    "print_table",
    "replace_table",
    "write_json",
]


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
        "load_average": [round(x, 2) for x in os.getloadavg()],
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


def as_data(results: list[Measurement], started: dict[str, Any]) -> dict[str, Any]:
    """A run as JSON-ready data: the machine as it was when the run ``started`` (from
    :func:`machine`), its load average at the end, and every result."""
    ended = [round(x, 2) for x in os.getloadavg()]
    return {
        "machine": started | {"load_average_end": ended},
        "results": [asdict(r) for r in results],
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))


#: The README's performance table sits between these lines; ``rescore bench --readme`` rewrites it.
TABLE_START = "<!-- bench-table: written by `rescore bench --readme README.md`; do not edit -->"
TABLE_END = "<!-- /bench-table -->"


def markdown(data: dict[str, Any]) -> str:
    """The run as the README's table, headed by the machine it ran on."""
    m = data["machine"]
    load = m.get("load_average", ["?"])[0]
    load_end = m.get("load_average_end", ["?"])[0]
    lines = [
        f"Measured {m['measured_at'][:16].replace('T', ' ')} UTC on `{m['host']}`: {m['cpus']} "
        f"cores, {m['platform']}, Python {m['python']}, SQLite {m['sqlite']}, rescore "
        f"{m['packages'].get('rescore')}; load average {load} at the start, {load_end} at the end.",
        "",
        "| id | what | measured | goal | met |",
        "|---|---|---|---|---|",
    ]
    for r in data["results"]:
        measured = f"skipped: {r['skipped']}" if r["skipped"] else _numbers(r["numbers"])
        met = {True: "yes", False: "**no**", None: "–"}[r["met"]]
        lines.append(f"| {r['id']} | {r['title']} | {measured} | {r['goal'] or '–'} | {met} |")
    return "\n".join(lines)


def _numbers(numbers: dict[str, float]) -> str:
    return ", ".join(f"{k} {_fmt(v)}" for k, v in numbers.items())


def replace_table(readme: str, table: str) -> str:
    """``readme`` with the text between the table's markers replaced by ``table``."""
    start, end = readme.find(TABLE_START), readme.find(TABLE_END)
    if start < 0 or end < start:
        raise ValueError(f"the README has no {TABLE_START!r} ... {TABLE_END!r} block")
    return readme[: start + len(TABLE_START)] + "\n" + table + "\n" + readme[end:]
