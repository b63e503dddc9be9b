"""The tenders pack's intelligence, wired to its source: win probability for a quote on a
tender, alert profiles, and the matches the ``match`` scorer reads.

:class:`Intel` is what :class:`~rescore.packs.tenders.pack.TendersPack` holds: its settings
(``RESCORE_TENDERS_MODELS_DIR``, ``RESCORE_TENDERS_INDEX_DIR``; the embedder is the core's
``RESCORE_EMBEDDER``), one :class:`~.alerts.ProfileIndex` per source database, and the win
model (loaded once). Every read of the source uses bound parameters.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from sqlalchemy import Connection, delete, func, insert, select

from rescore.exceptions import InvalidInput, NotFound
from rescore.packs.sdk import source_read
from rescore.packs.tenders import win
from rescore.packs.tenders.alerts import (
    Matched,
    ProfileIndex,
    index_path,
    tender_text,
    threshold_for,
)
from rescore.packs.tenders.schema import alert_profiles, history, subscribers, tenders
from rescore.packs.tenders.tier_table import alerted_by

if TYPE_CHECKING:
    from rescore.embeddings import Embedder
    from rescore.engine import Engine
    from rescore.packs.tenders.settings import TendersSettings

__all__ = ["Intel", "Quote", "history_frame"]

#: Events per ingest when open tenders are matched again (the API's batch size).
_REMATCH_BATCH = 500


@dataclass(frozen=True, kw_only=True, slots=True)
class Quote:
    """A supplier's prospective quote on a tender: what the caller knows."""

    codigo: str
    rut_proveedor: str
    precio_unitario: float
    region_proveedor: str | None = None
    tamano_proveedor: str | None = None
    competidores: float | None = None


class Intel:
    """Win probability and alerts over one pack's source."""

    def __init__(
        self, settings: Callable[[], TendersSettings], embedder: Callable[[], Embedder]
    ) -> None:
        self._settings = settings
        self._embedder = embedder
        self._indexes: dict[str, ProfileIndex] = {}
        self._lock = threading.Lock()

    # alerts --------------------------------------------------------------------------------

    def profiles(self, conn: Connection) -> ProfileIndex:
        """The profile index of ``conn``'s database, synced with ``perfiles_alerta``."""
        path = index_path(conn, self._settings().index_dir)
        key = str(path) if path is not None else f"memory:{id(conn.engine)}"
        with self._lock:
            index = self._indexes.get(key)
            if index is None:
                index = ProfileIndex(self._embedder(), path)
                self._indexes[key] = index
        index.sync(conn)
        return index

    def add_matches(self, conn: Connection, found: dict[str, dict[str, Any]]) -> None:
        """Put each loaded tender's matches in its inputs (the ``matches`` part)."""
        if not found:
            return
        index = self.profiles(conn)
        codes = list(found)
        matched = _in_tier(conn, index.match([tender_text(found[c]["tender"]) for c in codes]))
        meta = {"embedder": index.embedder.name, "umbral": threshold_for(index.embedder.name)}
        for code, matches in zip(codes, matched, strict=True):
            found[code]["matches"] = meta | {"suscriptores": [m.as_dict() for m in matches]}

    def would_alert(self, conn: Connection, text: str) -> tuple[ProfileIndex, list[Matched]]:
        """Whom a tender saying ``text`` would alert now (their tiers applied), and the index
        that matched it (its embedder's name is part of the answer)."""
        index = self.profiles(conn)
        return index, _in_tier(conn, index.match([text]))[0]

    def automation_data(
        self, conn: Connection, entities: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """Per tender, what alert messages read: the tender, and each subscriber it matches
        (``suscriptores[<id>]``: nombre, telegram_chat_id, similitud)."""
        rows = conn.execute(select(tenders).where(tenders.c.codigo.in_(list(entities)))).mappings()
        found = {r["codigo"]: {"tender": dict(r)} for r in rows}
        self.add_matches(conn, found)
        return {code: _message_data(conn, data) for code, data in found.items()}

    def create_profile(
        self,
        conn: Connection,
        subscriber: str,
        kind: str,
        text: str,
        threshold: float | None,
        now: datetime,
    ) -> dict[str, Any]:
        """Add an active profile; the index learns it on its next sync."""
        _check_profile(conn, subscriber, kind, text, threshold)
        row = {
            "id": str(uuid.uuid4()),
            "suscriptor_id": subscriber,
            "tipo": kind,
            "texto": text.strip(),
            "umbral": threshold,
            "activo": True,
            "creado_en": now,
        }
        conn.execute(insert(alert_profiles), [row])
        return _profile_view(row)

    def rematch_open(
        self, engine: Engine, profile: dict[str, Any], *, tenant: str | None = None
    ) -> int:
        """After ``profile`` (a :meth:`create_profile` result) is committed: ingest one
        ``tender_rematched`` event per tender still open, so the ``match`` scorer runs again on
        each and the profile's subscriber hears of those it fits, once (the ``tenders.alerta``
        rule fires on new components only). Returns how many tenders are matched again."""
        t = tenders.c
        now = datetime.fromisoformat(profile["creado_en"])
        query = select(t.codigo).where(t.estado == "publicada", t.fecha_cierre > now)
        with source_read(engine) as conn:
            codes = conn.execute(query.order_by(t.codigo)).scalars().all()
        stamp = now.isoformat() + "Z"
        whose = {} if tenant is None else {"tenant": tenant}
        for start in range(0, len(codes), _REMATCH_BATCH):
            engine.ingest(
                [
                    {
                        "event_id": f"tender_rematched:{profile['id']}:{code}",
                        "type": "tender_rematched",
                        "entity": code,
                        "occurred_at": stamp,
                        "payload": {"perfil_id": profile["id"]},
                    }
                    for code in codes[start : start + _REMATCH_BATCH]
                ],
                **whose,
            )
        return len(codes)

    def list_profiles(self, conn: Connection, subscriber: str | None) -> list[dict[str, Any]]:
        """Active profiles, of one subscriber or all, oldest first."""
        p = alert_profiles.c
        query = select(alert_profiles).where(p.activo).order_by(p.creado_en, p.id)
        if subscriber is not None:
            query = query.where(p.suscriptor_id == subscriber)
        return [_profile_view(dict(r)) for r in conn.execute(query).mappings()]

    def delete_profile(self, conn: Connection, profile: str) -> None:
        """Remove a profile (its subscriber hears of no new tender through it)."""
        done = conn.execute(delete(alert_profiles).where(alert_profiles.c.id == profile))
        if done.rowcount == 0:
            raise NotFound(f"no alert profile {profile!r}", field="perfil_id")

    # win probability -------------------------------------------------------------------------

    def train(
        self, conn: Connection, models_dir: Path | None, *, limit: int | None
    ) -> dict[str, Any]:
        """Train the win model on the source's history (features over all of it, the newest
        ``limit`` rows trained on and tested), save it, and return its metadata."""
        from rescore.ml import save_model

        folder = models_dir or self._settings().models_dir
        model = win.train_frame(history_frame(conn), limit=limit)
        path = save_model(model, folder, win.MODEL_NAME)
        win.forget(folder)
        return {**model.metadata(), "path": str(path)}

    def explainer(self) -> Any:
        """The win model in use (trained into ``models_dir``, else the shipped one)."""
        return win.load_explainer(self._settings().models_dir)

    def predict(self, conn: Connection, quote: Quote) -> dict[str, Any]:
        """The probability that ``quote`` wins its tender, its factors and recommendations."""
        tender = (
            conn.execute(select(tenders).where(tenders.c.codigo == quote.codigo)).mappings().first()
        )
        if tender is None:
            raise NotFound(f"no tender {quote.codigo!r}", field="codigo_licitacion")
        features = _features(conn, dict(tender), quote)
        found = win.predict(self.explainer(), features)
        return (
            {"codigo_licitacion": quote.codigo, "rut_proveedor": quote.rut_proveedor}
            | {"features": dict(zip(win.FEATURES, features.row(), strict=True))}
            | found.as_dict()
        )


HISTORY_COLUMNS = (
    "codigo_licitacion",
    "item",
    "rut_proveedor",
    "fecha_cierre",
    "categoria",
    "producto_cotizado",
    "precio_unitario",
    "region",
    "region_proveedor",
    "tamano_proveedor",
    "es_ganador",
)


def history_frame(conn: Connection) -> pl.DataFrame:
    """The columns the win model needs, every history row (streamed in chunks)."""
    query = select(*(history.c[name] for name in HISTORY_COLUMNS))
    result = conn.execution_options(yield_per=100_000).execute(query)
    chunks = [
        pl.DataFrame([tuple(r) for r in part], schema=list(HISTORY_COLUMNS), orient="row")
        for part in result.partitions()
    ]
    if not chunks:
        raise InvalidInput(
            "the history is empty: import some months first", field="historico_licitaciones"
        )
    return pl.concat(chunks)


def _message_data(conn: Connection, data: dict[str, Any]) -> dict[str, Any]:
    tender, matches = data["tender"], data["matches"]["suscriptores"]
    ids = [m["suscriptor_id"] for m in matches]
    s = subscribers.c
    people = {
        r.id: {"nombre": r.nombre, "telegram_chat_id": r.telegram_chat_id}
        for r in conn.execute(select(s.id, s.nombre, s.telegram_chat_id).where(s.id.in_(ids)))
    }
    for m in matches:
        people.get(m["suscriptor_id"], {}).update(similitud=m["similitud"], perfil=m["texto"])
    keep = ("codigo", "nombre", "organismo", "region", "producto", "monto_estimado", "fecha_cierre")
    return {k: str(tender[k]) if k == "fecha_cierre" else tender[k] for k in keep} | {
        "suscriptores": people
    }


def _in_tier(conn: Connection, matched: list[list[Matched]]) -> list[list[Matched]]:
    """Each tender's matches without those whose subscriber's tier lacks the profile's kind of
    alert (:func:`.tier_table.alerted_by`: a FREE subscriber is told of nothing, an
    EMPRENDEDOR only through keywords), read now, so a tier change applies at once."""
    who = sorted({m.subscriber for found in matched for m in found})
    if not who:
        return matched
    s = subscribers.c
    tiers = dict(conn.execute(select(s.id, s.tier).where(s.id.in_(who))).all())
    kinds = {k: alerted_by(t) for k, t in tiers.items()}
    return [[m for m in found if m.kind in kinds.get(m.subscriber, ())] for found in matched]


def _check_profile(
    conn: Connection, subscriber: str, kind: str, text: str, threshold: float | None
) -> None:
    if kind not in ("semantic", "keyword"):
        raise InvalidInput("tipo must be semantic or keyword", field="tipo")
    if not text.strip():
        raise InvalidInput("texto must say what the subscriber sells", field="texto")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InvalidInput("texto must not hold control characters", field="texto")
    if threshold is not None and not -1.0 <= threshold <= 1.0:
        raise InvalidInput("umbral is a cosine similarity, between -1 and 1", field="umbral")
    found = conn.execute(select(subscribers.c.id).where(subscribers.c.id == subscriber)).first()
    if found is None:
        raise NotFound(f"no subscriber {subscriber!r}", field="suscriptor_id")


def _profile_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "suscriptor_id": row["suscriptor_id"],
        "tipo": row["tipo"],
        "texto": row["texto"],
        "umbral": row["umbral"],
        "creado_en": row["creado_en"].isoformat(),
    }


def _features(conn: Connection, tender: dict[str, Any], quote: Quote) -> win.WinInput:
    """The six features of ``quote``, from the history before the tender was published."""
    h = history.c
    before = h.fecha_cierre < tender["fecha_publicacion"].date()
    category = h.categoria == tender["categoria"]
    product = [before, category, h.producto_cotizado == tender["producto"]]
    reference = (
        _mean_price(conn, [*product, h.region == tender["region"]])
        or _mean_price(conn, product)
        or _mean_price(conn, [before, category])
    )
    wins = conn.execute(
        select(func.count()).where(
            before, category, h.rut_proveedor == quote.rut_proveedor, h.es_ganador
        )
    ).scalar_one()
    region, size = _supplier(conn, quote)
    return win.WinInput(
        precio_ratio=round(quote.precio_unitario / reference, 4) if reference else 1.0,
        experiencia=int(wins),
        local=region == tender["region"],
        tamano=size,
        fecha_cierre=tender["fecha_cierre"],
        competidores=quote.competidores
        if quote.competidores is not None
        else _competitors(conn, [before, category]),
    )


def _mean_price(conn: Connection, where: list[Any]) -> float | None:
    value = conn.execute(select(func.avg(history.c.precio_unitario)).where(*where)).scalar_one()
    return None if value is None else float(value)


def _competitors(conn: Connection, where: list[Any]) -> float:
    """Other quotes per request line in the category's history (2 when it has none)."""
    h = history.c
    lines = select(h.codigo_licitacion, h.item, func.count().label("n")).where(*where)
    per_line = lines.group_by(h.codigo_licitacion, h.item).subquery()
    value = conn.execute(select(func.avg(per_line.c.n))).scalar_one()
    return 2.0 if value is None else round(float(value) - 1.0, 2)


def _supplier(conn: Connection, quote: Quote) -> tuple[str, str]:
    """The supplier's home region and size: as given, else from its newest history row."""
    h = history.c
    newest = conn.execute(
        select(h.region_proveedor, h.tamano_proveedor)
        .where(h.rut_proveedor == quote.rut_proveedor)
        .order_by(h.fecha_cierre.desc())
        .limit(1)
    ).first()
    region = quote.region_proveedor or (newest.region_proveedor if newest else None)
    size = quote.tamano_proveedor or (newest.tamano_proveedor if newest else None)
    if region is None:
        raise InvalidInput(
            "the supplier has no history: give region_proveedor", field="region_proveedor"
        )
    if size not in win.SIZES:
        raise InvalidInput(
            f"tamano_proveedor must be one of {', '.join(win.SIZES)}", field="tamano_proveedor"
        )
    return region, str(size)
