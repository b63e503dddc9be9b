"""Plotly figures as plain data: the server builds them, the page's script draws them with the
``plotly.min.js`` that ships inside the plotly package (served from ``/ui/static``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from rescore.insights import Bin
from rescore.store import HistoryEntry

__all__ = ["bars", "distribution", "history_line"]

Figure = dict[str, Any]
BLUE = "#2563eb"
DAY = timedelta(days=1)
#: The seed's five band colours, lowest to highest (LeadScoringAnalytics).
BANDS = ("#ef4444", "#f97316", "#eab308", "#22c55e", "#8b5cf6")


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title, "font": {"size": 14}},
        "margin": {"l": 48, "r": 16, "t": 40, "b": 48},
        "height": 280,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": "system-ui, sans-serif", "size": 12},
        "xaxis": {"automargin": True},
        "yaxis": {"automargin": True},
        **extra,
    }


def distribution(title: str, bins: Sequence[Bin]) -> Figure:
    """A histogram of stored scores, binned in SQL."""
    labels = [f"{b.low:g}–{b.high:g}" for b in bins]
    trace = {
        "type": "bar",
        "x": labels,
        "y": [b.count for b in bins],
        "marker": {"color": BLUE},
        "hovertemplate": "%{x}: %{y:,} entities<extra></extra>",
    }
    counts = [b.count for b in bins]
    return {"data": [trace], "layout": _layout(title, bargap=0.05, yaxis=_count_axis(counts))}


def bars(
    title: str, values: Mapping[str, float], *, colors: Sequence[str] = (), suffix: str = ""
) -> Figure:
    """Bars with named categories (bands, platforms, lanes)."""
    trace = {
        "type": "bar",
        "x": list(values),
        "y": list(values.values()),
        "marker": {"color": list(colors) if colors else BLUE},
        "hovertemplate": "%{x}: %{y:,}" + suffix + "<extra></extra>",
    }
    layout = _layout(title)
    if all(float(v).is_integer() for v in values.values()):
        layout["yaxis"] = _count_axis(list(values.values()))
    return {"data": [trace], "layout": layout}


def _count_axis(counts: Sequence[float]) -> dict[str, Any]:
    """An axis of counts: whole-number ticks, one per unit while the counts are small."""
    axis: dict[str, Any] = {"automargin": True, "rangemode": "tozero", "tickformat": ",d"}
    if max(counts, default=0) <= 10:
        axis |= {"tick0": 0, "dtick": 1}
    return axis


def history_line(title: str, entries: Sequence[HistoryEntry], labels: Mapping[int, str]) -> Figure:
    """One scorer's value over time, a marker per change; hovering a marker names the events
    that moved it (``labels``: history id -> text)."""
    ordered = sorted(entries, key=lambda e: (e.changed_at, e.id))
    trace = {
        "type": "scatter",
        "mode": "lines+markers",
        "line": {"shape": "hv", "color": BLUE},
        "x": [e.changed_at.isoformat() for e in ordered],
        "y": [e.after for e in ordered],
        "text": [labels.get(e.id, e.trigger) for e in ordered],
        "hovertemplate": "%{y:,.2f}<br>%{text}<extra></extra>",
    }
    layout = _layout(title, xaxis={"type": "date", "automargin": True})
    if len(ordered) == 1:  # one point: a day either side, not a millisecond-wide axis
        at = ordered[0].changed_at
        layout["xaxis"]["range"] = [(at - DAY).isoformat(), (at + DAY).isoformat()]
    return {"data": [trace], "layout": layout}
