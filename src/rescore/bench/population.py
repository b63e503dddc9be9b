"""P4: the leads pack's vectorized population rescoring at 1M and 10M contacts (31.8M on
request), Parquet to Parquet. P4S: the same population into the score store through the bulk
path (:mod:`rescore.bench.store`)."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from rescore.bench.report import Measurement
from rescore.bench.server import RESCORE, clean_env
from rescore.exceptions import RescoreError
from rescore.plugins import Pack, discover
from rescore.population import ParquetSource, rescore_population, vectorized

__all__ = ["generated", "label", "leads_pack", "population_rescore"]


def generated(size: int) -> Path:
    """A generated population, made once per size and kept in the temp folder for reuse."""
    path = Path(tempfile.gettempdir()) / f"rescore-bench-leads-{size}"
    if not (path / "meta.json").exists():
        subprocess.run(
            [*RESCORE, "leads", "generate", "--contacts", str(size), "--out", str(path)],
            env=clean_env(),
            check=True,
            capture_output=True,
        )
    return path


def label(size: int) -> str:
    return f"{size / 1e6:g}M"


def leads_pack(id_: str, title: str) -> Pack | Measurement:
    """The installed leads pack, or the measurement ``id_`` skipped because it is missing."""
    try:
        return discover(["leads"])["leads"]
    except RescoreError as exc:
        skipped = f"the leads pack is not installed ({exc})"
        return Measurement(id=id_, title=title, method="", skipped=skipped)


def population_rescore(sizes: tuple[int, ...], chunk_size: int = 1_000_000) -> Measurement:
    pack = leads_pack("P4", "leads population rescoring")
    if isinstance(pack, Measurement):
        return pack
    assert vectorized(pack) is not None
    numbers: dict[str, float] = {}
    for size in sizes:
        with tempfile.TemporaryDirectory() as out:
            report = rescore_population(
                None,
                "leads",
                pack,
                ParquetSource(generated(size)),
                chunk_size=chunk_size,
                out=Path(out),
                store=False,
            )
        numbers[f"contacts_per_s_{label(size)}"] = report.rate
        numbers[f"seconds_{label(size)}"] = report.total_seconds
        numbers[f"score_only_per_s_{label(size)}"] = report.entities / report.score_seconds
    largest = numbers[f"contacts_per_s_{label(max(sizes))}"]
    return Measurement(
        id="P4",
        title="leads vectorized population rescoring",
        method=(
            "populations generated once by `rescore leads generate` (kept in the temp folder); "
            "rescore_population from Parquet to Parquet, no score store, chunks of "
            f"{chunk_size:,}: contacts/s end to end (read, score, write) and for reading + "
            "scoring alone (the score store: P4S)"
        ),
        numbers=numbers,
        goal=f">= 1M contacts/s end to end at the largest size ({label(max(sizes))})",
        met=largest >= 1_000_000,
    )
