"""Runtimes that drive the engine: in-process threads (embedded) and, later, Celery."""

from rescore.runtime.embedded import EmbeddedRuntime

__all__ = ["EmbeddedRuntime"]
