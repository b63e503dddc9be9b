"""Scorer releases: a candidate version in shadow beside the live one, replayed over the
population, promoted in one switch and rolled back, with a stale process's write refused; on
the toy pack and on the leads pack (the seed's base algorithm as the candidate)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa
from test_leads_pack import SIZE, pack

from conftest import AScore, Clock, ToyPack, event, make_engine, put_items
from rescore.db.engine import Database
from rescore.db.schema import history, shadow_scores
from rescore.engine import Engine
from rescore.exceptions import InvalidInput
from rescore.plugins import PackRegistry
from rescore.scoring import Inputs, Scorer, ScoreResult
from rescore.settings import Settings
from rescore.testing import drain


class HalfA(AScore):
    """A new formula for a_score: half of ``a``."""

    version = "2"

    def score(self, inputs: Inputs) -> ScoreResult:
        half = float(min(inputs["item"]["a"], 100)) / 2
        return ScoreResult(value=half, components={"a": half})


class Releasing(ToyPack):
    def register_candidates(self) -> Sequence[Scorer]:
        return [HalfA()]


@pytest.fixture
def toy(tmp_path: Path, clock: Clock) -> Engine:
    engine = make_engine(tmp_path / "rel.db", [Releasing()], clock=clock, rules_refresh=0.001)
    put_items(engine, x=(40, 1), y=(80, 2), z=(10, 3))
    engine.recompute("toy", ["x", "y", "z"])
    return engine


def values(engine: Engine, scorer: str) -> dict[str, tuple[float, str]]:
    found = {}
    for entity in ("x", "y", "z"):
        stored = engine.current("toy", entity)[scorer]
        found[entity] = (stored.value, stored.version)
    return found


def test_a_shadow_version_runs_beside_the_live_one_unserved(toy: Engine) -> None:
    toy.set_shadow("toy", "a_score", "2")
    put_items(toy, x=(60, 1))
    toy.ingest([event("e1", "a_changed", "x")])
    drain(toy)
    assert toy.current("toy", "x")["a_score"].value == 60.0  # live: version 1 serves
    with toy.db.read() as conn:
        (row,) = conn.execute(sa.select(shadow_scores)).all()
    assert (row.entity, row.version, row.value) == ("x", "2", 30.0)
    assert {r["scorer"]: r["shadow"] for r in toy.scorer_releases("toy")}["a_score"] == "2"


def test_replay_reports_what_a_candidate_would_move(toy: Engine) -> None:
    report = toy.replay("toy", "2")
    assert report["scorer"] == "a_score"
    assert (report["compared"], report["moved"]) == (3, 3)
    assert report["max_abs_delta"] == 40.0  # y: 80 -> 40
    assert report["movers"][0]["entity"] == "y"
    assert report["movers"][0]["components"] == {"a": -40.0}
    assert values(toy, "a_score")["y"] == (80.0, "1")  # a replay writes nothing


def test_promotion_switches_every_entity_at_once_and_rolls_back(toy: Engine) -> None:
    done = toy.promote("toy", "a_score", "2")
    assert (done["live"], done["previous"], done["entities"]) == ("2", "1", 3)
    assert values(toy, "a_score") == {"x": (20.0, "2"), "y": (40.0, "2"), "z": (5.0, "2")}
    assert toy.current("toy", "y")["total"].value == 42.0  # dependents rescored with it
    with toy.db.read() as conn:
        triggers = set(conn.execute(sa.select(history.c.trigger, history.c.version)).all())
    assert ("promotion", "2") in triggers
    put_items(toy, x=(90, 1))
    toy.ingest([event("e2", "a_changed", "x")])
    drain(toy)
    assert toy.current("toy", "x")["a_score"].value == 45.0  # events now use version 2
    toy.rollback("toy", "a_score")
    assert values(toy, "a_score")["x"] == (90.0, "1")
    with pytest.raises(InvalidInput, match="already live"):
        toy.promote("toy", "a_score", "1")
    with pytest.raises(InvalidInput, match="no version '3'"):
        toy.promote("toy", "a_score", "3")


def test_a_stale_process_cannot_write_the_replaced_version(
    toy: Engine, tmp_path: Path, clock: Clock
) -> None:
    url = f"sqlite:///{tmp_path / 'rel.db'}"
    other = Engine(
        Database(url),
        PackRegistry([Releasing()]),
        Settings(database_url=url, rules_refresh=3600),
        clock=clock,
    )
    other.releases.sync(other.db.read)  # it has read the releases: version 1 serves
    toy.promote("toy", "a_score", "2")
    put_items(toy, z=(70, 3))
    toy.ingest([event("e3", "a_changed", "z")])
    refused = other.work("other")  # computed with version 1: refused, handed back
    assert refused.outcomes == ()
    assert other.work("other").outcomes[0].values["a_score"] == 35.0  # re-read, version 2
    assert values(toy, "a_score")["z"] == (35.0, "2")
    other.close()


def test_leads_replays_and_promotes_the_seeds_base_algorithm(tmp_path: Path, clock: Clock) -> None:
    engine = make_engine(tmp_path / "leads.db", packs=[pack()], clock=clock)
    with engine.source.begin() as conn:
        pack().generate_demo_data(conn, seed=3, size=SIZE)
    keys = list(engine.entity_keys("leads"))
    engine.recompute("leads", keys)
    report = engine.replay("leads", "1.0.0+base", scorer="lead_score")
    assert report["compared"] == SIZE
    assert report["moved"] > 0  # the quality factors move some leads
    done = engine.promote("leads", "lead_score", "1.0.0+base")
    assert done["moved"] == report["moved"]
    assert done["rewritten"] == SIZE
    assert engine.current("leads", keys[0])["lead_score"].version == "1.0.0+base"
    engine.close()
