"""Where an event goes: its pack, its lane and the scorers it affects.

Routing is data each pack declares (``Pack.register_event_types``), never code in the engine:
``{"client_default": Route(lane=Lane.CRITICAL, scorers=("payment_performance",))}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from rescore.exceptions import PluginError, UnknownEventType

__all__ = ["Lane", "Route", "Router"]


class Lane(StrEnum):
    """How soon an event's entity is rescored."""

    CRITICAL = "critical"  # now: a worker is woken as the work is queued
    NORMAL = "normal"  # coalesced, flushed on an interval or when the lane passes a size
    NONE = "none"  # recorded for audit, never rescored

    @property
    def priority(self) -> int:
        """Default queue priority; a pending row's priority only ever rises."""
        return {Lane.CRITICAL: 10, Lane.NORMAL: 5, Lane.NONE: 0}[self]


@dataclass(frozen=True, kw_only=True, slots=True)
class Route:
    """One event type's lane and the scorers it affects (their dependents follow)."""

    lane: Lane
    scorers: tuple[str, ...] = ()
    priority: int | None = None
    description: str = ""

    @property
    def effective_priority(self) -> int:
        return self.lane.priority if self.priority is None else self.priority


@dataclass(frozen=True, kw_only=True, slots=True)
class Resolved:
    """A route found for an event: which pack it belongs to and what it does."""

    pack: str
    type: str
    route: Route


class Router:
    """Event type -> (pack, route), across every loaded pack.

    A type may be declared by several packs; an event of such a type must then name its pack.
    """

    def __init__(self, routes: Mapping[str, Mapping[str, Route]]) -> None:
        self._by_pack = {pack: dict(r) for pack, r in routes.items()}
        self._packs_of: dict[str, list[str]] = {}
        self._resolved: dict[tuple[str, str | None], Resolved] = {}
        for pack, table in sorted(self._by_pack.items()):
            for type_, route in table.items():
                if route.lane is not Lane.NONE and not route.scorers:
                    raise PluginError(f"pack {pack!r}: event type {type_!r} affects no scorer")
                self._packs_of.setdefault(type_, []).append(pack)

    def known_types(self) -> list[str]:
        return sorted(self._packs_of)

    def resolve(self, type_: str, pack: str | None = None) -> Resolved:
        """Find the route of an event type, or say which types exist. Found routes are kept:
        ingest asks twice per event, thousands of times a second, for a handful of types."""
        found = self._resolved.get((type_, pack))
        if found is None:
            found = self._resolved[(type_, pack)] = self._resolve(type_, pack)
        return found

    def _resolve(self, type_: str, pack: str | None) -> Resolved:
        packs = self._packs_of.get(type_, [])
        if pack is not None:
            packs = [p for p in packs if p == pack]
        if pack is not None and pack not in self._by_pack:
            raise UnknownEventType(
                f"no pack {pack!r} is loaded; loaded: {', '.join(sorted(self._by_pack))}",
                field="pack",
            )
        if not packs:
            where = f" in pack {pack!r}" if pack else ""
            known = sorted(self._by_pack[pack]) if pack else self.known_types()
            raise UnknownEventType(
                f"unknown event type {type_!r}{where}; known: {', '.join(known)}", field="type"
            )
        if len(packs) > 1:
            raise UnknownEventType(
                f"event type {type_!r} belongs to several packs ({', '.join(packs)}): "
                "set the event's 'pack' field",
                field="pack",
            )
        return Resolved(pack=packs[0], type=type_, route=self._by_pack[packs[0]][type_])

    def routes(self, pack: str) -> Mapping[str, Route]:
        return self._by_pack.get(pack, {})
