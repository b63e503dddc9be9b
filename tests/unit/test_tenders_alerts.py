"""Alerts: keyword and semantic profiles, the index beside the database kept in step with
``perfiles_alerta``, the ``match`` scorer, and one Telegram message per matched subscriber."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
import sqlalchemy as sa

from rescore.automations.dispatcher import DeliveryDispatcher
from rescore.embeddings import HashingEmbedder
from rescore.engine import Engine
from rescore.packs.tenders import TendersPack
from rescore.packs.tenders.alerts import ProfileIndex, index_path
from rescore.packs.tenders.matching import KeywordIndex, keyword_matches, tokens
from rescore.packs.tenders.schema import alert_profiles, subscribers, tenders
from rescore.packs.tenders.settings import TendersSettings
from rescore.testing import drain, scratch_engine
from rescore.vectors import VectorIndex

NOW = datetime(2026, 11, 30, 12, 0)
_ids = itertools.count(1)


def test_keywords_match_whole_words_across_plurals_accents_and_case() -> None:
    assert tokens("Cámaras IP y REDES") == ["camara", "ip", "y", "red"]
    assert keyword_matches("Adquisición de IMPRESORAS láser", ["impresora", "tóner"]) == [
        "impresora"
    ]
    assert keyword_matches("Compra de impresión de afiches", ["impresora"]) == []
    assert keyword_matches("Servicio de aire acondicionado", ["aire acondicionado"]) == [
        "aire acondicionado"
    ]
    index = KeywordIndex.of([("p1", ["fibra óptica"]), ("p2", ["redes", "cableado"])])
    assert index.matches("Enlace de fibra optica y cableado de redes") == {
        "p1": ["fibra óptica"],
        "p2": ["cableado", "redes"],  # in the order the text says them
    }


def _subscriber(conn: sa.Connection, name: str, chat: int) -> str:
    key = f"00000000-0000-4000-8000-{next(_ids):012d}"
    conn.execute(
        sa.insert(subscribers).values(
            id=key, nombre=name, rut=f"7{next(_ids):07d}-1", telegram_chat_id=chat, tier="pyme",
            zona_horaria="America/Santiago", descripcion_empresa=name, creado_en=NOW,
        )
    )  # fmt: skip
    return key


def _profile(
    conn: sa.Connection, owner: str, kind: str, text: str, umbral: float | None = None
) -> str:
    key = f"10000000-0000-4000-8000-{next(_ids):012d}"
    conn.execute(
        sa.insert(alert_profiles).values(
            id=key, suscriptor_id=owner, tipo=kind, texto=text, umbral=umbral, activo=True,
            creado_en=NOW.replace(second=next(_ids) % 60),
        )
    )  # fmt: skip
    return key


def _tender(conn: sa.Connection, code: str, name: str, product: str) -> None:
    conn.execute(
        sa.insert(tenders).values(
            codigo=code, nombre=name, descripcion="", organismo="Municipalidad de Talca",
            region="Región del Maule", categoria="Computación", producto=product, cantidad=10,
            monto_estimado=5_000_000, fecha_publicacion=NOW, fecha_cierre=datetime(2026, 12, 7, 15),
            estado="publicada", actualizado_en=NOW,
        )
    )  # fmt: skip


def _pack(tmp_path: Path) -> TendersPack:
    settings = TendersSettings(models_dir=tmp_path / "models")
    return TendersPack(as_of=lambda: NOW, settings=settings)


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("RESCORE_EMBEDDER", "hashing")  # the light fallback, as every test
    with scratch_engine([_pack(tmp_path)], tmp_path / "tenders.db") as found:
        yield found


def test_the_index_follows_the_profiles_table_and_lives_beside_the_database(
    engine: Engine, tmp_path: Path
) -> None:
    with engine.source.begin() as conn:
        who = _subscriber(conn, "Tecnología Austral SpA", 111)
        laptops = _profile(conn, who, "semantic", "Vendo laptops HP y computadores portátiles")
        _profile(conn, who, "keyword", "tablet, notebook")
    with engine.source.begin() as conn:
        path = index_path(conn, None)
        index = ProfileIndex(HashingEmbedder(), path)
        assert index.sync(conn)
        assert not index.sync(conn)
    assert path == tmp_path / "tenders-perfiles.usearch"
    assert path.exists()
    assert index.embedded() == [laptops]
    (found,) = index.match(["Adquisición de computadores portátiles y notebooks"])
    assert [(m.subscriber, m.kind) for m in found] == [(who, "keyword")]  # one per subscriber
    with engine.source.begin() as conn:
        conn.execute(sa.delete(alert_profiles).where(alert_profiles.c.tipo == "keyword"))
        assert index.sync(conn)
    (found,) = index.match(["Adquisición de computadores portátiles"])
    assert [(m.profile, m.kind) for m in found] == [(laptops, "semantic")]
    assert found[0].similarity is not None
    assert found[0].similarity > 0.19
    reopened = ProfileIndex(HashingEmbedder(), path)
    assert reopened.embedded() == [laptops]  # saved whole, reopened from the file


def test_a_profile_threshold_overrides_the_embedders_default(engine: Engine) -> None:
    with engine.source.begin() as conn:
        strict = _profile(
            conn, _subscriber(conn, "A", 1), "semantic", "computadores portátiles", 0.99
        )
        loose = _profile(
            conn, _subscriber(conn, "B", 2), "semantic", "computadores portátiles", 0.1
        )
        index = ProfileIndex(HashingEmbedder(), index_path(conn, None))
        index.sync(conn)
    (found,) = index.match(["Compra de computadores portátiles para el liceo"])
    assert [m.profile for m in found] == [loose]
    assert strict in index.embedded()


def _inbox(engine: Engine) -> list[dict[str, Any]]:
    path = engine.settings.channel_dir / "telegram.jsonl"
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def _dispatch(engine: Engine) -> None:
    dispatcher = DeliveryDispatcher(engine, worker="test")
    while dispatcher.run_once().handled:
        pass


def _publish(engine: Engine, code: str, event_id: str) -> None:
    engine.ingest(
        [
            {
                "event_id": event_id,
                "type": "tender_published",
                "entity": code,
                "occurred_at": "2026-11-30T12:00:00Z",
                "payload": {},
            }
        ]
    )
    drain(engine)


def test_a_published_tender_tells_each_matched_subscriber_once_on_telegram(engine: Engine) -> None:
    with engine.source.begin() as conn:
        austral = _subscriber(conn, "Tecnología Austral SpA", 111)
        _profile(conn, austral, "semantic", "Vendo laptops y computadores portátiles")
        _profile(conn, austral, "keyword", "computador")
        aseo = _subscriber(conn, "Limpieza Sur SpA", 222)
        _profile(conn, aseo, "keyword", "cloro, detergente")
        _tender(
            conn, "1000-1-COT26", "Adquisición de computadores portátiles", "Computador portátil 14"
        )
    _publish(engine, "1000-1-COT26", "pub-1")
    match = engine.current("tenders", "1000-1-COT26")["match"]
    assert match.value == 1.0
    assert dict(match.components) == {austral: 1.0}
    assert match.features["suscriptores"] == 1
    assert match.features["embedder"] == "hashing-v1"
    _dispatch(engine)
    (sent,) = _inbox(engine)
    assert sent["to"] == "111"
    assert sent["title"] == "Nueva licitación 1000-1-COT26"
    assert "Tecnología Austral SpA: Adquisición de computadores portátiles" in sent["body"]
    with engine.source.begin() as conn:  # a second subscriber now sells laptops too
        late = _subscriber(conn, "Notebooks del Sur", 333)
        _profile(conn, late, "keyword", "computadores portátiles")
    _publish(engine, "1000-1-COT26", "pub-2")  # republished: only the new one is told
    _dispatch(engine)
    assert sorted(m["to"] for m in _inbox(engine)) == ["111", "333"]
    assert len(engine.firings()) == 2


def test_an_in_memory_database_keeps_its_index_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with sa.create_engine("sqlite://").begin() as conn:
        alert_profiles.metadata.create_all(conn)
        _profile(conn, _subscriber(conn, "Aseo Sur", 5), "semantic", "cloro y detergente")
        assert index_path(conn, None) is None
        index = ProfileIndex(HashingEmbedder(), None)
        assert index.sync(conn)
    assert [m.kind for m in index.match(["Compra de cloro y detergente"])[0]] == ["semantic"]
    assert list(tmp_path.iterdir()) == []  # no file anywhere


def test_an_index_another_embedder_built_is_rebuilt_from_the_table(
    engine: Engine, tmp_path: Path
) -> None:
    with engine.source.begin() as conn:
        laptops = _profile(conn, _subscriber(conn, "A", 1), "semantic", "computadores portátiles")
        path = index_path(conn, None)
        assert path is not None
    stale = VectorIndex(embedder="another-model", dim=384, path=path)
    stale.add(["gone"], np.ones((1, 384), dtype=np.float32))
    stale.save()
    index = ProfileIndex(HashingEmbedder(), path)
    with engine.source.begin() as conn:
        assert index.sync(conn)
    assert index.embedded() == [laptops]
    assert VectorIndex.open(path, embedder="hashing-v1").keys() == index.vectors.keys()


def test_a_profile_whose_text_the_business_edits_is_embedded_again(engine: Engine) -> None:
    with engine.source.begin() as conn:
        who = _subscriber(conn, "Aseo Sur", 7)
        profile = _profile(conn, who, "semantic", "cloro y detergente para hospitales")
        index = ProfileIndex(HashingEmbedder(), index_path(conn, None))
        index.sync(conn)
    (found,) = index.match(["Compra de cloro y detergente"])
    assert [m.profile for m in found] == [profile]
    with engine.source.begin() as conn:  # the business's own app rewrites the text
        p = alert_profiles.c
        new_text = "neumáticos y repuestos para camiones"
        conn.execute(sa.update(alert_profiles).where(p.id == profile).values(texto=new_text))
        assert index.sync(conn)
    assert index.embedded() == [profile]  # one vector: the old one removed
    assert index.match(["Compra de cloro y detergente"]) == [[]]
    (found,) = index.match(["Adquisición de neumáticos para camiones municipales"])
    assert [(m.profile, m.text) for m in found] == [(profile, new_text)]


def test_a_new_profile_hears_of_the_open_tenders_it_fits_once(
    engine: Engine, tmp_path: Path
) -> None:
    pack = _pack(tmp_path)
    with engine.source.begin() as conn:
        _tender(conn, "2000-1-COT26", "Adquisición de computadores portátiles", "Notebook 14")
        _tender(conn, "2000-2-COT26", "Compra de cloro y detergente", "Cloro gel")
        _tender(conn, "2000-3-COT26", "Computadores portátiles (cerrada)", "Notebook 15")
        conn.execute(
            sa.update(tenders).where(tenders.c.codigo == "2000-3-COT26").values(estado="cerrada")
        )
    _publish(engine, "2000-1-COT26", "pub-1")
    _publish(engine, "2000-2-COT26", "pub-2")
    _dispatch(engine)
    assert _inbox(engine) == []  # nobody had a profile yet
    with engine.source.begin() as conn:
        who = _subscriber(conn, "Tecnología Austral SpA", 111)
        made = pack.intel.create_profile(conn, who, "keyword", "computadores portátiles", None, NOW)
    assert pack.intel.rematch_open(engine, made) == 2  # the two still open, not the closed one
    drain(engine)
    _dispatch(engine)
    (sent,) = _inbox(engine)
    assert (sent["to"], sent["title"]) == ("111", "Nueva licitación 2000-1-COT26")
    assert pack.intel.rematch_open(engine, made) == 2  # asked twice: the same events, no news
    drain(engine)
    _dispatch(engine)
    assert len(_inbox(engine)) == 1
    (moved, first) = engine.history("tenders", "2000-1-COT26", scorer="match")
    assert (first.after, moved.after) == (0.0, 1.0)
    assert dict(moved.deltas) == {who: 1.0}  # the audit says who was added, and by which event
    assert moved.event_ids == (f"tender_rematched:{made['id']}:2000-1-COT26",)


def test_only_the_alerts_a_subscribers_tier_includes_reach_it(engine: Engine) -> None:
    """FREE hears of nothing, EMPRENDEDOR through keywords only, PYME through both; a tier
    change applies at the next match."""
    who = {}
    with engine.source.begin() as conn:
        for n, tier in enumerate(("free", "emprendedor", "pyme")):
            who[tier] = _subscriber(conn, tier, 500 + n)
            conn.execute(
                sa.update(subscribers).where(subscribers.c.id == who[tier]).values(tier=tier)
            )
            _profile(conn, who[tier], "semantic", "computadores portátiles")
        _profile(conn, who["pyme"], "keyword", "notebook")
        _profile(conn, who["emprendedor"], "keyword", "notebook")
    intel = engine.registry["tenders"].intel  # type: ignore[attr-defined]
    tender = {"nombre": "Compra de computadores portátiles", "producto": "notebook"}

    def told(text: str) -> dict[str, str]:
        found = {"T": {"tender": tender | {"nombre": text}}}
        with engine.source.read() as conn:
            intel.add_matches(conn, found)
        return {m["suscriptor_id"]: m["tipo"] for m in found["T"]["matches"]["suscriptores"]}

    by_meaning = told("Compra de computadores portátiles")  # the keyword matches the product
    assert by_meaning == {who["emprendedor"]: "keyword", who["pyme"]: "keyword"}
    tender["producto"] = "equipos"
    assert told("Compra de computadores portátiles") == {who["pyme"]: "semantic"}
    with engine.source.begin() as conn:
        conn.execute(
            sa.update(subscribers).where(subscribers.c.id == who["free"]).values(tier="pyme")
        )
    assert set(told("Compra de computadores portátiles")) == {who["pyme"], who["free"]}
    with engine.source.read() as conn:  # the preview (GET /coincidencias) says the same
        _, previewed = intel.would_alert(conn, "Compra de computadores portátiles. equipos")
    assert {m.subscriber for m in previewed} == {who["pyme"], who["free"]}
