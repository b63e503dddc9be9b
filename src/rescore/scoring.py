"""Scorers, their results, and the order they run in.

A scorer is a small, pure, versioned class: it turns one entity's inputs into a
:class:`ScoreResult` whose components add up to its value. Scorers may depend on other scorers
of the same pack (the credit hybrid score blends the PLATAM total with the bureau score); the
engine runs them in dependency order and hands each one its dependencies' results through its
inputs, under the dependency's name.

Example::

    class Tenure(Scorer):
        name = "tenure"
        version = "1.0.0"
        inputs = frozenset({"client"})
        max_value = 100.0

        def score(self, inputs: Inputs) -> ScoreResult:
            months = inputs["client"]["months_as_client"]
            points = min(100.0, months * 2.0)
            return ScoreResult(value=points, components={"months": points},
                               reasons=(f"{months} months as client",))
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from typing import Any, ClassVar

from rescore.exceptions import PluginError, ScoringError, UnknownScorer

__all__ = ["Inputs", "ScoreResult", "Scorer", "ScorerGraph", "check_result", "evaluate"]

Inputs = Mapping[str, Any]
"""What a scorer reads: loader parts by name, plus its dependencies' results by scorer name."""

Feature = float | int | str | bool | None

#: Tolerance for "the components add up to the value" (scores are rounded to 4 decimals).
SUM_TOLERANCE = 1e-3


@dataclass(frozen=True, kw_only=True, slots=True)
class ScoreResult:
    """One scorer's answer for one entity: the value and why.

    ``components`` add up to ``value`` (the breakdown an analyst reads); ``reasons`` are short
    sentences; ``features`` are the raw numbers the scorer derived, kept for audit and ML.
    """

    value: float
    components: Mapping[str, float] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()
    features: Mapping[str, Feature] = field(default_factory=dict)


class Scorer(ABC):
    """Base class of every scorer. Subclasses set the class attributes and ``score``.

    ``inputs`` names the loader parts the scorer reads (the pack's loader only loads the parts
    the planned scorers need); ``depends_on`` names scorers of the same pack whose results it
    reads. ``version`` goes into every stored score and history row: bump it whenever the
    formula changes, so history says which formula produced which number.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    inputs: ClassVar[frozenset[str]] = frozenset()
    depends_on: ClassVar[tuple[str, ...]] = ()
    min_value: ClassVar[float] = 0.0
    max_value: ClassVar[float]
    description: ClassVar[str] = ""

    @abstractmethod
    def score(self, inputs: Inputs) -> ScoreResult:
        """Score one entity. Must be deterministic and free of side effects."""


def check_result(scorer: Scorer, result: ScoreResult) -> ScoreResult:
    """Enforce the scorer contract on one result; raise :class:`ScoringError` if broken."""
    where = f"scorer {scorer.name!r}"
    if not math.isfinite(result.value):
        raise ScoringError(f"{where} returned a non-finite value {result.value!r}")
    if not scorer.min_value - SUM_TOLERANCE <= result.value <= scorer.max_value + SUM_TOLERANCE:
        raise ScoringError(
            f"{where} returned {result.value}, outside [{scorer.min_value}, {scorer.max_value}]"
        )
    if result.components:
        total = math.fsum(result.components.values())
        if abs(total - result.value) > SUM_TOLERANCE:
            raise ScoringError(
                f"{where}: components add up to {total:.4f}, not to the value {result.value:.4f}"
            )
    return result


class ScorerGraph:
    """The scorers of one pack, checked and ordered by their dependencies.

    Refuses (all or nothing) a scorer without a name, a name used twice, a dependency that is
    not registered, and a dependency cycle.
    """

    def __init__(self, pack: str, scorers: Sequence[Scorer]) -> None:
        self.pack = pack
        self._by_name: dict[str, Scorer] = {}
        for scorer in scorers:
            self._add(scorer)
        self.order: tuple[str, ...] = self._topological_order()
        self._dependents = self._invert()

    def _add(self, scorer: Scorer) -> None:
        name = getattr(scorer, "name", "")
        if not name or not getattr(scorer, "version", ""):
            raise PluginError(f"pack {self.pack!r}: {type(scorer).__name__} has no name or version")
        if name in self._by_name:
            raise PluginError(f"pack {self.pack!r}: scorer name {name!r} is registered twice")
        self._by_name[name] = scorer

    def _topological_order(self) -> tuple[str, ...]:
        for scorer in self._by_name.values():
            for dep in scorer.depends_on:
                if dep not in self._by_name:
                    raise PluginError(
                        f"pack {self.pack!r}: scorer {scorer.name!r} depends on unknown {dep!r}"
                    )
        graph = {name: set(s.depends_on) for name, s in sorted(self._by_name.items())}
        try:
            return tuple(TopologicalSorter(graph).static_order())
        except CycleError as exc:
            raise PluginError(f"pack {self.pack!r}: dependency cycle {exc.args[1]}") from exc

    def _invert(self) -> dict[str, set[str]]:
        dependents: dict[str, set[str]] = {name: set() for name in self._by_name}
        for scorer in self._by_name.values():
            for dep in scorer.depends_on:
                dependents[dep].add(scorer.name)
        return dependents

    def __getitem__(self, name: str) -> Scorer:
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(self.order)
            raise UnknownScorer(
                f"pack {self.pack!r} has no scorer {name!r}; known: {known}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[Scorer]:
        return (self._by_name[name] for name in self.order)

    def __len__(self) -> int:
        return len(self._by_name)

    def affected(self, names: Iterable[str]) -> tuple[str, ...]:
        """The named scorers and everything downstream of them, in run order."""
        todo = [self[n].name for n in names]
        seen: set[str] = set()
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(self._dependents[name])
        return tuple(n for n in self.order if n in seen)

    def plan(self, names: Iterable[str], known: Iterable[str] = ()) -> tuple[str, ...]:
        """What must run, in order, to produce ``names`` when the results in ``known`` are
        already stored: the names themselves plus any missing dependency, recursively."""
        have = set(known)
        todo = [self[n].name for n in names]
        run: set[str] = set()
        while todo:
            name = todo.pop()
            if name not in run:
                run.add(name)
                todo.extend(d for d in self[name].depends_on if d not in have)
        return tuple(n for n in self.order if n in run)

    def parts(self, names: Iterable[str]) -> frozenset[str]:
        """The loader parts the named scorers read."""
        return frozenset().union(*(self[n].inputs for n in names))


def evaluate(
    graph: ScorerGraph,
    inputs: Inputs,
    names: Iterable[str] | None = None,
    known: Mapping[str, ScoreResult] | None = None,
) -> dict[str, ScoreResult]:
    """Run scorers of one entity in dependency order, checking each result's contract.

    ``names`` defaults to every scorer of the graph. Dependencies outside ``names`` are taken
    from ``known`` (the stored results) when present, and computed otherwise. Returns the
    results of the scorers that ran, by name.
    """
    known = dict(known or {})
    to_run = graph.plan(graph.order if names is None else names, known)
    results: dict[str, ScoreResult] = {}
    scope: dict[str, Any] = dict(inputs)
    for name in to_run:
        scorer = graph[name]
        for dep in scorer.depends_on:
            scope[dep] = results[dep] if dep in results else known[dep]
        try:
            result = scorer.score(scope)
        except ScoringError:
            raise
        except Exception as exc:
            raise ScoringError(f"scorer {name!r} failed: {exc!r}") from exc
        results[name] = check_result(scorer, result)
    return results
