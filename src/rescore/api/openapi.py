"""The OpenAPI schema says what the server accepts, for the packs it loaded.

FastAPI's schema, plus what it cannot know:

- the API-key security of every operation but health;
- 400 (not JSON) and 413 (too large) on every operation with a body: the body guard answers
  them before a route runs;
- the events FastAPI cannot describe (the body of ``POST /v1/events`` is validated by the
  engine, so a single event never gets a spurious "should be a valid list"): ``EventIn`` with
  the loaded event types and packs as enums, one event or a batch;
- every ``pack`` parameter and field as an enum of the loaded packs.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from rescore.api.deps import SECURITY_SCHEMES
from rescore.api.models import MAX_BATCH, ErrorOut
from rescore.events import EventIn
from rescore.plugins import PackRegistry

__all__ = ["EVENTS_BODY", "OPEN", "build_openapi"]

#: Operations anyone may call.
OPEN = {"/healthz", "/readyz", "/metrics"}

#: The request body of ``POST /v1/events`` (components added by :func:`build_openapi`).
EVENTS_BODY = {"$ref": "#/components/schemas/EventBatchIn"}

_ERROR = {"$ref": "#/components/schemas/ErrorOut"}


def build_openapi(app: FastAPI, registry: PackRegistry) -> dict[str, Any]:
    """The schema of ``app`` (cached on it)."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {})
        components["securitySchemes"] = SECURITY_SCHEMES
        components.setdefault("schemas", {}).update(_event_schemas(registry))
        components["schemas"].setdefault("ErrorOut", ErrorOut.model_json_schema())
        for path, operations in schema["paths"].items():
            for operation in operations.values():
                _complete(operation, path, registry.names)
        _packs_as_enum(components["schemas"].get("RequeueIn", {}), registry.names)
        app.openapi_schema = schema
    return app.openapi_schema


def _complete(operation: dict[str, Any], path: str, packs: list[str]) -> None:
    if path not in OPEN:
        operation["security"] = [{"bearer": []}, {"apiKey": []}]
    responses = operation.setdefault("responses", {})
    if "requestBody" in operation:
        for status, what in (("400", "The body is not JSON"), ("413", "The body is too large")):
            responses.setdefault(
                status, {"description": what, "content": {"application/json": {"schema": _ERROR}}}
            )
    for parameter in operation.get("parameters", []):
        if parameter.get("name") == "pack":
            parameter["schema"] = {"type": "string", "enum": packs}


def _event_schemas(registry: PackRegistry) -> dict[str, Any]:
    event = EventIn.model_json_schema()
    properties = event["properties"]
    properties["type"] = {
        "type": "string",
        "enum": registry.router.known_types(),
        "description": "The event type; each pack's types are listed in its description.",
    }
    properties["pack"] = {
        "anyOf": [{"type": "string", "enum": registry.names}, {"type": "null"}],
        "default": None,
        "description": "Needed only when two packs declare the type.",
    }
    properties["occurred_at"] |= {
        "description": "ISO 8601 (a number is refused); a time without a zone is UTC."
    }
    properties["payload"] |= {"description": "Free JSON: finite numbers, integers in 64 bits."}
    batch = {
        "title": "EventBatchIn",
        "description": f"One event, or a batch of up to {MAX_BATCH:,} (all or nothing).",
        "anyOf": [
            {"$ref": "#/components/schemas/EventIn"},
            {
                "type": "array",
                "items": {"$ref": "#/components/schemas/EventIn"},
                "maxItems": MAX_BATCH,
            },
        ],
    }
    return {"EventIn": event, "EventBatchIn": batch}


def _packs_as_enum(model: dict[str, Any], packs: list[str]) -> None:
    field = model.get("properties", {}).get("pack")
    if field is not None:
        field["anyOf"] = [{"type": "string", "enum": packs}, {"type": "null"}]
