"""The credit pack as a plugin: discovery, scorer graph and event routes."""

from __future__ import annotations

import rescore.packs.credit as credit
from rescore.packs.credit import EVENT_ROUTES, CreditPack
from rescore.plugins import Pack, discover
from rescore.routing import Lane
from rescore.scoring import ScorerGraph

SEED_ROUTES = {
    "new_payment_plan": (Lane.CRITICAL, {"payment_plan"}),
    "plan_defaulted": (Lane.CRITICAL, {"payment_plan", "deterioration"}),
    "plan_cancelled": (Lane.CRITICAL, {"payment_plan"}),
    "client_default": (Lane.CRITICAL, {"payment_performance", "deterioration"}),
    "new_loan": (Lane.NORMAL, {"payment_performance"}),
    "payment_made": (Lane.NORMAL, {"payment_performance", "deterioration"}),
    "payment_late": (Lane.NORMAL, {"payment_performance", "deterioration"}),
    "limit_increase": (Lane.NONE, set()),
    # not the seed's: the PD model's drift check announces an alarm for the rules (issue 14)
    "model_drift": (Lane.NONE, set()),
}


def test_the_pack_is_found_through_its_entry_point() -> None:
    registry = discover(["credit"])
    pack = registry["credit"]
    assert isinstance(pack, CreditPack)
    assert isinstance(pack, Pack)
    assert registry.router.resolve("client_default").pack == "credit"


def test_routes_are_exactly_the_seeds_and_the_drift_alarm() -> None:
    routes = CreditPack().register_event_types()
    assert {t: (r.lane, set(r.scorers)) for t, r in routes.items()} == SEED_ROUTES
    assert all(route.description for route in routes.values())


def test_scorers_run_in_dependency_order() -> None:
    graph = ScorerGraph("credit", CreditPack().register_scorers())
    assert set(graph.order[:3]) == {"payment_performance", "payment_plan", "deterioration"}
    assert graph.order[3:] == ("platam", "hybrid", "default_probability")
    assert all(scorer.version == "1.0.0" for scorer in graph)
    assert graph["platam"].max_value == 1000.0


def test_every_routed_event_reaches_platam_hybrid_and_the_pd_model() -> None:
    graph = ScorerGraph("credit", CreditPack().register_scorers())
    for type_, route in EVENT_ROUTES.items():
        affected = graph.affected(route.scorers)
        if route.lane is Lane.NONE:
            assert affected == (), type_
        else:
            assert affected[-3:] == ("platam", "hybrid", "default_probability"), type_


def test_payment_plan_events_load_only_plans() -> None:
    graph = ScorerGraph("credit", CreditPack().register_scorers())
    plan_only = graph.plan(["payment_plan"], known=["payment_performance", "deterioration"])
    assert plan_only == ("payment_plan",)
    assert graph.parts(plan_only) == {"plans", "as_of"}


def test_public_names_are_exported() -> None:
    for name in credit.__all__:
        assert hasattr(credit, name), name
    assert "CreditPack" in credit.__all__
