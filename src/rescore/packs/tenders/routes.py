"""Seed 001's price analysis and search over HTTP, under ``/v1/packs/tenders``.

- ``GET /precio?producto=&organismo=&region=&as_of=`` (read): ``analizar_precio_optimo_v2``,
  cached (Redis when configured; hits and misses in ``/metrics`` as
  ``rescore_tenders_price_cache_total``).
- ``GET /search?q=&limit=`` (read): product names in the history like ``q``, best first.
- ``GET /imports`` (read): the monthly files imported, with their counts.

``/precio`` and ``/search`` take ``?suscriptor_id=`` (or the ``X-Suscriptor-Id`` header) to
charge a subscriber's quota (:mod:`.tiers_routes`): 403 for a tier without the feature, 429
with ``Retry-After`` once the day's quota is spent.

A bad parameter is a 422 naming it; a region must be one of the sixteen as ChileCompra writes
them (``Región del Biobío``).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from rescore.exceptions import InvalidInput
from rescore.packs.sdk import AUTH, Reader, State, example_body, ok, source_read
from rescore.packs.tenders import examples as ex
from rescore.packs.tenders.analysis import PriceQuery
from rescore.packs.tenders.catalog import REGIONS
from rescore.packs.tenders.schema import imports
from rescore.packs.tenders.search import search
from rescore.packs.tenders.tiers import charged
from rescore.packs.tenders.tiers_routes import WITH_METRICS, Charged

if TYPE_CHECKING:
    from rescore.packs.sdk import ApiState
    from rescore.packs.tenders.pack import TendersPack

__all__ = ["router"]

DAY = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
#: No control characters (a NUL cannot be searched for, nor stored on PostgreSQL).
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"


def router(pack: TendersPack) -> APIRouter:
    """The pack's routes, bound to ``pack``."""
    routes = APIRouter(tags=["tenders (seed 001)"], dependencies=WITH_METRICS)
    watched: set[int] = set()

    def _watch(state: ApiState) -> None:
        """Put the cache's counts in this service's ``/metrics`` (once per registry)."""
        from rescore.packs.sdk import metrics_registry

        registry = metrics_registry(state.engine)
        if registry is not None and id(registry) not in watched:
            registry.register(pack.cache.collector())
            watched.add(id(registry))

    @routes.get("/precio", responses=ok(ex.PRECIO, *AUTH, 403, 404, 429, 503))
    def precio(
        who: Reader,
        state: State,
        payer: Charged,
        producto: Annotated[
            str,
            Query(
                min_length=1,
                max_length=200,
                pattern=PRINTABLE,
                openapi_examples=example_body("guantes nitrilo"),
            ),
        ],
        organismo: Annotated[
            str | None,
            Query(
                min_length=1,
                max_length=200,
                pattern=PRINTABLE,
                openapi_examples=example_body("Hospital Regional"),
            ),
        ] = None,
        region: Annotated[
            str | None, Query(max_length=80, description="e.g. Región del Biobío")
        ] = None,
        as_of: Annotated[
            str | None, Query(pattern=DAY, description="YYYY-MM-DD; default today")
        ] = None,
    ) -> dict[str, Any]:
        """Seed 001's ``analizar_precio_optimo_v2``: suggested (P40), competitive (P25) and
        safe (P60) unit prices of similar winning quotes of the two years before ``as_of``,
        insights computed from the data, the five most frequent competitors."""
        _watch(state)
        query = PriceQuery(
            producto=_text(producto, "query.producto"),
            organismo=organismo.strip() or None if organismo else None,
            region=_region(region),
            as_of=_day(as_of) or pack.as_of().date(),
        )
        with charged(state.engine, payer, "price_analysis"), source_read(state.engine) as conn:
            return pack.price_analysis(conn, query)

    @routes.get("/search", responses=ok(ex.SEARCH, *AUTH, 403, 404, 429, 503))
    def search_(
        who: Reader,
        state: State,
        payer: Charged,
        q: Annotated[
            str,
            Query(
                min_length=1,
                max_length=200,
                pattern=PRINTABLE,
                openapi_examples=example_body("guantes nitrilo"),
            ),
        ],
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
    ) -> dict[str, Any]:
        """Product names in the history like ``q`` (fuzzy), best first, with how often and
        until when each was quoted."""
        text = _text(q, "query.q")
        with charged(state.engine, payer, "search"), source_read(state.engine) as conn:
            return search(conn, text, limit)

    @routes.get("/imports", responses=ok(ex.IMPORTS, *AUTH, 503))
    def imported(who: Reader, state: State) -> dict[str, Any]:
        """The monthly files imported into the history, newest first, with their counts."""
        query = select(imports).order_by(imports.c.archivo.desc())
        with source_read(state.engine) as conn:
            rows = conn.execute(query).mappings().all()
        return {"archivos": [_import_row(dict(r)) for r in rows]}

    return routes


def _text(value: str, field: str) -> str:
    if not value.strip():
        raise InvalidInput("must not be blank", field=field)
    return value.strip()


def _region(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    if value not in REGIONS:
        raise InvalidInput("not a Chilean region as ChileCompra writes it", field="query.region")
    return value


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput("not a real date (YYYY-MM-DD)", field="query.as_of") from None


def _import_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "archivo": row["archivo"],
        "filas_nuevas": row["filas_nuevas"],
        "filas_duplicadas": row["filas_duplicadas"],
        "filas_rechazadas": row["filas_rechazadas"],
        "importado_en": row["importado_en"].isoformat() + "Z",
    }
