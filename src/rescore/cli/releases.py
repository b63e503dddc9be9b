"""``rescore releases`` and ``rescore replay``: scorer versions in shadow, replayed, promoted."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from rescore.cli.framework import CONTEXT, Session, console, echo, pass_session
from rescore.cli.framework import as_json as json_text

__all__ = ["releases", "replay"]


@click.group("releases", context_settings=CONTEXT)
def releases() -> None:
    """Scorer versions: which one serves, which runs in shadow; promote and roll back.

    A pack offers new versions of its scorers as candidates. One in shadow runs beside the
    live version on every recompute, unserved; `rescore replay` shows what promoting it
    would change; `promote` rescores every entity with it and switches in one transaction.
    """


@releases.command("list")
@click.argument("pack")
@pass_session
def list_releases(session: Session, pack: str) -> None:
    """Each scorer of PACK: the versions offered, the live one, the one in shadow."""
    from rich.table import Table

    with session.engine() as engine:
        rows = engine.scorer_releases(pack)
    table = Table("scorer", "live", "shadow", "offered")
    for row in rows:
        table.add_row(row["scorer"], row["live"], row["shadow"] or "", ", ".join(row["versions"]))
    console().print(table)


@releases.command("shadow")
@click.argument("pack")
@click.argument("scorer")
@click.argument("version", required=False)
@pass_session
def shadow(session: Session, pack: str, scorer: str, version: str | None) -> None:
    """Run VERSION of SCORER in shadow (no VERSION: stop shadowing)."""
    with session.engine() as engine:
        engine.set_shadow(pack, scorer, version)
    echo(f"{pack} {scorer}: " + (f"{version} runs in shadow" if version else "no shadow"))


@releases.command("promote")
@click.argument("pack")
@click.argument("scorer")
@click.argument("version")
@pass_session
def promote(session: Session, pack: str, scorer: str, version: str) -> None:
    """Make VERSION of SCORER live: every entity rescored with it, switched at once."""
    with session.engine() as engine:
        done = engine.promote(pack, scorer, version)
    _said(done)


@releases.command("rollback")
@click.argument("pack")
@click.argument("scorer")
@pass_session
def rollback(session: Session, pack: str, scorer: str) -> None:
    """Promote back the version SCORER's last promotion replaced."""
    with session.engine() as engine:
        done = engine.rollback(pack, scorer)
    _said(done)


def _said(done: dict[str, Any]) -> None:
    echo(
        f"{done['pack']} {done['scorer']}: {done['live']} is live (was {done['previous']}); "
        f"{done['entities']} entities rescored, {done['moved']} moved, {done['failed']} failed"
    )


@click.command("replay")
@click.argument("pack")
@click.option("--candidate", required=True, help="The version to replay.")
@click.option("--scorer", help="The scorer (needed only when several offer the version).")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
    help="Only the entities with events received since this UTC time.",
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the JSON.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report.")
@pass_session
def replay(
    session: Session,
    pack: str,
    candidate: str,
    scorer: str | None,
    since: datetime | None,
    out: Path | None,
    as_json: bool,
) -> None:
    """Recompute PACK's population with a candidate version and report what would move:
    how many scores, by how much, which changed decile band, the biggest movers and why.
    Writes nothing to the scores."""
    from datetime import UTC

    with session.engine() as engine:
        report = engine.replay(
            pack, candidate, scorer=scorer, since=since.replace(tzinfo=UTC) if since else None
        )
    if out is not None:
        out.write_text(json_text(report) + "\n")
    if as_json:
        click.echo(json_text(report))
        return
    echo(
        f"{pack} {report['scorer']} {report['live']} -> {report['candidate']}: "
        f"{report['moved']} of {report['compared']} move (mean |delta| "
        f"{report['mean_abs_delta']:.2f}, max {report['max_abs_delta']:.2f}), "
        f"{report['bands_changed']} change decile band, {report['failed']} failed"
    )
    for mover in report["movers"]:
        parts = ", ".join(f"{k} {v:+.2f}" for k, v in mover["components"].items())
        echo(f"  {mover['entity']}: {mover['live']:.2f} -> {mover['candidate']:.2f} ({parts})")
    if out is not None:
        echo(f"report: {out}")
