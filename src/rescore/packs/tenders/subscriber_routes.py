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
SUBSCRIBER = "4462ebfc-5f91-5ef0-9cfb-ac6e7687a66e"
MEDIA = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
PROPOSAL = {
    "id": "0b8a6f0e-3d1c-4a57-9a43-8f1c2b7d9e10",
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
    "id": "5cfbd9ac-3d61-4f60-a239-5a402ea5262b",
    "tipo": "export",
    "suscriptor_id": SUBSCRIBER,
    "chat_id": None,
    "parametros": {"fuente": "busqueda", "consulta": "guantes nitrilo", "formato": "xlsx"},
    "estado": "en_curso",
    "intentos": 1,
    "progreso": 12000,
    "total": 50000,
    "porcentaje": 24.0,
    "resultado": None,
    "error": None,
    "creado_en": "2026-11-30T12:00:00",
    "actualizado_en": "2026-11-30T12:00:03",
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
        formato: Literal["pdf", "docx"],
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

    @routes.post("/exportaciones", status_code=202, responses=ok(JOB, *POSTED, 403, 404, 429, 503))
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
        responses={200: {"content": {"application/octet-stream": {}}}, **errors(*AUTH, 404, 503)},
        response_class=FileResponse,
    )
    def download(
        who: Reader,
        state: State,
        trabajo_id: Annotated[Uuid, Path(openapi_examples=example_body(JOB["id"]))],
    ) -> FileResponse:
        """The finished job's file (404 while it is not ready)."""
        path = _file(pack, Service(pack, state.engine).queue.status(trabajo_id))
        return FileResponse(path, filename=path.name)

    return routes


def _job(service: Service, job_id: str) -> dict[str, Any]:
    found = service.queue.status(job_id)
    ready = (found["resultado"] or {}).get("archivo")
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
