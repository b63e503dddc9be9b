"""Commands for the packs' models: train, drift."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
    "--limit",
    type=click.IntRange(100),
    default=None,
    help="Training samples, first by key (default: the pack's, 10,000 for leads; all for credit).",
)
@pass_session
def ml_train(
    session: Session,
    pack: str,
    models_dir: Path | None,
    from_parquet: Path | None,
    limit: int | None,
) -> None:
    """Train PACK's model, save it with skops (+ JSON metadata) and print its metrics.

    leads: the seed's regressor, 80/20 split. credit: the probability of default on the
    source's labelled outcomes, model chosen by 10-fold CV, Platt-calibrated, saved as a
    release candidate (scorer version 1.0.0+model.FINGERPRINT) to replay, shadow and
    promote with `rescore releases`."""
    from rich.table import Table

    from rescore.plugins import discover
    from rescore.population import DatabaseSource, ParquetSource

    found = discover(session.settings().packs)[pack]
    train = getattr(found, "train_model", None)
    if train is None:
        raise click.UsageError(f"pack {pack!r} has no model to train")
    sized = {} if limit is None else {"limit": limit}
    if from_parquet is not None:
        result = train(ParquetSource(from_parquet), models_dir, **sized)
    else:
        with session.engine() as engine:
            result = train(DatabaseSource(engine.source), models_dir, **sized)
    if "cv_auc" in result["metrics"]:
        _print_classifier(pack, result)
        return
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


def _print_classifier(pack: str, result: dict[str, Any]) -> None:
    from rich.table import Table

    metrics = result["metrics"]
    oof = metrics["out_of_fold"]
    candidates = ", ".join(f"{k} {v:.4f}" for k, v in metrics["candidates"].items())
    echo(
        f"trained {pack} model {result['version']} ({metrics['model']}, Platt-calibrated) on "
        f"{metrics['samples']} labelled clients, {metrics['positives']} defaults: "
        f"{metrics['folds']}-fold CV AUC {metrics['cv_auc']:.4f} ± {metrics['cv_auc_std']:.4f} "
        f"({candidates}); out-of-fold KS {oof['ks']:.3f}, Brier {oof['brier']:.4f}; "
        f"saved {result['path']}"
    )
    holdout = metrics.get("holdout")
    if holdout is not None:  # trained by time: the newest rows were held out
        echo(
            f"time split: trained up to {metrics['trained_until']}, tested on the "
            f"{holdout['samples']} rows from {metrics['tested_from']}: accuracy "
            f"{holdout['accuracy']:.1%} (majority {holdout['majority_accuracy']:.1%}), "
            f"AUC {holdout['auc']:.4f}, Brier {holdout['brier']:.4f}"
        )
    version = result.get("release_version")
    if version and not result.get("live"):
        echo(
            f"It is a release candidate, not live: default_probability {version}.\n"
            f"  what it would change:  rescore replay {pack} --candidate {version}\n"
            f"  beside the live one:   rescore releases shadow {pack} default_probability "
            f"{version}\n"
            f"  make it live:          rescore releases promote {pack} default_probability "
            f"{version}"
        )
    table = Table("decile", "clients", "predicted", "observed", title="calibration")
    for row in oof["calibration"]:
        table.add_row(
            str(row["decile"]),
            str(row["rows"]),
            f"{row['predicted']:.3f}",
            f"{row['observed']:.3f}",
        )
    console().print(table)


@ml.command("drift")
@click.argument("pack")
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
@click.option(
    "--no-alert", is_flag=True, help="Store and show the report, but ingest no model_drift event."
)
@pass_session
def ml_drift(session: Session, pack: str, as_json: bool, no_alert: bool) -> None:
    """Check PACK's model for drift now (PSI per feature and of the prediction, AUC on outcomes
    labelled since training), store the report beside the model and show it. An alarm (AUC
    down more than 5%, a PSI above 0.25) exits 1 and, unless --no-alert, ingests a
    model_drift event that the pack's rule sends on."""
    from rescore.plugins import discover

    found = discover(session.settings().packs)[pack]
    check = getattr(found, "check_drift", None)
    if check is None:
        raise click.UsageError(f"pack {pack!r} has no model drift check")
    with session.engine() as engine:
        report = check(engine, alert=not no_alert)
    if as_json:
        echo(json.dumps(report, indent=2, sort_keys=True))
    else:
        _print_drift(report)
    if report["alarm"]:
        raise SystemExit(1)


def _print_drift(report: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(
        "feature", "PSI", "band", title=f"PSI against training ({report['population']} clients)"
    )
    for name, found in sorted(report["psi"].items(), key=lambda kv: -kv[1]["psi"]):
        table.add_row(name, f"{found['psi']:.4f}", found["band"])
    probability = report["probability_psi"]
    table.add_row("(predicted probability)", f"{probability['psi']:.4f}", probability["band"])
    console().print(table)
    outcomes = report["outcomes"]
    if outcomes["auc"] is None:
        echo(f"AUC: {outcomes['count']} outcomes labelled since training; {outcomes['note']}")
    else:
        echo(
            f"AUC {outcomes['auc']:.4f} on {outcomes['count']} outcomes labelled since training "
            f"vs {outcomes['training_auc']:.4f} at training: drop {outcomes['auc_drop']:.1%}"
        )
    echo("; ".join(report["alarms"]) if report["alarm"] else "no drift: all quiet")
