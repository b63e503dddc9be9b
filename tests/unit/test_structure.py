"""The structure the design promises, checked on every run (import-linter's contracts in
pyproject run in `make lint`; these cover what its contract types do not)."""

from __future__ import annotations

import re
from pathlib import Path

import grimp

SRC = Path(__file__).resolve().parents[2] / "src" / "rescore"


def test_no_module_imports_itself_back() -> None:
    """No import cycle between any two modules of rescore (function-level imports count)."""
    graph = grimp.build_graph("rescore", exclude_type_checking_imports=True)
    cycles = set()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if graph.find_shortest_chain(importer=imported, imported=module):
                cycles.add(tuple(sorted((module, imported))))
    assert not cycles, f"import cycles: {sorted(cycles)}"


#: Reaching past the engine's operations into its storage components.
PAST_THE_DOOR = re.compile(r"\bengine\.(db|queue|store|computer)\b|\.db\.(begin|read)\(")


def test_front_ends_use_engine_operations_only() -> None:
    """The CLI, the HTTP API and the packs call the engine's operations; none opens its own
    transaction on the core tables or reaches into the queue or the store."""
    offenders = []
    for folder in ("cli", "api", "packs"):
        for path in sorted((SRC / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if PAST_THE_DOOR.search(line) and "engine.db.where" not in line:
                    offenders.append(f"{path.relative_to(SRC)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_the_core_never_imports_a_pack() -> None:
    """Every module outside rescore.packs, new ones included (the import-linter contract lists
    modules by name; this covers the ones added since)."""
    graph = grimp.build_graph("rescore", exclude_type_checking_imports=True)
    core = [m for m in graph.modules if not m.startswith("rescore.packs")]
    offenders = [
        (module, imported)
        for module in core
        for imported in graph.find_modules_directly_imported_by(module)
        if imported.startswith("rescore.packs.") and imported != "rescore.packs.sdk"
    ]
    assert not offenders, offenders
