"""The subscriber side's operations, one place for the HTTP routes, the CLI and the bot:
proposal drafts (counted against the ``proposals`` quota), and the job handlers the workers
run (price analysis, win scoring, proposal, export).

Every front end goes through :class:`Service`, so a proposal asked over HTTP and one asked
in Telegram are written, stored, counted and rendered the same way::

    service = Service(pack, engine)
    view = service.draft_proposal("12345678-5", "1057-12-COT24")       # stored, counted
    pdf = service.proposal_file(view["id"], "pdf")
"""

from __future__ import annotations

import re
import uuid
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rescore.exceptions import InvalidInput, NotFound
from rescore.packs.sdk import source_read, source_write
from rescore.packs.tenders import exports, messages, proposals, tiers
from rescore.packs.tenders.analysis import PriceQuery
from rescore.packs.tenders.documents import proposal_docx, proposal_pdf
from rescore.packs.tenders.intel import Quote
from rescore.packs.tenders.jobs import Handler, Job, JobQueue, Progress

if TYPE_CHECKING:
    from rescore.engine import Engine
    from rescore.llm import LanguageModel
    from rescore.packs.tenders.pack import TendersPack

__all__ = ["FEATURES", "Service", "language_model"]

#: Job type -> the tier feature it spends.
FEATURES = {
    "precio": "price_analysis",
    "scoring": "win_probability",
    "propuesta": "proposals",
    "export": "exports",
}
DOCUMENTS = {"pdf": proposal_pdf, "docx": proposal_docx}


def language_model(pack: TendersPack) -> LanguageModel | None:
    """Who writes drafts (``RESCORE_TENDERS_LLM``): None offline, else the core's model."""
    if pack.settings.llm == "offline":
        return None
    from rescore.llm import from_env

    return from_env(pack.settings.llm)


class Service:
    """Proposals, exports and the job handlers over one engine."""

    def __init__(
        self, pack: TendersPack, engine: Engine, model: LanguageModel | None = None
    ) -> None:
        self.pack = pack
        self.engine = engine
        self._model = model
        self.queue = JobQueue(engine, attempts=pack.settings.job_attempts)

    def model(self) -> LanguageModel | None:
        """The draft writer (built on first use from the settings unless given)."""
        if self._model is None and self.pack.settings.llm != "offline":
            self._model = language_model(self.pack)
        return self._model

    # proposals ---------------------------------------------------------------------------

    def draft_proposal(self, who: str, codigo: str) -> dict[str, Any]:
        """Write and store a draft for subscriber ``who`` (id or RUT); one ``proposals``
        unit, given back if writing fails."""
        with source_read(self.engine) as conn:
            context = proposals.load_context(conn, who, codigo)
        with tiers.charged(self.engine, context.subscriber["id"], "proposals"):
            return self._write_draft(context)

    def _write_draft(
        self, context: proposals.Context, draft_id: str | None = None
    ) -> dict[str, Any]:
        """Write the sections (the model, or offline) and store them; the draft's view."""
        sections, by = proposals.write_sections(context, self.model())
        with source_write(self.engine) as conn:
            return proposals.store(conn, context, sections, by, self.pack.as_of(), draft_id)

    def proposal(self, proposal_id: str) -> dict[str, Any]:
        """A stored draft."""
        with source_read(self.engine) as conn:
            return proposals.get(conn, proposal_id)

    def proposal_file(self, proposal_id: str, kind: str) -> bytes:
        """A stored draft rendered as ``pdf`` or ``docx``."""
        if kind not in DOCUMENTS:
            raise InvalidInput("format must be pdf or docx", field="formato")
        return DOCUMENTS[kind](self.proposal(proposal_id))

    # jobs --------------------------------------------------------------------------------

    def submit(
        self, kind: str, who: str, params: dict[str, Any], *, chat_id: int | None = None
    ) -> str:
        """Queue a job for subscriber ``who`` (its quota already spent by the caller)."""
        if kind not in FEATURES:
            raise InvalidInput(f"job type must be one of {', '.join(FEATURES)}", field="tipo")
        return self.queue.submit(kind, who, params, chat_id=chat_id)

    def released(self, job: Job) -> None:
        """A job failed for good: give its quota unit back."""
        tiers.release(self.engine, job.suscriptor_id, FEATURES[job.tipo])

    def handlers(self) -> dict[str, Handler]:
        """What the workers run, by job type."""
        return {
            "precio": self._price,
            "scoring": self._scoring,
            "propuesta": self._proposal,
            "export": self._export,
        }

    def _price(self, job: Job, progress: Progress) -> dict[str, Any]:
        query = self._price_query(job.parametros)
        with source_read(self.engine) as conn:
            analysis = self.pack.price_analysis(conn, query)
        return {"texto": messages.price(analysis)}

    def _price_query(self, params: dict[str, Any]) -> PriceQuery:
        return PriceQuery(
            producto=str(params["producto"]),
            region=params.get("region"),
            as_of=self.pack.as_of().date(),
        )

    def _scoring(self, job: Job, progress: Progress) -> dict[str, Any]:
        codigo = str(job.parametros["codigo"])
        with source_read(self.engine) as conn:
            context = proposals.load_context(conn, job.suscriptor_id, codigo)
            price = job.parametros.get("precio") or self._suggested(conn, context.tender)
            subscriber = context.subscriber
            quote = Quote(
                codigo=codigo,
                rut_proveedor=subscriber["rut"],
                precio_unitario=price,
                region_proveedor=subscriber.get("region"),
            )
            try:
                found = self.pack.intel.predict(conn, quote)
            except InvalidInput as exc:
                if exc.field not in ("region_proveedor", "tamano_proveedor"):
                    raise
                raise InvalidInput(
                    f"su RUT {subscriber['rut']} no tiene cotizaciones en el histórico, y el "
                    "modelo necesita su región y tamaño de proveedor",
                    field=exc.field,
                ) from None
        return {"texto": messages.scoring(found, price)}

    def _suggested(self, conn: Any, tender: dict[str, Any]) -> float:
        """The unit price to score when the user gave none: the suggested one (P40)."""
        query = PriceQuery(
            producto=tender["producto"],
            region=tender["region"],
            as_of=tender["fecha_publicacion"].date(),
        )
        analysis = self.pack.price_analysis(conn, query)
        value = analysis.get("precio_sugerido")
        if not value:
            raise InvalidInput(
                "no awards to suggest a price from: give one (/scoring CODIGO PRECIO)",
                field="precio",
            )
        return float(value)

    def _proposal(self, job: Job, progress: Progress) -> dict[str, Any]:
        codigo = str(job.parametros["codigo"])
        draft_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"tenders-job:{job.id}"))
        try:  # a retry (the PDF failed after the draft was stored) reuses the draft
            view = self.proposal(draft_id)
        except NotFound:
            with source_read(self.engine) as conn:
                context = proposals.load_context(conn, job.suscriptor_id, codigo)
            view = self._write_draft(context, draft_id)
        path = self._folder(job) / f"propuesta_{_safe(codigo)}.pdf"
        _write_bytes(path, proposal_pdf(view))
        caption = "Propuesta generada. Revísala y personalízala antes de enviar."
        return {"texto": caption, "archivo": str(path), "propuesta_id": view["id"]}

    def _export(self, job: Job, progress: Progress) -> dict[str, Any]:
        p = job.parametros
        source, kind = str(p["fuente"]), str(p.get("formato", "xlsx"))
        path = self._folder(job) / f"{source}_{date.today().isoformat()}.{kind}"
        with source_read(self.engine) as conn:
            table = self._table(conn, source, p, job.suscriptor_id)
            exports.write(table, path, kind, progress)
        return {"texto": f"{table.title}: {table.total:,} filas.", "archivo": str(path)}

    def _table(self, conn: Any, source: str, p: dict[str, Any], who: str) -> exports.Table:
        if source == "busqueda":
            return exports.search_table(conn, str(p["consulta"]))
        if source == "precio":
            return exports.price_table(self.pack.price_analysis(conn, self._price_query(p)))
        if source == "alertas":
            return exports.alert_table(conn, self.pack.intel.profiles(conn), who)
        raise InvalidInput(f"source must be one of {', '.join(exports.SOURCES)}", field="fuente")

    def _folder(self, job: Job) -> Path:
        return self.pack.settings.exports_dir / job.suscriptor_id / job.id


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


def _write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    partial.replace(path)
