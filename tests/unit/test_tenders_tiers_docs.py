"""docs/packs/tenders.md's tier table is tiers.yaml's, cell for cell."""

from __future__ import annotations

from pathlib import Path

from rescore.packs.tenders.invoice import money
from rescore.packs.tenders.tiers import Feature, catalog

DOC = Path(__file__).parents[2] / "docs" / "packs" / "tenders.md"
START = "<!-- tiers-table:"
END = "<!-- /tiers-table -->"


def rendered() -> list[str]:
    """The table as the docs must show it."""
    table = catalog()
    head = "| feature | " + " | ".join(t.label for t in table.tiers) + " |"
    rows = [head, "|---" * (len(table.tiers) + 1) + "|"]
    prices = " | ".join(money(t.price_clp) for t in table.tiers)
    rows.append(f"| price per month (CLP) | {prices} |")
    for f in table.features.values():
        cells = " | ".join(_cell(f, t.name) for t in table.tiers)
        rows.append(f"| `{f.name}` ({f.label}) | {cells} |")
    return rows


def _cell(feature: Feature, tier: str) -> str:
    if tier not in feature.limits:
        return "-"
    limit = feature.limits[tier]
    if limit is None:
        return "unlimited"
    return f"{limit} active" if feature.kind == "count" else f"{limit}/{feature.period}"


def test_the_documented_tier_table_is_tiers_yaml() -> None:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(START)
    block = text[text.index("\n", start) + 1 : text.index(END)]
    assert block.strip().splitlines() == rendered()
