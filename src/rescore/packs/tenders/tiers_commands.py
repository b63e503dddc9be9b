"""``rescore tenders planes | suscripcion``: the tier table and a subscriber's plan.

Examples (on the demo data)::

    rescore tenders planes
    rescore tenders suscripcion show b03da701-c632-976a-1036-3c5f972651da
    rescore tenders suscripcion set-tier b03da701-c632-976a-1036-3c5f972651da pyme --meses 1
    rescore tenders pagos b03da701-c632-976a-1036-3c5f972651da
    rescore tenders factura 11520bd1-4eab-5bf5-bb6a-55fb9d970946 -o factura.pdf
    rescore tenders precio "guantes nitrilo" --suscriptor b03da701-c632-976a-1036-3c5f972651da

``--suscriptor`` on ``precio``, ``search`` and ``probabilidad`` charges that subscriber's
quota (:mod:`.tiers`): a spent quota or a tier without the feature is one line and exit 1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click
import orjson

from rescore.packs.sdk import Session, echo, pass_session

if TYPE_CHECKING:
    from rescore.packs.tenders.pack import TendersPack

__all__ = ["commands", "subscriber_option"]

F = TypeVar("F", bound=Callable[..., Any])


def subscriber_option(command: F) -> F:
    """``--suscriptor ID``: charge the command to that subscriber's quota."""
    return click.option(
        "--suscriptor",
        help="Charge this subscriber's quota (its tier's limits apply); default: nobody.",
    )(command)


def planes_command() -> click.Command:
    @click.command("planes")
    @click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
    def planes(as_json: bool) -> None:
        """Seed 001's tiers: monthly price (CLP) and each feature's limit per tier."""
        from rescore.packs.tenders.tiers_routes import table_view

        table = table_view()
        if as_json:
            click.echo(orjson.dumps(table, option=orjson.OPT_INDENT_2).decode())
            return
        names = [t["tier"] for t in table["tiers"]]
        echo("feature".ljust(18) + "".join(n.ljust(13) for n in names))
        prices = [f"${t['precio_mensual']:,}".replace(",", ".") for t in table["tiers"]]
        echo("CLP/month".ljust(18) + "".join(p.ljust(13) for p in prices))
        for f in table["features"]:
            per = f"/{f['periodo']}" if f["periodo"] else " active"
            cells = [_cell(f["limites"].get(n), per) for n in names]
            echo(f["feature"].ljust(18) + "".join(c.ljust(13) for c in cells))

    return planes


def _cell(limit: int | str | None, per: str) -> str:
    if limit is None:
        return "-"
    return "unlimited" if limit == "unlimited" else f"{limit}{per}"


def subscription_group(pack: TendersPack) -> click.Group:
    @click.group("suscripcion")
    def suscripcion() -> None:
        """A subscriber's tier, expiry and quotas; change its tier by hand."""

    @suscripcion.command("show")
    @click.argument("suscriptor")
    @click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
    @pass_session
    def show(session: Session, suscriptor: str, as_json: bool) -> None:
        """SUSCRIPTOR's tier, when it expires, and each quota's use this period."""
        from rescore.packs.tenders.tiers_routes import plan_view

        with session.engine() as engine:
            plan = plan_view(engine, suscriptor)
        if as_json:
            click.echo(orjson.dumps(plan, option=orjson.OPT_INDENT_2).decode())
            return
        echo(f"{suscriptor}: tier {plan['tier']}, vence {plan['vence_en'] or 'nunca'}")
        for q in plan["cuotas"]:
            echo(f"  {q['feature']:<16} {q['usados']}/{q['limite']}  ({q['periodo']})")

    @suscripcion.command("set-tier")
    @click.argument("suscriptor")
    @click.argument("tier")
    @click.option(
        "--meses",
        type=click.IntRange(0, 36),
        default=0,
        show_default=True,
        help="Months paid from now (0: never expires).",
    )
    @pass_session
    def set_tier_(session: Session, suscriptor: str, tier: str, meses: int) -> None:
        """Put SUSCRIPTOR on TIER (free, emprendedor, pyme, profesional) by hand."""
        from rescore.packs.tenders.subscriptions import plus_month, set_tier

        now = pack.as_of()
        until = None
        if meses:
            until = now
            for _ in range(meses):
                until = plus_month(until)
        with session.engine() as engine:
            done = set_tier(engine, suscriptor, tier, vence_en=until, now=now)
        echo(
            f"{suscriptor}: {done['antes']} -> {tier}"
            + (f" until {until:%Y-%m-%d}" if until else "")
        )

    return suscripcion


def payments_command() -> click.Command:
    @click.command("pagos")
    @click.argument("suscriptor")
    @click.option("--json", "as_json", is_flag=True, help="Print the payments as JSON.")
    @pass_session
    def pagos(session: Session, suscriptor: str, as_json: bool) -> None:
        """SUSCRIPTOR's payments and failed renewals, newest first."""
        from rescore.packs.tenders.invoice import money
        from rescore.packs.tenders.payments_routes import payment_views

        with session.engine() as engine:
            found = payment_views(engine, suscriptor)
        if as_json:
            click.echo(orjson.dumps(found, option=orjson.OPT_INDENT_2).decode())
            return
        for p in found:
            echo(
                f"{p['id']}  {p['creado_en'][:10]}  {p['estado']:<8} {p['tier']:<12} "
                f"{money(p['monto_clp'])}"
            )

    return pagos


def invoice_command() -> click.Command:
    @click.command("factura")
    @click.argument("pago_id")
    @click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, writable=True),
        help="Where to write the PDF (default: factura-PAGO_ID.pdf).",
    )
    @pass_session
    def factura(session: Session, pago_id: str, output: str | None) -> None:
        """Write the invoice PDF of payment PAGO_ID."""
        from pathlib import Path

        from rescore.packs.tenders.invoice import invoice_pdf

        with session.engine() as engine:
            pdf = invoice_pdf(engine, pago_id)
        target = Path(output or f"factura-{pago_id}.pdf")
        partial = target.with_name(target.name + ".part")
        partial.write_bytes(pdf)
        partial.replace(target)  # never half a PDF under the real name
        echo(f"wrote {target} ({len(pdf):,} bytes)")

    return factura


def commands(pack: TendersPack) -> list[click.Command]:
    """The commands, bound to ``pack``."""
    return [planes_command(), subscription_group(pack), payments_command(), invoice_command()]
