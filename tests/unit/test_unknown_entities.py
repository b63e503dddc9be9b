"""An entity the source does not know is a permanent failure: dead-lettered at once with the
reason, announced by ingest when the pack can tell cheaply, and never holding readiness."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Connection

from conftest import ToyPack, event, make_engine, put_items, toy_items
from rescore.engine import Engine
from rescore.packs.credit import CreditPack
from rescore.packs.leads import LeadsPack
from rescore.routing import Lane


class KnowingToyPack(ToyPack):
    """The toy pack, able to tell which items exist with one query."""

    def known_entities(self, conn: Connection, entities: Sequence[str]) -> set[str]:
        query = sa.select(toy_items.c.key).where(toy_items.c.key.in_(list(entities)))
        return set(conn.execute(query).scalars())


def test_an_unknown_entity_is_dead_lettered_at_once_with_the_reason(engine: Engine) -> None:
    engine.ingest([event("e1", "a_changed", "nobody")])
    report = engine.work("w", Lane.CRITICAL)
    assert [f.dead for f in report.failures] == [True], "no retry can find it: no retries"
    (dead,) = engine.pending_items(state="dead")
    assert dead.attempts == 1
    assert dead.last_error is not None
    assert "no item 'nobody' in the toy source data" in dead.last_error
    assert "permanent" in dead.last_error
    assert engine.lane_lag()["critical"] == 0.0


def test_other_failures_are_still_retried(engine: Engine) -> None:
    put_items(engine, bad=(-1, 0))
    engine.ingest([event("e1", "a_changed", "bad")])
    report = engine.work("w", Lane.CRITICAL)
    assert [f.dead for f in report.failures] == [False]


def test_ingest_warns_of_entities_the_source_lacks(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "k.db", packs=[KnowingToyPack()])
    put_items(engine, x=(1, 2))
    result = engine.ingest([event("e1", "a_changed", "x"), event("e2", "b_changed", "ghost")])
    assert result.accepted == 2, "the events are stored all the same"
    assert result.warnings == (
        "no item 'ghost' in the toy source data: its events are stored, and rescoring it "
        "dead-letters it",
    )
    engine.close()


def test_ingest_says_nothing_when_the_pack_cannot_tell(engine: Engine) -> None:
    assert engine.ingest([event("e1", "a_changed", "ghost")]).warnings == ()


def test_settle_gives_up_on_a_dead_lettered_entity_at_once(engine: Engine) -> None:
    put_items(engine, x=(1, 2))
    result = engine.ingest([event("e1", "a_changed", "x"), event("e2", "a_changed", "ghost")])
    started = time.monotonic()
    settled = engine.settle(result.events, worker="w", timeout=5.0)
    assert time.monotonic() - started < 1.0
    assert settled.fresh is False
    assert list(settled.dead) == [("default", "toy", "ghost")]
    assert "no item 'ghost'" in settled.dead[("default", "toy", "ghost")]
    assert engine.current("toy", "x")["a_score"].value == 1


def test_credit_and_leads_know_their_entities(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "p.db", packs=[CreditPack(), LeadsPack()])
    for pack in ("credit", "leads"):
        with engine.source.begin() as conn:
            engine.registry[pack].generate_demo_data(conn, seed=1, size=20)
    cedula = next(engine.entity_keys("credit"))
    contact = next(engine.entity_keys("leads"))
    assert engine.known_entities("credit", [cedula, "no-such-cedula"]) == {cedula}
    odd = ["0" + contact, "²", "9" * 40, "abc", contact]
    assert engine.known_entities("leads", odd) == {contact}
    engine.close()
