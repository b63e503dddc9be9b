"""Where packs' routes are served, and the rule that no two owners serve the same route.

- ``Pack.register_routes``: under ``/v1/packs/<pack>`` (``/analytics`` of the leads pack is
  ``/v1/packs/leads/analytics``), so packs never step on each other or on the core.
- ``Pack.register_contract_routes``: at the root, as they are. The documented exception, for
  contracts existing clients call at fixed paths (seed 000's ``/update-score``,
  ``/update-batch`` and ``/predict``).

A method and path claimed twice (by two packs, a pack and the core, or one pack twice) is
refused while the app is built, with a :class:`PluginError` naming both owners: a route that
silently shadows another is a bug nobody sees until a client hits it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from fastapi import FastAPI
from starlette.routing import BaseRoute

from rescore.exceptions import PluginError
from rescore.plugins import PackRegistry

__all__ = ["PACK_PREFIX", "mount_packs"]

PACK_PREFIX = "/v1/packs"

Claims = dict[tuple[str, str], str]  # (method, path shape) -> owner


def mount_packs(app: FastAPI, registry: PackRegistry) -> None:
    """Include every loaded pack's routers in ``app`` (the core's routes already in it)."""
    claims: Claims = {}
    _claim(claims, app.routes, "", "the core")
    for name in registry.names:
        pack = registry[name]
        for router in pack.register_routes():
            _claim(claims, router.routes, f"{PACK_PREFIX}/{name}", f"pack {name!r}")
            app.include_router(router, prefix=f"{PACK_PREFIX}/{name}")
        for router in pack.register_contract_routes():
            _claim(claims, router.routes, "", f"pack {name!r} (contract route)")
            app.include_router(router)


def _claim(claims: Claims, routes: Iterable[BaseRoute], prefix: str, owner: str) -> None:
    """Record what ``routes`` serve; path parameters compare by position only (``/x/{a}``
    and ``/x/{b}`` are the same route)."""
    for method, path in _served(routes, prefix):
        key = (method, re.sub(r"\{[^}]*\}", "{}", path))
        taken = claims.get(key)
        if taken is not None:
            raise PluginError(f"{method} {path} is claimed by both {taken} and {owner}")
        claims[key] = owner


def _served(routes: Iterable[BaseRoute], prefix: str) -> Iterator[tuple[str, str]]:
    """(method, full path) of every route, through included routers (FastAPI keeps an
    included router as one entry that holds the original and the prefix it was given)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            context = getattr(route, "include_context", None)
            yield from _served(inner.routes, prefix + str(getattr(context, "prefix", "")))
            continue
        path = getattr(route, "path", None)
        for method in sorted(getattr(route, "methods", None) or ()):
            if path is not None:
                yield method, prefix + path
