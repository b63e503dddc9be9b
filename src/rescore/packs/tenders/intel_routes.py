"""Win probability and alert profiles over HTTP, under ``/v1/packs/tenders``.

- ``POST /probabilidad`` (read): the chance a quote wins a tender (seed 001's ``/scoring``),
  its factors and the price ratios that reach higher chances.
- ``GET /perfiles?suscriptor_id=`` (read), ``POST /perfiles`` (write), ``DELETE
  /perfiles/{perfil_id}`` (write): a subscriber's alert profiles, semantic ("Vendo laptops
  HP") or keyword ("notebook, tablet").
- ``POST /probabilidad`` charges ``win_probability`` to ``?suscriptor_id=`` (or the
  ``X-Suscriptor-Id`` header) when given; ``POST /perfiles`` refuses (403) a profile past the
  subscriber's tier's limit of active ones of that kind (keyword 3/10/unlimited, semantic
  PYME and up).
- ``GET /coincidencias?texto=`` (read): which subscribers a tender saying ``texto`` would alert
  now, and by which profile (seed 001's ``/alertas_ia`` preview).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

from rescore.packs.sdk import (
    AUTH,
    POSTED,
    Reader,
    State,
    Writer,
    example_body,
    ok,
    source_read,
    source_write,
)
from rescore.packs.tenders import intel_examples as ex
from rescore.packs.tenders.alerts import threshold_for
from rescore.packs.tenders.intel import Quote
from rescore.packs.tenders.tiers import charged, require_profile_room
from rescore.packs.tenders.tiers_routes import WITH_METRICS, Charged

if TYPE_CHECKING:
    from rescore.packs.tenders.pack import TendersPack

__all__ = ["router"]

Code = Annotated[StrictStr, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9\-]+$")]
Rut = Annotated[StrictStr, Field(pattern=r"^[0-9]{7,8}-[0-9Kk]$")]
Uuid = Annotated[StrictStr, Field(pattern=r"^[0-9a-fA-F\-]{36}$")]
Money = Annotated[StrictFloat | StrictInt, Field(gt=0, le=1e12, allow_inf_nan=False)]
#: No control characters (PostgreSQL refuses NUL in text; none belongs in a profile anyway).
PLAIN = r"^[^\x00-\x1f\x7f]+$"
Text = Annotated[StrictStr, Field(min_length=1, max_length=500, pattern=PLAIN)]


class QuoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    codigo_licitacion: Code
    rut_proveedor: Rut
    precio_unitario: Money = Field(description="The unit price the supplier would quote (CLP).")
    region_proveedor: Annotated[StrictStr, Field(max_length=60, pattern=PLAIN)] | None = Field(
        None, description="The supplier's home region; default: from its history."
    )
    tamano_proveedor: Literal["micro", "pequena", "mediana", "grande"] | None = None
    competidores: Annotated[StrictFloat | StrictInt, Field(ge=0, le=500)] | None = Field(
        None, description="Other suppliers expected; default: the category's average."
    )

    def quote(self) -> Quote:
        return Quote(
            codigo=self.codigo_licitacion,
            rut_proveedor=self.rut_proveedor.upper(),
            precio_unitario=float(self.precio_unitario),
            region_proveedor=self.region_proveedor,
            tamano_proveedor=self.tamano_proveedor,
            competidores=None if self.competidores is None else float(self.competidores),
        )


class ProfileIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    suscriptor_id: Uuid
    tipo: Literal["semantic", "keyword"] = "semantic"
    texto: Text = Field(description="What it sells (semantic) or comma-separated keywords.")
    umbral: Annotated[StrictFloat | StrictInt, Field(ge=-1, le=1)] | None = Field(
        None, description="Cosine similarity a tender must reach; default: the embedder's."
    )


def router(pack: TendersPack) -> APIRouter:
    """The routes, bound to ``pack``."""
    routes = APIRouter(tags=["tenders (seed 001)"], dependencies=WITH_METRICS)

    @routes.post("/probabilidad", responses=ok(ex.PREDICTION, *POSTED, 403, 404, 429, 503))
    def probability(
        body: Annotated[QuoteIn, Body(openapi_examples=example_body(ex.QUOTE))],
        who: Reader,
        state: State,
        payer: Charged,
    ) -> dict[str, Any]:
        """The chance this quote wins the tender, why, and the price ratios that would raise it."""
        paid = charged(state.engine, payer, "win_probability")
        with paid, source_read(state.engine) as conn:
            return pack.intel.predict(conn, body.quote())

    @routes.get("/perfiles", responses=ok(ex.PROFILES, *AUTH, 503))
    def profiles(
        who: Reader,
        state: State,
        suscriptor_id: Annotated[
            Uuid | None, Query(openapi_examples=example_body(ex.SUBSCRIBER))
        ] = None,
    ) -> dict[str, Any]:
        """Active alert profiles, of one subscriber or all."""
        with source_read(state.engine) as conn:
            found = pack.intel.list_profiles(conn, suscriptor_id)
        return {"perfiles": found, "count": len(found)}

    @routes.post("/perfiles", responses=ok(ex.PROFILE_MADE, *POSTED, 403, 404, 503))
    def create(
        body: Annotated[ProfileIn, Body(openapi_examples=example_body(ex.NEW_PROFILE))],
        who: Writer,
        state: State,
    ) -> dict[str, Any]:
        """Add an alert profile: new tenders that match it alert its subscriber, and so do the
        open ones (``licitaciones_abiertas`` of them are matched again in the background); as
        many active as the subscriber's tier allows (403 past it)."""
        umbral = None if body.umbral is None else float(body.umbral)
        with source_write(state.engine) as conn:
            require_profile_room(state.engine, conn, body.suscriptor_id, body.tipo)
            made = pack.intel.create_profile(
                conn, body.suscriptor_id, body.tipo, body.texto, umbral, pack.as_of()
            )
        reopened = pack.intel.rematch_open(state.engine, made, tenant=who.tenant)
        return made | {"licitaciones_abiertas": reopened}

    @routes.delete("/perfiles/{perfil_id}", responses=ok(ex.DELETED, *AUTH, 404, 503))
    def remove(
        who: Writer,
        state: State,
        perfil_id: Annotated[Uuid, Path(openapi_examples=example_body(ex.PROFILE))],
    ) -> dict[str, Any]:
        """Remove an alert profile."""
        with source_write(state.engine) as conn:
            pack.intel.delete_profile(conn, perfil_id)
        return {"perfil_id": perfil_id, "deleted": True}

    @routes.get("/coincidencias", responses=ok(ex.MATCHES, *AUTH, 503))
    def matches(
        who: Reader,
        state: State,
        texto: Annotated[Text, Query(openapi_examples=example_body(ex.MATCHES["texto"]))],
    ) -> dict[str, Any]:
        """The subscribers a tender saying ``texto`` would alert now, best profile each."""
        with source_read(state.engine) as conn:
            index, found = pack.intel.would_alert(conn, texto)
        name = index.embedder.name
        return {
            "texto": texto,
            "embedder": name,
            "umbral": threshold_for(name),
            "suscriptores": [m.as_dict() for m in found],
        }

    return routes
