"""Proposal drafts, exports and jobs over HTTP, under ``/v1/packs/tenders``.

- ``POST /propuestas`` (write): write and store a draft for a subscriber and a tender (one
  unit of its monthly ``proposals`` quota: 403 outside PYME/PROFESIONAL, 429 when spent).
- ``GET /propuestas/{id}`` (read) and ``GET /propuestas/{id}.pdf`` / ``.docx`` (read): the
  draft, and the letter as a file.
- ``POST /exportaciones`` (write): queue an export (``exports`` quota), 202 with the job.
- ``GET /trabajos/{id}`` (read): a job's state and progress (rows written of the total);
  ``GET /trabajos/{id}/archivo`` (read): the finished file (the download link).
"""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from rescore.exceptions import NotFound
from rescore.packs.sdk import AUTH, POSTED, Reader, State, Writer, errors, example_body, ok
from rescore.packs.tenders import tiers
from rescore.packs.tenders.service import Service

if TYPE_CHECKING:
    from rescore.packs.tenders.pack import TendersPack

__all__ = ["router"]

Uuid = Annotated[StrictStr, Field(pattern=r"^[0-9a-fA-F\-]{36}$")]
Code = Annotated[StrictStr, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9\-]+$")]
Text = Annotated[StrictStr, Field(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]
#: The demo's (``rescore init --demo-data``, seed 7) PYME subscriber, draft and finished job.
SUBSCRIBER = "283b73a6-6c2e-a417-b99d-e255f3868254"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MEDIA = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
PROPOSAL = {
    "id": "7b89296c-6dcb-ac50-0857-7eb1924770d3",
    "suscriptor_id": SUBSCRIBER,
    "codigo_licitacion": "2000-1-COT26",
    "creado_en": "2026-11-30T12:00:00",
    "modelo": "offline",
    "secciones": {
        "comprension": "Hospital Regional (Región del Biobío) requiere 120 unidades de ...",
        "experiencia": "Hemos sido adjudicados en 14 cotizaciones de Compra Ágil por ...",
        "solucion": "Ofrecemos 120 unidades de Guantes de nitrilo caja 100 conforme ...",
        "cronograma": [
            {"etapa": "Envío de la oferta en el portal ChileCompra", "fecha": "2026-12-07"}
        ],
    },
    "licitacion": {
        "nombre": "Guantes de nitrilo",
        "organismo": "Hospital Regional",
        "region": "Región del Biobío",
    },
    "empresa": {"nombre": "Insumos Sur SpA", "rut": "76543210-3"},
}
JOB = {
    "id": "766bad07-34c2-da80-03cc-0f2793fdcab8",
    "tipo": "propuesta",
    "suscriptor_id": SUBSCRIBER,
    "chat_id": 100000002,
    "parametros": {"codigo": "2000-1-COT26"},
    "estado": "listo",
    "intentos": 1,
    "progreso": 0,
    "total": None,
    "porcentaje": None,
    "resultado": {
        "texto": "Propuesta generada. Revísala y personalízala antes de enviar.",
        "propuesta_id": "7b89296c-6dcb-ac50-0857-7eb1924770d3",
    },
    "error": None,
    "creado_en": "2026-11-30T12:00:00",
    "actualizado_en": "2026-11-30T12:00:00",
    "descarga": "/v1/packs/tenders/trabajos/766bad07-34c2-da80-03cc-0f2793fdcab8/archivo",
}

#: ``POST /exportaciones``' answer on the demo data: the export queued.
QUEUED = JOB | {
    "id": "1f0c9e52-8a8e-4c1b-9d0a-3e6f2b7c4d51",
    "tipo": "export",
    "chat_id": None,
    "parametros": {"fuente": "busqueda", "consulta": "guantes nitrilo", "formato": "xlsx"},
    "estado": "pendiente",
    "intentos": 0,
    "resultado": None,
    "descarga": None,
}


class ProposalIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    suscriptor_id: Uuid
    codigo_licitacion: Code


class ExportIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    suscriptor_id: Uuid
    fuente: Literal["busqueda", "precio", "alertas"] = Field(
        description="busqueda: history lines of the products `texto` finds; precio: the price "
        "analysis of `texto`; alertas: open tenders the subscriber's profiles match."
    )
    texto: Text = ""
    formato: Literal["xlsx", "pdf"] = "xlsx"


def router(pack: TendersPack) -> APIRouter:
    """The routes, bound to ``pack``."""
    routes = APIRouter(tags=["tenders (seed 001)"])

    @routes.post("/propuestas", responses=ok(PROPOSAL, *POSTED, 403, 404, 429, 503))
    def create(
        body: Annotated[
            ProposalIn,
            Body(
                openapi_examples=example_body(
                    {"suscriptor_id": SUBSCRIBER, "codigo_licitacion": "2000-1-COT26"}
                )
            ),
        ],
        who: Writer,
        state: State,
    ) -> dict[str, Any]:
        """Write a formal proposal letter (seed 001's four points) for the subscriber and the
        tender, store it, and charge one unit of the subscriber's ``proposals`` quota."""
        return Service(pack, state.engine).draft_proposal(
            body.suscriptor_id, body.codigo_licitacion
        )

    @routes.get(
        "/propuestas/{propuesta_id}.{formato}",
        responses={200: {"content": {m: {} for m in MEDIA.values()}}, **errors(*AUTH, 404, 503)},
        response_class=Response,
    )
    def document(
        who: Reader,
        state: State,
        propuesta_id: Annotated[Uuid, Path(openapi_examples=example_body(PROPOSAL["id"]))],
        formato: Annotated[Literal["pdf", "docx"], Path(openapi_examples=example_body("pdf"))],
    ) -> Response:
        """The draft as a PDF or a Word document."""
        data = Service(pack, state.engine).proposal_file(propuesta_id, formato)
        name = f"propuesta_{propuesta_id}.{formato}"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        return Response(data, media_type=MEDIA[formato], headers=headers)

    @routes.get("/propuestas/{propuesta_id}", responses=ok(PROPOSAL, *AUTH, 404, 503))
    def proposal(
        who: Reader,
        state: State,
        propuesta_id: Annotated[Uuid, Path(openapi_examples=example_body(PROPOSAL["id"]))],
    ) -> dict[str, Any]:
        """A stored draft."""
        return Service(pack, state.engine).proposal(propuesta_id)

    queued: dict[int | str, dict[str, Any]] = {
        202: {"content": {"application/json": {"example": QUEUED}}},
        **errors(*POSTED, 403, 404, 429, 503),
    }

    @routes.post("/exportaciones", status_code=202, responses=queued)
    def export(
        body: Annotated[
            ExportIn,
            Body(
                openapi_examples=example_body(
                    {"suscriptor_id": SUBSCRIBER, "fuente": "busqueda", "texto": "guantes nitrilo"}
                )
            ),
        ],
        who: Writer,
        state: State,
    ) -> dict[str, Any]:
        """Queue an export (one unit of the monthly ``exports`` quota); follow it at
        ``GET /trabajos/{id}``, download it at ``GET /trabajos/{id}/archivo``."""
        service = Service(pack, state.engine)
        key = "consulta" if body.fuente == "busqueda" else "producto"
        params = {"fuente": body.fuente, key: body.texto, "formato": body.formato}
        with tiers.charged(state.engine, body.suscriptor_id, "exports"):
            job_id = service.submit("export", body.suscriptor_id, params)
        return _job(service, job_id)

    @routes.get("/trabajos/{trabajo_id}", responses=ok(JOB, *AUTH, 404, 503))
    def job(
        who: Reader,
        state: State,
        trabajo_id: Annotated[Uuid, Path(openapi_examples=example_body(JOB["id"]))],
    ) -> dict[str, Any]:
        """A job: state, attempts, progress (rows written of the total), result or error."""
        return _job(Service(pack, state.engine), trabajo_id)

    @routes.get(
        "/trabajos/{trabajo_id}/archivo",
        responses={
            200: {"content": {"application/pdf": {}, XLSX: {}}},
            **errors(*AUTH, 404, 503),
        },
        response_class=Response,
    )
    def download(
        who: Reader,
        state: State,
        trabajo_id: Annotated[Uuid, Path(openapi_examples=example_body(JOB["id"]))],
    ) -> Response:
        """The finished job's file: an export's workbook or PDF, a proposal's letter (404
        while the job is not done)."""
        service = Service(pack, state.engine)
        found = service.queue.status(trabajo_id)
        draft = (found["resultado"] or {}).get("propuesta_id")
        if found["estado"] == "listo" and draft:
            name = f'attachment; filename="propuesta_{found["parametros"]["codigo"]}.pdf"'
            data = service.proposal_file(draft, "pdf")
            return Response(data, media_type=MEDIA["pdf"], headers={"Content-Disposition": name})
        path = _file(pack, found)
        return FileResponse(path, filename=path.name)

    return routes


def _job(service: Service, job_id: str) -> dict[str, Any]:
    found = service.queue.status(job_id)
    result = found["resultado"] or {}
    ready = found["estado"] == "listo" and (result.get("archivo") or result.get("propuesta_id"))
    found["descarga"] = f"/v1/packs/tenders/trabajos/{job_id}/archivo" if ready else None
    return found


def _file(pack: TendersPack, found: dict[str, Any]) -> FilePath:
    """The job's file, only from under the exports folder."""
    name = (found["resultado"] or {}).get("archivo")
    if found["estado"] != "listo" or not name:
        raise NotFound(f"job {found['id']} has no file yet ({found['estado']})", field="trabajo_id")
    path = FilePath(name).resolve()
    if not path.is_relative_to(pack.settings.exports_dir.resolve()) or not path.exists():
        raise NotFound(f"job {found['id']}'s file is gone", field="trabajo_id")
    return path
