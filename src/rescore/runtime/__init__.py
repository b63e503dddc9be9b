"""Runtimes that drive the engine: in-process threads (embedded) and Celery (distributed)."""

from __future__ import annotations

from rescore.runtime.embedded import EmbeddedRuntime

__all__ = ["EmbeddedRuntime"]
