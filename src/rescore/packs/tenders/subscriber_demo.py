"""The demo's subscriber side: one proposal draft and the bot job that delivered it, with ids
drawn from the demo's seed, so the API's documented examples (``GET /propuestas/{id}``,
``GET /trabajos/{id}``, its ``/archivo``) read real rows after ``rescore init --demo-data``."""

from __future__ import annotations

import random
import uuid
from datetime import datetime

import orjson
from sqlalchemy import Connection, insert, select

from rescore.packs.tenders import proposals
from rescore.packs.tenders.schema import jobs, subscribers, tenders

__all__ = ["insert_demo_drafts"]


def insert_demo_drafts(conn: Connection, *, seed: int, as_of: datetime) -> str | None:
    """The first PYME subscriber's offline draft for the first tender, and its finished
    ``propuesta`` job; the job's id (None when the demo has no PYME subscriber or tender)."""
    rng = random.Random(seed + 3)
    s = subscribers.c
    who = conn.execute(select(s.id).where(s.tier == "pyme").order_by(s.rut).limit(1)).scalar()
    code = conn.execute(select(tenders.c.codigo).order_by(tenders.c.codigo).limit(1)).scalar()
    if who is None or code is None:
        return None
    context = proposals.load_context(conn, who, code)
    sections = proposals.offline_sections(context)
    draft_id, job_id = (str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(2))
    draft = proposals.store(conn, context, sections, "offline", as_of, draft_id)
    caption = "Propuesta generada. Revísala y personalízala antes de enviar."
    result = {"texto": caption, "propuesta_id": draft["id"]}
    conn.execute(insert(jobs), [{
        "id": job_id, "tipo": "propuesta", "suscriptor_id": who,
        "chat_id": context.subscriber["telegram_chat_id"],
        "parametros": orjson.dumps({"codigo": code}).decode(), "estado": "listo",
        "intentos": 1, "progreso": 0, "total": None, "resultado": orjson.dumps(result).decode(),
        "error": None, "reintentar_en": as_of, "lease_hasta": None, "entregado": True,
        "creado_en": as_of, "actualizado_en": as_of,
    }])  # fmt: skip
    return job_id
