"""rescore: business events in, only the touched entities rescored, every score explained.

The public API, importable from here::

    from rescore import Lane, Pack, Route, Scorer, ScoreResult, Settings, open_engine

    engine = open_engine(Settings(database_url="sqlite:///scores.db"), create=True)
    engine.migrate()

Names load on first use (PEP 562), so ``import rescore`` stays instant and the command line
starts fast; ``tests/unit/test_exported_members.py`` keeps ``__all__`` honest.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_EXPORTS = {
    "BatchReport": "rescore.reports",
    "ConfigurationError": "rescore.exceptions",
    "EmbeddedRuntime": "rescore.runtime.embedded",
    "Engine": "rescore.engine",
    "EntityNotFound": "rescore.exceptions",
    "Explanation": "rescore.reports",
    "IngestResult": "rescore.reports",
    "InvalidEvent": "rescore.exceptions",
    "InvalidInput": "rescore.exceptions",
    "Lane": "rescore.routing",
    "NotFound": "rescore.exceptions",
    "Observer": "rescore.reports",
    "Outcome": "rescore.reports",
    "Pack": "rescore.plugins",
    "PluginError": "rescore.exceptions",
    "RescoreError": "rescore.exceptions",
    "Route": "rescore.routing",
    "Schedule": "rescore.schedule",
    "ScoreResult": "rescore.scoring",
    "Scorer": "rescore.scoring",
    "ScoringError": "rescore.exceptions",
    "ServiceUnavailable": "rescore.exceptions",
    "Settings": "rescore.settings",
    "StorageUnavailable": "rescore.exceptions",
    "UnknownEventType": "rescore.exceptions",
    "UnknownPack": "rescore.exceptions",
    "discover": "rescore.plugins",
    "open_engine": "rescore.bootstrap",
}

__all__ = [
    "BatchReport",
    "ConfigurationError",
    "EmbeddedRuntime",
    "Engine",
    "EntityNotFound",
    "Explanation",
    "IngestResult",
    "InvalidEvent",
    "InvalidInput",
    "Lane",
    "NotFound",
    "Observer",
    "Outcome",
    "Pack",
    "PluginError",
    "RescoreError",
    "Route",
    "Schedule",
    "ScoreResult",
    "Scorer",
    "ScoringError",
    "ServiceUnavailable",
    "Settings",
    "StorageUnavailable",
    "UnknownEventType",
    "UnknownPack",
    "__version__",
    "discover",
    "open_engine",
]

if TYPE_CHECKING:
    from rescore.bootstrap import open_engine
    from rescore.engine import Engine
    from rescore.exceptions import (
        ConfigurationError,
        EntityNotFound,
        InvalidEvent,
        InvalidInput,
        NotFound,
        PluginError,
        RescoreError,
        ScoringError,
        ServiceUnavailable,
        StorageUnavailable,
        UnknownEventType,
        UnknownPack,
    )
    from rescore.plugins import Pack, discover
    from rescore.reports import BatchReport, Explanation, IngestResult, Observer, Outcome
    from rescore.routing import Lane, Route
    from rescore.runtime.embedded import EmbeddedRuntime
    from rescore.schedule import Schedule
    from rescore.scoring import Scorer, ScoreResult
    from rescore.settings import Settings


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'rescore' has no attribute {name!r}") from None
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
