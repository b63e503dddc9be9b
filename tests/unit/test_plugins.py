"""Packs load through the entry point; the registry refuses malformed or clashing packs."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path

import pytest

from conftest import ToyPack, make_engine
from rescore.exceptions import PluginError, UnknownEventType, UnknownPack
from rescore.plugins import PackRegistry, discover
from rescore.routing import Lane, Route
from rescore.runtime.embedded import EmbeddedRuntime


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


class _Preparing(ToyPack):
    def __init__(self, name: str, *, fails: bool = False) -> None:
        self.name = name
        self.fails = fails
        self.prepared = threading.Event()

    def prepare(self) -> None:
        self.prepared.set()
        if self.fails:
            raise RuntimeError("the model file is corrupt")


def test_prepare_reaches_every_pack_and_a_failing_one_is_only_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken, fine = _Preparing("broken", fails=True), _Preparing("fine")
    PackRegistry([broken, fine]).prepare()
    assert broken.prepared.is_set()
    assert fine.prepared.is_set(), "one pack's failure does not stop the next"
    assert "pack broken could not prepare" in caplog.text


def test_the_embedded_runtime_prepares_the_packs_as_it_starts(tmp_path: Path) -> None:
    pack = _Preparing("toy")
    engine = make_engine(tmp_path / "r.db", [pack])
    with EmbeddedRuntime(engine):
        assert pack.prepared.wait(timeout=30)
    engine.close()
