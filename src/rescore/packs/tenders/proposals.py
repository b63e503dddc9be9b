"""Proposal drafts (seed 001's ``generar_propuesta``): a formal letter for a tender, from the
tender, the subscriber's company profile and its past awards.

The letter has the seed's four points, each a section of :class:`Sections`: understanding of
the requirements (``comprension``), relevant experience (``experiencia``), a concrete solution
(``solucion``) and a realistic schedule (``cronograma``, dated milestones). A language model
writes them through the core's :class:`rescore.llm.LanguageModel` (``generate_json`` with this
schema, so a malformed answer is refused by the core after its retries); with no model the
offline writer composes them from templates and the data (the item, the amounts, the
subscriber's awards and regions, milestones from the tender's dates), so the feature works
with no key::

    with source_read(engine) as conn:
        context = load_context(conn, subscriber_id, "1057-12-COT24")
    sections, by = write_sections(context, model=None)      # offline
    with source_write(engine) as conn:
        view = store(conn, context, sections, by, now)

Drafts are stored per subscriber in ``propuestas`` and rendered as PDF or DOCX by
:mod:`.documents`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, func, insert, select

from rescore.exceptions import NotFound
from rescore.packs.tenders.schema import history, proposals, subscribers, tenders

if TYPE_CHECKING:
    from rescore.llm import LanguageModel

__all__ = [
    "Context",
    "Milestone",
    "Sections",
    "find_subscriber",
    "get",
    "load_context",
    "offline_sections",
    "prompt_for",
    "store",
    "write_sections",
]

OFFLINE = "offline"


class Milestone(BaseModel):
    """One dated step of the schedule."""

    model_config = ConfigDict(extra="forbid")

    etapa: str = Field(min_length=3, max_length=300)
    fecha: date


class Sections(BaseModel):
    """The four points of seed 001's prompt; what a model must answer (JSON)."""

    model_config = ConfigDict(extra="forbid")

    comprension: str = Field(min_length=40, description="Understanding of the requirements.")
    experiencia: str = Field(min_length=40, description="Relevant experience.")
    solucion: str = Field(min_length=40, description="The concrete solution offered.")
    cronograma: list[Milestone] = Field(min_length=2, description="A realistic schedule.")


@dataclass(frozen=True, kw_only=True, slots=True)
class Awards:
    """What the subscriber's RUT won in the history."""

    count: int
    amount: int
    regions: list[str]
    in_category: int
    products: list[str]


@dataclass(frozen=True, kw_only=True, slots=True)
class Context:
    """Everything a draft is written from."""

    tender: dict[str, Any]
    subscriber: dict[str, Any]
    awards: Awards


def find_subscriber(conn: Connection, who: str) -> dict[str, Any]:
    """A subscriber by id or RUT; :class:`NotFound` naming ``suscriptor``."""
    s = subscribers.c
    row = conn.execute(select(subscribers).where((s.id == who) | (s.rut == who.upper()))).first()
    if row is None:
        raise NotFound(f"no subscriber {who!r}", field="suscriptor")
    return dict(row._mapping)


def load_context(conn: Connection, who: str, codigo: str) -> Context:
    """The tender ``codigo``, the subscriber ``who`` (id or RUT) and its past awards."""
    tender = conn.execute(select(tenders).where(tenders.c.codigo == codigo)).first()
    if tender is None:
        raise NotFound(f"no tender {codigo!r}", field="codigo_licitacion")
    subscriber = find_subscriber(conn, who)
    return Context(
        tender=dict(tender._mapping),
        subscriber=subscriber,
        awards=_awards(conn, subscriber["rut"], tender.categoria),
    )


def _awards(conn: Connection, rut: str, category: str) -> Awards:
    h = history.c
    won = [h.rut_proveedor == rut, h.es_ganador]
    count, amount = conn.execute(
        select(func.count(), func.coalesce(func.sum(h.monto_total), 0)).where(*won)
    ).one()
    regions = conn.execute(
        select(h.region).where(*won).group_by(h.region).order_by(func.count().desc()).limit(4)
    ).scalars()
    in_category = conn.execute(
        select(func.count()).where(*won, h.categoria == category)
    ).scalar_one()
    top = (
        select(h.producto_cotizado)
        .where(*won)
        .group_by(h.producto_cotizado)
        .order_by(func.count().desc(), h.producto_cotizado)
        .limit(3)
    )
    return Awards(
        count=int(count),
        amount=int(amount),
        regions=list(regions),
        in_category=int(in_category),
        products=list(conn.execute(top).scalars()),
    )


def clp(amount: float) -> str:
    """Chilean pesos as written in Chile: ``$1.234.567``."""
    return "$" + f"{round(amount):,}".replace(",", ".")


def _quantity(value: float) -> str:
    return f"{value:,.0f}".replace(",", ".") if value == int(value) else f"{value:,.2f}"


def offline_sections(context: Context) -> Sections:
    """The four sections composed from templates and the data (no model needed)."""
    return Sections(
        comprension=_understanding(context.tender),
        experiencia=_experience(context),
        solucion=_solution(context),
        cronograma=schedule(context.tender),
    )


def _understanding(t: dict[str, Any]) -> str:
    budget = (
        f" con un presupuesto estimado de {clp(t['monto_estimado'])}"
        if t.get("monto_estimado")
        else ""
    )
    detail = (
        f" Las especificaciones indican: {t['descripcion'].strip()}" if t["descripcion"] else ""
    )
    return (
        f"{t['organismo']} ({t['region']}) requiere {_quantity(float(t['cantidad']))} "
        f"unidades de {t['producto']}, en la categoría {t['categoria']}, para la solicitud "
        f"«{t['nombre']}»{budget}. Entendemos que la entrega debe cumplir las "
        f"especificaciones técnicas publicadas y que las ofertas se reciben hasta el "
        f"{_day(t['fecha_cierre'])}.{detail}"
    )


def _experience(context: Context) -> str:
    s, a = context.subscriber, context.awards
    profile = s["descripcion_empresa"].strip() or f"{s['nombre']} es proveedor del Estado"
    if a.count == 0:
        record = (
            "Aún no registramos adjudicaciones en Compra Ágil; esta oferta es nuestra "
            "presentación ante el organismo y respondemos con garantía de cumplimiento."
        )
    else:
        regions = ", ".join(a.regions) if a.regions else "distintas regiones"
        products = "; ".join(a.products)
        record = (
            f"Hemos sido adjudicados en {a.count} cotizaciones de Compra Ágil por un total de "
            f"{clp(a.amount)}, {a.in_category} de ellas en la categoría "
            f"{context.tender['categoria']}, para organismos de {regions}. Entre lo provisto "
            f"destacan: {products}."
        )
    return f"{profile.rstrip('.')}. {record}"


def _solution(context: Context) -> str:
    t, s = context.tender, context.subscriber
    local = s.get("region") == t["region"]
    where = (
        f"Al operar en {t['region']}, despachamos directamente al organismo"
        if local
        else f"Coordinamos el despacho a {t['region']} con transporte asegurado"
    )
    return (
        f"Ofrecemos {_quantity(float(t['cantidad']))} unidades de {t['producto']} conforme "
        f"a las especificaciones, con entrega en una sola partida y documentación de "
        f"garantía. {where}, y designamos un contacto único para recepción conforme, "
        f"facturación y cualquier reposición durante el período de garantía."
    )


def schedule(t: dict[str, Any]) -> list[Milestone]:
    """Milestones from the tender's dates: the offer by closing, the award about five working
    days later, delivery within ten days of the purchase order, acceptance after that."""
    closing = (
        t["fecha_cierre"].date() if isinstance(t["fecha_cierre"], datetime) else t["fecha_cierre"]
    )
    award = _working_days(closing, 5)
    delivery = _working_days(award, 10)
    return [
        Milestone(etapa="Envío de la oferta en el portal ChileCompra", fecha=closing),
        Milestone(etapa="Adjudicación estimada y recepción de la orden de compra", fecha=award),
        Milestone(etapa=f"Entrega de {t['producto']} en {t['organismo']}", fecha=delivery),
        Milestone(etapa="Recepción conforme y facturación", fecha=_working_days(delivery, 3)),
    ]


def _working_days(start: date, days: int) -> date:
    day = start
    while days:
        day += timedelta(days=1)
        days -= day.weekday() < 5
    return day


def _day(value: datetime | date) -> str:
    return value.strftime("%d-%m-%Y")


def prompt_for(context: Context) -> str:
    """Seed 001's prompt, with the data, asking for the four sections as JSON."""
    t, s, a = context.tender, context.subscriber, context.awards
    budget = clp(t["monto_estimado"]) if t.get("monto_estimado") else "no informado"
    return (
        "Eres un experto en licitaciones públicas chilenas.\n\n"
        f"LICITACIÓN {t['codigo']}: {t['nombre']}\nOrganismo: {t['organismo']} ({t['region']})\n"
        f"Producto: {t['producto']}, cantidad {_quantity(float(t['cantidad']))}\n"
        f"Presupuesto: {budget}\nCierre: {_day(t['fecha_cierre'])}\n"
        f"Requisitos técnicos:\n{t['descripcion'] or '(sin especificaciones)'}\n\n"
        f"EMPRESA: {s['nombre']} (RUT {s['rut']}, {s.get('region') or 'región no informada'})\n"
        f"{s['descripcion_empresa']}\n"
        f"Experiencia previa: {a.count} adjudicaciones por {clp(a.amount)}, "
        f"{a.in_category} en {t['categoria']}; regiones: {', '.join(a.regions) or 'ninguna'}; "
        f"productos: {', '.join(a.products) or 'ninguno'}\n\n"
        "Genera una propuesta técnica profesional, carta formal para el portal ChileCompra, "
        "que: 1. demuestre comprensión de los requisitos, 2. destaque nuestra experiencia "
        "relevante, 3. proponga una solución concreta, 4. incluya un cronograma realista.\n"
        'Responde solo JSON: {"comprension": str, "experiencia": str, "solucion": str, '
        '"cronograma": [{"etapa": str, "fecha": "AAAA-MM-DD"}, ...]}'
    )


def write_sections(context: Context, model: LanguageModel | None) -> tuple[Sections, str]:
    """The sections and who wrote them (``offline`` or the model's name)."""
    if model is None:
        return offline_sections(context), OFFLINE
    return model.generate_json(prompt_for(context), Sections), model.name


def store(
    conn: Connection,
    context: Context,
    sections: Sections,
    by: str,
    now: datetime,
    draft_id: str | None = None,
) -> dict[str, Any]:
    """Save the draft for its subscriber (``draft_id``: a chosen id, e.g. the demo's); its
    view."""
    row = {
        "id": draft_id or str(uuid.uuid4()),
        "suscriptor_id": context.subscriber["id"],
        "codigo_licitacion": context.tender["codigo"],
        "creado_en": now,
        "modelo": by,
        "secciones": sections.model_dump_json(),
    }
    conn.execute(insert(proposals), [row])
    return _view(row, context.tender, context.subscriber)


def get(conn: Connection, proposal_id: str) -> dict[str, Any]:
    """A stored draft with what its letter needs (the tender, the subscriber)."""
    row = conn.execute(select(proposals).where(proposals.c.id == proposal_id)).first()
    if row is None:
        raise NotFound(f"no proposal {proposal_id!r}", field="propuesta_id")
    found = dict(row._mapping)
    tender = conn.execute(
        select(tenders).where(tenders.c.codigo == found["codigo_licitacion"])
    ).first()
    subscriber = find_subscriber(conn, found["suscriptor_id"])
    return _view(found, dict(tender._mapping) if tender else {}, subscriber)


def _view(
    row: dict[str, Any], tender: dict[str, Any], subscriber: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": row["id"],
        "suscriptor_id": row["suscriptor_id"],
        "codigo_licitacion": row["codigo_licitacion"],
        "creado_en": row["creado_en"].isoformat(),
        "modelo": row["modelo"],
        "secciones": orjson.loads(row["secciones"]),
        "licitacion": _letter_fields(tender, ("nombre", "organismo", "region")),
        "empresa": _letter_fields(subscriber, ("nombre", "rut")),
    }


def _letter_fields(row: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    return {k: row.get(k) for k in keys}
