"""``rescore tenders probabilidad | alertas | train``: win probability and alert profiles.

Examples (on the demo data)::

    rescore tenders probabilidad 2003-4-COT26 77037867-2 92000
    rescore tenders alertas list --suscriptor b03da701-c632-976a-1036-3c5f972651da
    rescore tenders alertas add b03da701-c632-976a-1036-3c5f972651da "Vendo tablets y notebooks"
    rescore tenders alertas probar "Adquisición de notebooks para docentes"
    rescore tenders train
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from rescore.packs.sdk import Session, echo, pass_session, source_read, source_write
from rescore.packs.tenders.tiers import charged, require_profile_room
from rescore.packs.tenders.tiers_commands import subscriber_option

if TYPE_CHECKING:
    from rescore.packs.tenders.pack import TendersPack

__all__ = ["commands"]


def _dump(data: Any) -> None:
    import orjson

    click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode())


def _print_prediction(found: dict[str, Any]) -> None:
    echo(
        f"{found['codigo_licitacion']} / {found['rut_proveedor']}: "
        f"{found['probability']:.1%} to win (model {found['model_version']}, "
        f"average quote {found['baseline']:.1%})"
    )
    for factor in found["factors"][:3]:
        echo(f"  {factor['label']} = {factor['value']:g}: {factor['contribution']:+.1%}")
    for advice in found["recommendations"]:
        echo(f"  -> {advice['text']}")


def probability_command(pack: TendersPack) -> click.Command:
    @click.command("probabilidad")
    @click.argument("codigo")
    @click.argument("rut")
    @click.argument("precio", type=click.FloatRange(min=0, min_open=True))
    @click.option("--region", help="The supplier's home region (default: from its history).")
    @click.option("--tamano", type=click.Choice(["micro", "pequena", "mediana", "grande"]))
    @click.option("--competidores", type=click.FloatRange(0, 500), help="Other suppliers expected.")
    @click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
    @subscriber_option
    @pass_session
    def probabilidad(
        session: Session,
        codigo: str,
        rut: str,
        precio: float,
        region: str | None,
        tamano: str | None,
        competidores: float | None,
        as_json: bool,
        suscriptor: str | None,
    ) -> None:
        """The chance that RUT's quote at unit price PRECIO wins tender CODIGO, its key
        factors, and the price ratios that reach higher chances."""
        from rescore.packs.tenders.intel import Quote

        quote = Quote(
            codigo=codigo,
            rut_proveedor=rut.upper(),
            precio_unitario=precio,
            region_proveedor=region,
            tamano_proveedor=tamano,
            competidores=competidores,
        )
        with (
            session.engine() as engine,
            charged(engine, suscriptor, "win_probability"),
            source_read(engine) as conn,
        ):
            found = pack.intel.predict(conn, quote)
        _dump(found) if as_json else _print_prediction(found)

    return probabilidad


def alerts_group(pack: TendersPack) -> click.Group:
    @click.group("alertas")
    def alertas() -> None:
        """Subscribers' alert profiles: semantic (what they sell) or keyword."""

    @alertas.command("list")
    @click.option("--suscriptor", help="One subscriber's id (default: every subscriber).")
    @pass_session
    def list_(session: Session, suscriptor: str | None) -> None:
        """The active profiles."""
        with session.engine() as engine, source_read(engine) as conn:
            for p in pack.intel.list_profiles(conn, suscriptor):
                threshold = "" if p["umbral"] is None else f" (umbral {p['umbral']})"
                echo(f"{p['id']}  {p['suscriptor_id']}  {p['tipo']:<8}  {p['texto']}{threshold}")

    @alertas.command("add")
    @click.argument("suscriptor")
    @click.argument("texto")
    @click.option(
        "--tipo", type=click.Choice(["semantic", "keyword"]), default="semantic", show_default=True
    )
    @click.option("--umbral", type=click.FloatRange(-1, 1), help="Cosine a tender must reach.")
    @pass_session
    def add(session: Session, suscriptor: str, texto: str, tipo: str, umbral: float | None) -> None:
        """Add a profile: TEXTO says what SUSCRIPTOR sells (keywords: comma-separated); as many
        active as SUSCRIPTOR's tier allows."""
        with session.engine() as engine:
            with source_write(engine) as conn:
                require_profile_room(engine, conn, suscriptor, tipo)
                made = pack.intel.create_profile(
                    conn, suscriptor, tipo, texto, umbral, pack.as_of()
                )
            reopened = pack.intel.rematch_open(engine, made)
        echo(f"added {made['tipo']} profile {made['id']}; {reopened} open tenders to match again")

    @alertas.command("remove")
    @click.argument("perfil_id")
    @pass_session
    def remove(session: Session, perfil_id: str) -> None:
        """Remove a profile."""
        with session.engine() as engine, source_write(engine) as conn:
            pack.intel.delete_profile(conn, perfil_id)
        echo(f"removed profile {perfil_id}")

    @alertas.command("probar")
    @click.argument("texto")
    @pass_session
    def probe(session: Session, texto: str) -> None:
        """Which subscribers a tender saying TEXTO would alert now."""
        with session.engine() as engine, source_read(engine) as conn:
            index, found = pack.intel.would_alert(conn, texto)
        echo(f"{len(found)} subscriber(s) ({index.embedder.name})")
        for m in found:
            how = ", ".join(m.keywords) if m.similarity is None else f"{m.similarity:.2f}"
            echo(f"  {m.subscriber}  {m.kind:<8}  {how}  {m.text}")

    return alertas


def train_command(pack: TendersPack) -> click.Command:
    @click.command("train")
    @click.option(
        "--models-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Where to save (default: RESCORE_TENDERS_MODELS_DIR, .rescore/models).",
    )
    @click.option(
        "--limit",
        type=click.IntRange(1_000),
        help="Newest rows to train and test on (default 60,000).",
    )
    @pass_session
    def train(session: Session, models_dir: Path | None, limit: int | None) -> None:
        """Retrain the win model on the history: newest 20% held out, by time."""
        from rescore.population import DatabaseSource

        with session.engine() as engine:
            found = pack.train_model(DatabaseSource(engine.source), models_dir, limit=limit)
        m, h = found["metrics"], found["metrics"]["holdout"]
        echo(
            f"trained tenders win model {found['version']} ({m['model']}, Platt-calibrated) on "
            f"{m['samples']} quotes up to {m['trained_until']}; tested on the {h['samples']} "
            f"from {m['tested_from']}: accuracy {h['accuracy']:.1%} (always-lose "
            f"{h['majority_accuracy']:.1%}), AUC {h['auc']:.4f}, Brier {h['brier']:.4f}; "
            f"saved {found['path']}"
        )

    return train


def commands(pack: TendersPack) -> list[click.Command]:
    """The commands, bound to ``pack``."""
    return [probability_command(pack), alerts_group(pack), train_command(pack)]
