"""Templates, the filters that format numbers for people, and chart data for the page.

Templates ship in the package (``rescore/ui/templates``), autoescaped. A pack may ship its own
pieces in ``<its package>/ui/`` (``card.html``: the entity card; ``analytics.html``: its
analytics page's body); they are found under ``packs/<name>/`` without the core importing the
pack: the loader reads the package folder of the pack object the registry already holds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import orjson
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, select_autoescape
from markupsafe import Markup

from rescore.plugins import PackRegistry

__all__ = ["chart_json", "environment", "number", "when"]

TEMPLATES = Path(str(files("rescore.ui") / "templates"))


def environment(registry: PackRegistry) -> Environment:
    """The Jinja environment: core templates, each loaded pack's ``ui/`` folder under
    ``packs/<name>/``, the formatting filters."""
    packs = {
        name: FileSystemLoader(folder)
        for name in registry.names
        if (folder := _pack_folder(registry[name])) is not None
    }
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(TEMPLATES), PrefixLoader(packs, delimiter="|")]),
        autoescape=select_autoescape(("html",)),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters |= {"num": number, "when": when, "ago": ago, "pct": percent, "chart": chart_json}
    env.globals["pack_template"] = lambda pack, name: f"{pack}|{name}"
    env.globals["has_pack_template"] = lambda pack, name: pack in packs and _has(packs[pack], name)
    return env


def _pack_folder(pack: object) -> Path | None:
    module = type(pack).__module__
    package = module.rpartition(".")[0] or module
    try:
        folder = Path(str(files(package) / "ui"))
    except (ModuleNotFoundError, TypeError):
        return None
    return folder if folder.is_dir() else None


def _has(loader: FileSystemLoader, name: str) -> bool:
    return any((Path(p) / name).is_file() for p in loader.searchpath)


def number(value: float | int | None, digits: int = 2) -> str:
    """``1234567.891`` -> ``1,234,567.89``; integers without decimals; None -> an en dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    text = f"{value:,.{digits}f}".rstrip("0").rstrip(".")
    return text if text not in ("-0", "") else "0"


def percent(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage: ``0.8312`` -> ``83.1%``."""
    return "–" if value is None else f"{100 * value:.{digits}f}%"


def when(value: datetime | str | None) -> str:
    """A time in UTC, minutes precision: ``2026-11-30 06:24 UTC``."""
    if value is None:
        return "–"
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return f"{at:%Y-%m-%d %H:%M} UTC"


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago, for people: ``42 s ago``, ``5 min ago``, ``3 h ago``, ``2 days ago``."""
    if value is None:
        return "never"
    at = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    seconds = max(0.0, ((now or datetime.now(UTC)) - at).total_seconds())
    for size, unit in ((86400, "days"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit} ago"
    return f"{seconds:.0f} s ago"


def chart_json(figure: Mapping[str, Any]) -> Markup:
    """A plotly figure as JSON safe inside ``<script type="application/json">`` (no ``<``, so
    no ``</script>`` can close the element early)."""
    text = orjson.dumps(figure).decode().replace("<", "\\u003c").replace(">", "\\u003e")
    return Markup(text.replace("&", "\\u0026"))
