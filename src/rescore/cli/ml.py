"""Commands for the packs' models: train."""

from __future__ import annotations

from pathlib import Path

import click

from rescore.cli.framework import CONTEXT, Session, console, echo, pass_session

__all__ = ["ml"]


@click.group("ml", context_settings=CONTEXT)
def ml() -> None:
    """Machine-learning models beside the rule-based scores (needs the ml extra)."""


@ml.command("train")
@click.argument("pack")
@click.option(
    "--models-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where models are saved (default: the pack's setting, e.g. RESCORE_LEADS_MODELS_DIR).",
)
@click.option(
    "--from-parquet",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Train on a Parquet population instead of the source database.",
)
@click.option(
    "--limit", type=click.IntRange(100), default=10_000, help="Training samples (first by key)."
)
@pass_session
def ml_train(
    session: Session, pack: str, models_dir: Path | None, from_parquet: Path | None, limit: int
) -> None:
    """Train PACK's model (80/20 split), save it with skops and print its metrics."""
    from rich.table import Table

    from rescore.plugins import discover
    from rescore.population import DatabaseSource, ParquetSource

    found = discover(session.settings().packs)[pack]
    train = getattr(found, "train_model", None)
    if train is None:
        raise click.UsageError(f"pack {pack!r} has no model to train")
    if from_parquet is not None:
        result = train(ParquetSource(from_parquet), models_dir, limit=limit)
    else:
        with session.engine() as engine:
            result = train(DatabaseSource(engine.source), models_dir, limit=limit)
    metrics = result["metrics"]
    echo(
        f"trained {pack} model {result['version']} on {metrics['training_samples']} samples "
        f"(tested on {metrics['test_samples']}): MSE {metrics['mse']:.3f}, "
        f"R² {metrics['r2_score']:.4f}; saved {result['path']}"
    )
    top = sorted(metrics["feature_importance"].items(), key=lambda kv: -kv[1])[:8]
    table = Table("feature", "importance")
    for name, value in top:
        table.add_row(name, f"{value:.4f}")
    console().print(table)
