"""Packs load through the entry point; the registry refuses malformed or clashing packs."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from conftest import ToyPack
from rescore.exceptions import PluginError, UnknownEventType, UnknownPack
from rescore.plugins import PackRegistry, discover
from rescore.routing import Lane, Route


def test_builtin_credit_pack_is_found_through_the_entry_point() -> None:
    registry = discover()
    assert "credit" in registry.names
    assert "client_default" in registry.router.known_types()


def test_discover_only_the_named_packs_and_refuse_missing_ones() -> None:
    assert discover(["credit"]).names == ["credit"]
    with pytest.raises(UnknownPack, match="not installed: nope"):
        discover(["credit", "nope"])


def test_duplicate_pack_name_is_refused() -> None:
    with pytest.raises(PluginError, match="taken twice"):
        PackRegistry([ToyPack(), ToyPack()])


def test_pack_without_a_name_is_refused() -> None:
    class Nameless(ToyPack):
        name = ""

    with pytest.raises(PluginError, match="no valid pack name"):
        PackRegistry([Nameless()])


def test_route_to_unknown_scorer_is_refused() -> None:
    class BadRoute(ToyPack):
        def register_event_types(self) -> Mapping[str, Route]:
            return {"x": Route(lane=Lane.NORMAL, scorers=("missing",))}

    with pytest.raises(PluginError, match="unknown scorer"):
        PackRegistry([BadRoute()])


def test_shared_event_type_needs_the_pack_field() -> None:
    class Other(ToyPack):
        name = "other"

    router = PackRegistry([ToyPack(), Other()]).router
    with pytest.raises(UnknownEventType, match="several packs"):
        router.resolve("a_changed")
    assert router.resolve("a_changed", "other").pack == "other"


def test_unknown_pack_lists_loaded_ones() -> None:
    with pytest.raises(UnknownPack, match="loaded: toy"):
        PackRegistry([ToyPack()])["credit"]
