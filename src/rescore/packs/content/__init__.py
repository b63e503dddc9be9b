"""The content pack (seed 004's AI-first course ETL): see :mod:`rescore.packs.content.pack` and
docs/packs/content.md."""

from __future__ import annotations

from rescore.packs.content.pack import EVENT_ROUTES, ContentPack, run_pipeline

__all__ = ["EVENT_ROUTES", "ContentPack", "run_pipeline"]
