"""A rule action's message: its templates rendered with a firing's context (the dispatcher
sends it, the dry run shows it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rescore.automations.rules import Action
from rescore.automations.templates import render

__all__ = ["rendered"]


def rendered(action: Action, context: Mapping[str, Any]) -> dict[str, Any]:
    """An action's message, its templates rendered with ``context``."""
    if action.notify is not None:
        to = action.notify.to
        return {
            "title": render(action.notify.title, context),
            "body": render(action.notify.body, context),
            "to": render(to, context) if to else None,
        }
    if action.ingest is not None:
        return {
            "type": action.ingest.type,
            "entity": render(action.ingest.entity, context),
            "payload": _render_values(action.ingest.payload, context),
        }
    return {"context": dict(context)}


def _render_values(value: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return render(value, context)
    if isinstance(value, Mapping):
        return {k: _render_values(v, context) for k, v in value.items()}
    if isinstance(value, Sequence):
        return [_render_values(v, context) for v in value]
    return value
