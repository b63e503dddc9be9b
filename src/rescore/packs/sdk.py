"""What a pack may use from the core, beyond the plugin contract itself.

A pack subclasses :class:`rescore.plugins.Pack` and its scorers subclass
:class:`rescore.scoring.Scorer`; for its own commands and routes it imports helpers from
**this module only**, never from ``rescore.cli.*`` or ``rescore.api.*`` (an import-linter
contract in ``make test`` enforces it). What is here is a documented promise to pack authors.

Commands (``Pack.register_commands``)::

    from rescore.packs.sdk import Session, echo, pass_session, progress_bar

    @click.command()
    @pass_session
    def count(session: Session) -> None:
        \"\"\"How many of the pack's entities are scored.\"\"\"
        with session.engine() as engine:
            echo(f"{sum(1 for _ in engine.iter_scores('mypack'))} scores")

The session's engine is the one door to the data: use its operations (``current``,
``explain``, ``ingest``, ``recompute``, ``iter_scores``, ...), never its tables.

HTTP routes (``Pack.register_routes``, served under ``/v1/packs/<pack>``; and
``Pack.register_contract_routes``, served at the root, only for contracts existing clients call
at fixed paths)::

    from fastapi import APIRouter
    from rescore.packs.sdk import AUTH, Reader, State, errors

    router = APIRouter(tags=["mypack"])

    @router.get("/summary", responses=errors(*AUTH, 503))   # GET /v1/packs/mypack/summary
    def summary(who: Reader, state: State) -> dict[str, int]:
        return state.engine.pending_counts(tenant=who.tenant)

A route that changes the pack's own source (seed 003's customer registration) writes it in
``source_write(engine)`` and then ingests the event announcing the change::

    with source_write(state.engine) as conn:        # the business system's tables only
        conn.execute(insert(customers).values(...))
    state.engine.ingest([event], tenant=who.tenant)

The HTTP names load on first use, so a pack's commands do not pay for FastAPI.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import import_module
from typing import TYPE_CHECKING, Any

# -- commands (Pack.register_commands) ---------------------------------------------------------
from rescore.cli.framework import (
    GracefulStop,
    Session,
    console,
    echo,
    pass_session,
    progress_bar,
    warn,
)

# -- HTTP routes (Pack.register_routes, Pack.register_contract_routes) -------------------------
#
# Reader, Writer, Admin   the caller's Principal (tenant, scope), its key checked for that scope
# State                   the service's ApiState: .engine (every operation), .lookup, .settings
# ApiState                its type
# errors(*codes)          OpenAPI entries for error statuses ({"detail", "field"} bodies)
# ok(example, *codes)     200 with a documented example answer, plus errors(*codes)
# example_body(value)     openapi_examples for a request body or a parameter
# AUTH, POSTED            what every keyed endpoint / every endpoint with a body can answer
# settle_and_view(state, result, timeout)
#                         rescore what an ingest queued now; the fresh score views
# fields_as_sent(rename)  re-raise errors with fields named as the caller sent them

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from sqlalchemy import Connection

    from rescore.api.deps import Admin, ApiState, Reader, State, Writer
    from rescore.api.guard import fields_as_sent
    from rescore.api.shared import AUTH, POSTED, errors, example_body, ok, settle_and_view
    from rescore.engine import Engine
    from rescore.runtime.embedded import EmbeddedRuntime

_HTTP = {
    "Admin": "rescore.api.deps",
    "ApiState": "rescore.api.deps",
    "Reader": "rescore.api.deps",
    "State": "rescore.api.deps",
    "Writer": "rescore.api.deps",
    "fields_as_sent": "rescore.api.guard",
    "AUTH": "rescore.api.shared",
    "POSTED": "rescore.api.shared",
    "errors": "rescore.api.shared",
    "example_body": "rescore.api.shared",
    "ok": "rescore.api.shared",
    "settle_and_view": "rescore.api.shared",
    # not HTTP, but loaded the same way: a pack's demo command runs the workers in process
    "EmbeddedRuntime": "rescore.runtime.embedded",
}

__all__ = [
    "AUTH",
    "POSTED",
    "Admin",
    "ApiState",
    "EmbeddedRuntime",
    "GracefulStop",
    "Reader",
    "Session",
    "State",
    "Writer",
    "all_keys",
    "console",
    "echo",
    "errors",
    "example_body",
    "fields_as_sent",
    "metrics_registry",
    "ok",
    "pass_session",
    "present_keys",
    "progress_bar",
    "settle_and_view",
    "settled",
    "source_read",
    "source_write",
    "warn",
]


def present_keys(conn: Connection, key: Any, entities: Sequence[str]) -> set[str]:
    """Which of ``entities`` the source has in the column ``key`` (one ``IN`` query per 500):
    what most packs' ``known_entities`` hook answers."""
    from sqlalchemy import select

    wanted = sorted(set(entities))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found.update(conn.execute(select(key).where(key.in_(chunk))).scalars())
    return found


def all_keys(conn: Connection, key: Any) -> Iterator[str]:
    """Every value of the column ``key`` in order, streamed: what most packs' ``entity_keys``
    hook answers."""
    from sqlalchemy import select

    query = select(key).order_by(key)
    yield from conn.execution_options(yield_per=50_000).execute(query).scalars()


@contextmanager
def source_write(engine: Engine) -> Iterator[Connection]:
    """A write transaction on the engine's **source** database (the pack's own tables, never
    rescore's): committed when the block ends, rolled back on any error. Ingest the event that
    announces the change after the block, so the recompute it queues reads committed data."""
    with engine.source.begin() as conn:
        yield conn


@contextmanager
def source_read(engine: Engine) -> Iterator[Connection]:
    """A read-only connection on the engine's source database (a snapshot on SQLite)."""
    with engine.source.read() as conn:
        yield conn


def settled(engine: Engine, timeout: float = 60.0) -> bool:
    """Wait until the embedded runtime has rescored everything pending and delivered every
    pending notification (a demo's last step before its report); False after ``timeout``."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = engine.pending_counts(tenant=None)
        pending = engine.delivery_counts(tenant=engine.settings.tenant).get("pending", 0)
        if not (waiting["critical"] or waiting["normal"] or pending):
            return True
        time.sleep(0.1)
    return False


def metrics_registry(engine: Engine) -> CollectorRegistry | None:
    """The Prometheus registry the engine's metrics live in (what ``/metrics`` serves), for a
    pack's own collectors (``registry.register(collector)``); None when the engine carries no
    metrics."""
    from rescore.metrics import metrics_of

    found = metrics_of(engine)
    return None if found is None else found.registry


def __getattr__(name: str) -> Any:
    """Import an HTTP helper when a pack first asks for it."""
    module = _HTTP.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
