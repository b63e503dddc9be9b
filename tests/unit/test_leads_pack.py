"""The leads pack inside rescore: discovery, routes, loader, engine, population rescoring,
simulator, analytics (Python and HTTP) and its settings."""

from __future__ import annotations

import typing
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from conftest import Clock, make_engine
from rescore import operations
from rescore.api import deps
from rescore.api.mount import mount_packs
from rescore.db import bulk
from rescore.engine import Engine
from rescore.keys import Principal, Scope
from rescore.packs.leads import EVENT_ROUTES, LeadsPack, analytics, score_contact
from rescore.packs.leads.generator import write_parquet
from rescore.packs.leads.schema import contacts, platform_validations
from rescore.plugins import PackRegistry, discover
from rescore.population import DatabaseSource, ParquetSource, rescore_population, vectorized
from rescore.routing import Lane
from rescore.scoring import evaluate

AS_OF = datetime(2026, 1, 23, 12)
SIZE = 300


def pack(**kwargs: object) -> LeadsPack:
    return LeadsPack(as_of=lambda: AS_OF, **kwargs)  # type: ignore[arg-type]


def validation_upserted(event_id: str, contact: str) -> dict[str, object]:
    """A contact's Facebook validation changed (a normal-lane event)."""
    return {
        "event_id": event_id,
        "type": "validation_upserted",
        "entity": contact,
        "occurred_at": "2026-01-23T12:00:00Z",
        "payload": {"platform": "facebook"},
    }


@pytest.fixture
def leads(tmp_path: Path, clock: Clock) -> Iterator[Engine]:
    engine = make_engine(tmp_path / "leads.db", packs=[pack()], clock=clock)
    with engine.source.begin() as conn:
        pack().generate_demo_data(conn, seed=3, size=SIZE)
    yield engine
    engine.close()


def test_the_pack_is_installed_with_its_routes() -> None:
    registry = discover(["leads"])
    assert registry.graph("leads").order == ("lead_confidence", "lead_score")
    assert EVENT_ROUTES["validation_upserted"].lane is Lane.NORMAL
    assert EVENT_ROUTES["validation_upserted"].effective_priority == 5  # the seed's trigger
    assert EVENT_ROUTES["contact_updated"].effective_priority == 5
    assert EVENT_ROUTES["manual_recalculate"].lane is Lane.CRITICAL
    assert [s.name for s in registry["leads"].register_schedules()] == ["leads.retrain"]
    assert {c.name for c in registry["leads"].register_commands()} == {"generate", "analytics"}


def test_settings_turn_quality_factors_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESCORE_LEADS_QUALITY_FACTORS", "false")
    monkeypatch.setenv("RESCORE_LEADS_AS_OF", "2026-01-23T12:00:00")
    found = LeadsPack()
    assert not found.quality_factors
    assert found.as_of() == AS_OF
    assert {s.version for s in found.register_scorers()} == {"1.0.0+base"}


def test_loader_and_scorers_agree_with_score_contact(leads: Engine) -> None:
    graph = leads.registry.graph("leads")
    with leads.source.read() as conn:
        keys = list(pack().entity_keys(conn))
        inputs = pack().load_inputs(conn, [*keys[:50], "nope", "999999"], graph.parts(graph.order))
    assert len(keys) == SIZE
    assert set(inputs) == set(keys[:50])
    for key in keys[:50]:
        found = inputs[key]
        expected = score_contact(
            found["contact"], found["validations"], as_of=AS_OF, ladas=found["ladas"]
        )
        results = evaluate(graph, found)
        assert results["lead_score"].value == expected["total_score"]
        assert results["lead_confidence"].value == expected["confidence_level"]
        assert results["lead_score"].features["quality_tier"] == expected["quality_tier"]


def test_a_validation_event_rescored_through_the_engine(leads: Engine) -> None:
    with leads.source.begin() as conn:
        conn.execute(platform_validations.delete().where(platform_validations.c.contact_id == 7))
        conn.execute(
            platform_validations.insert(),
            [
                {
                    "contact_id": 7,
                    "platform": p,
                    "is_valid": True,
                    "is_business": False,
                    "is_premium": False,
                    "confidence_score": 1.0,
                    "validation_method": "api",
                    "validated_at": AS_OF,
                }
                for p in ("whatsapp", "facebook")
            ],
        )
        conn.execute(
            contacts.update().where(contacts.c.id == 7).values(last_platform_validation=AS_OF)
        )
    event = validation_upserted("v1", "7")
    assert leads.ingest([event]).queued["normal"] == 1
    report = leads.work("w1")
    assert report.claimed == 1
    assert not report.failures
    score = leads.current("leads", "7")["lead_score"]
    assert score.components["combination_bonus"] == 2 + 3
    assert score.value == sum(score.components.values())
    critical = {**event, "event_id": "m1", "type": "manual_recalculate"}
    assert leads.ingest([critical]).queued["critical"] == 1


def test_population_rescoring_writes_history_only_where_a_score_changed(
    leads: Engine, tmp_path: Path
) -> None:
    form = vectorized(leads.registry["leads"])
    assert form is not None
    source = DatabaseSource(leads.source)
    assert form.population_size(source) == SIZE
    first = rescore_population(
        leads, "leads", pack(), source, chunk_size=1000, out=tmp_path / "out"
    )
    assert (first.entities, first.changed) == (SIZE, SIZE)
    again = rescore_population(leads, "leads", pack(), source, chunk_size=1000)
    assert again.changed == 0
    with leads.source.begin() as conn:
        conn.execute(platform_validations.delete().where(platform_validations.c.contact_id == 1))
    third = rescore_population(leads, "leads", pack(), source, chunk_size=1000)
    assert third.changed == 1
    history = leads.explain("leads", "1").changes
    assert [h.scorer for h in history].count("lead_score") == 2  # first score, then the change
    assert history[0].after == 0.0
    written = pl.read_parquet(tmp_path / "out" / "*.parquet")
    assert written.height == SIZE
    assert written.columns[0] == "entity"
    # the population path stores what the per-contact path computes
    with leads.source.read() as conn:
        inputs = pack().load_inputs(
            conn, ["5"], frozenset({"contact", "validations", "ladas", "as_of"})
        )
    stored = leads.current("leads", "5")
    for name, result in evaluate(leads.registry.graph("leads"), inputs["5"]).items():
        assert stored[name].as_result() == result


@pytest.mark.parametrize("split", [False, True])
def test_an_unchanged_rerun_skips_entities_by_digest_until_something_else_writes_them(
    leads: Engine, split: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if split:  # each chunk's digests looked up in parts, side by side
        monkeypatch.setattr(operations, "LOOKUP_PART", SIZE // 3)
        monkeypatch.setattr(operations, "LOOKUP_THREADS", 3)
    lookups: list[int] = []
    original = bulk.digest_misses

    def counted(
        conn: Connection, tenant: str, pack: str, digests: pl.DataFrame, n: int
    ) -> set[str]:
        lookups.append(digests.height)
        return original(conn, tenant, pack, digests, n)

    monkeypatch.setattr(bulk, "digest_misses", counted)
    source = DatabaseSource(leads.source)
    first = rescore_population(leads, "leads", pack(), source, chunk_size=1000)
    assert (first.unchanged, first.changed) == (0, SIZE)
    again = rescore_population(leads, "leads", pack(), source, chunk_size=1000)
    assert (again.unchanged, again.changed) == (SIZE, 0)
    # a manual recompute writes entity 7 (the same scores) and clears its digests; an event
    # for entity 9 moves its watermark, so its digest changes: both are compared again
    assert leads.recompute("leads", ["7"]).claimed == 1
    assert leads.ingest([validation_upserted("d1", "9")]).accepted == 1
    third = rescore_population(leads, "leads", pack(), source, chunk_size=1000)
    assert (third.unchanged, third.changed) == (SIZE - 2, 0)
    assert leads.current("leads", "9")["lead_score"].watermark > 0  # refreshed, not rewritten
    # a source change the population sees is never skipped, whatever the digests say
    with leads.source.begin() as conn:
        conn.execute(platform_validations.delete().where(platform_validations.c.contact_id == 1))
    fourth = rescore_population(leads, "leads", pack(), source, chunk_size=1000)
    assert (fourth.unchanged, fourth.changed) == (SIZE - 1, 1)
    assert leads.current("leads", "1")["lead_score"].value == 0.0
    assert lookups == ([SIZE // 3] * 9 if split else [SIZE] * 3)  # none in the first run


def test_database_and_parquet_sources_score_the_same(leads: Engine, tmp_path: Path) -> None:
    write_parquet(tmp_path / "pop", contacts_total=500, seed=5, as_of=AS_OF, chunk_size=200)
    frames = list(pack().score_population(ParquetSource(tmp_path / "pop"), chunk_size=150))
    assert [f.height for f in frames] == [150, 150, 150, 50]
    scored = pl.concat(frames)
    assert scored["contact_id"].to_list() == list(range(1, 501))
    from_db = pl.concat(pack().score_population(DatabaseSource(leads.source), chunk_size=120))
    assert from_db.height == SIZE
    assert from_db.schema == scored.schema


def test_simulator_is_reproducible(tmp_path: Path) -> None:
    streams = []
    for run in range(2):
        engine = sa.create_engine(f"sqlite:///{tmp_path}/sim{run}.db")
        with engine.begin() as conn:
            pack().source_metadata().create_all(conn)
            pack().generate_demo_data(conn, seed=1, size=50)
            sim = pack().simulator(seed=9)
            streams.append([sim.step(conn) for _ in range(60)])
        engine.dispose()
    assert streams[0] == streams[1]
    assert {e["type"] for e in streams[0]} <= set(EVENT_ROUTES)
    assert any(e["type"] == "validation_upserted" for e in streams[0])


def test_analytics_python_api_and_http_route(leads: Engine) -> None:
    found = analytics(pack(), DatabaseSource(leads.source), chunk_size=100)
    assert found.total_contacts == SIZE
    assert sum(found.bands.values()) == SIZE
    payload = found.as_json()
    assert set(payload) >= {
        "scoreDistribution",
        "platformSuccessRates",
        "premiumLeadsCount",
        "averageScore",
        "validatedContactsCount",
        "multiPlatformCount",
    }
    assert all(0 <= rate <= 100 for rate in payload["platformSuccessRates"])
    app = FastAPI()
    mount_packs(app, PackRegistry([pack()]))  # under /v1/packs/leads, as the service does
    app.state.rescore = SimpleNamespace(engine=leads)
    with TestClient(app) as client:
        reader = typing.get_args(deps.Reader)[1].dependency  # the service's auth check
        app.dependency_overrides[reader] = lambda: Principal(
            key_id="k", tenant="default", scope=Scope.READ
        )
        assert client.get("/v1/packs/leads/analytics").json() == payload
