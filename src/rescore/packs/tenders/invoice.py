"""An invoice PDF per payment (seed 001, phase 6.2), drawn with reportlab.

One A4 page: the seller, the subscriber (name, RUT), the payment (id, date, Stripe event),
the tier bought and the period it covers, the amount in CLP with its net and 19% IVA
(Chile's VAT, included in the tier's price). Nothing is stored: the PDF is drawn from the
``pagos`` row whenever asked, so it always says what the database says.

Example::

    pdf = invoice_pdf(engine, payment_id)        # bytes, starting with %PDF
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from rescore.exceptions import NotFound
from rescore.packs.sdk import source_read
from rescore.packs.tenders.schema import payments, subscribers
from rescore.packs.tenders.tiers import catalog

if TYPE_CHECKING:
    from rescore.engine import Engine

__all__ = ["SELLER", "invoice_data", "invoice_pdf", "money", "render"]

SELLER = "CompraAgil SpA"
#: Chile's IVA, included in the prices.
VAT = 0.19


def money(amount: int) -> str:
    """Chilean pesos as people write them: ``$9.990``."""
    return f"${amount:,}".replace(",", ".")


def invoice_data(engine: Engine, payment_id: str) -> dict[str, Any]:
    """What the invoice says: the payment and its subscriber; :class:`NotFound` for an
    unknown payment, or a failed one (nothing was paid)."""
    p, s = payments.c, subscribers.c
    query = (
        select(p.id, p.evento_id, p.tier, p.monto_clp, p.estado, p.creado_en, p.vence_en)
        .add_columns(s.nombre, s.rut)
        .join(subscribers, s.id == p.suscriptor_id)
        .where(p.id == payment_id)
    )
    with source_read(engine) as conn:
        row = conn.execute(query).mappings().first()
    if row is None or row["estado"] != "pagado":
        raise NotFound(f"no paid payment {payment_id!r}", field="pago_id")
    return dict(row)


def invoice_pdf(engine: Engine, payment_id: str, *, compress: bool = True) -> bytes:
    """The invoice of a paid payment as PDF bytes."""
    return render(invoice_data(engine, payment_id), compress=compress)


def render(data: dict[str, Any], *, compress: bool = True) -> bytes:
    """Draw the invoice (``compress=False`` leaves the page's text readable in the bytes)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    out = io.BytesIO()
    page = Canvas(out, pagesize=A4, pageCompression=1 if compress else 0)
    page.setTitle(f"Boleta {data['id']}")
    page.setAuthor(SELLER)
    y = A4[1] - 72
    for size, text in _lines(data):
        page.setFont("Helvetica-Bold" if size > 11 else "Helvetica", size)
        page.drawString(72, y, text)
        y -= size + 8
    page.showPage()
    page.save()
    return out.getvalue()


def _lines(data: dict[str, Any]) -> list[tuple[int, str]]:
    amount = int(data["monto_clp"])
    net = round(amount / (1 + VAT))
    label = catalog().tier(str(data["tier"])).label
    return [
        (18, f"{SELLER} - Boleta de servicio"),
        (10, f"Pago {data['id']}  (evento {data['evento_id']})"),
        (10, f"Fecha: {_day(data['creado_en'])}"),
        (12, f"Cliente: {data['nombre']}  RUT {data['rut']}"),
        (12, f"Plan {label}, periodo {_day(data['creado_en'])} al {_day(data['vence_en'])}"),
        (10, f"Neto: {money(net)} CLP"),
        (10, f"IVA (19%): {money(amount - net)} CLP"),
        (14, f"Total: {money(amount)} CLP"),
    ]


def _day(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%d-%m-%Y")
