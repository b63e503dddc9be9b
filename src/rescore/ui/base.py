"""What every dashboard page shares: the UI's state on the app, the guard that sends a visitor
without a working key to the login form, rendering with the security headers, error pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from jinja2 import Environment
from starlette.responses import HTMLResponse, Response

from rescore.engine import Engine
from rescore.exceptions import InvalidInput, RescoreError
from rescore.ui.session import Viewer, login_redirect, viewer

__all__ = [
    "PAGE_SIZE",
    "NavItem",
    "Paged",
    "UiState",
    "guarded",
    "offset",
    "read",
    "render",
    "ui_of",
    "utc_field",
]

PAGE_SIZE = 20
T = TypeVar("T")
#: No script but our own files, no outside host, no framing (clickjacking); plotly sets inline
#: styles, hence 'unsafe-inline' for styles only.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True, slots=True)
class NavItem:
    """A page in the navigation bar."""

    title: str
    path: str


@dataclass(kw_only=True, slots=True)
class UiState:
    """Built once by :func:`rescore.ui.mount_ui`."""

    engine: Engine
    env: Environment
    nav: list[NavItem] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Paged(Generic[T]):
    """One page of a list: ``items``, its number, and whether another follows."""

    items: Sequence[T]
    page: int
    more: bool

    @classmethod
    def of(cls, fetched: Sequence[T], page: int) -> Paged[T]:
        """From ``PAGE_SIZE + 1`` fetched rows: the extra one only says a next page exists."""
        return cls(fetched[:PAGE_SIZE], page, len(fetched) > PAGE_SIZE)


def offset(page: int) -> int:
    return (max(page, 1) - 1) * PAGE_SIZE


def ui_of(request: Request) -> UiState:
    state: UiState = request.app.state.ui
    return state


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    who: Viewer | None = None,
    status: int = 200,
) -> HTMLResponse:
    ui = ui_of(request)
    packs = ui.engine.registry.names
    html = ui.env.get_template(template).render(
        {"request": request, "who": who, "nav": ui.nav, "packs": packs, "path": request.url.path}
        | dict(context)
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def error_page(request: Request, exc: RescoreError, who: Viewer | None) -> HTMLResponse:
    """A refused request as a page: the status and the message naming what was wrong."""
    context = {"status": exc.http_status, "message": exc.message, "field": exc.field}
    return render(request, "error.html", context, who=who, status=exc.http_status)


Handler = Callable[[Request, Viewer], Awaitable[Response]]


async def guarded(request: Request, handler: Handler) -> Response:
    """Run ``handler`` for a viewer with a working key (others go to the login form); a
    refused request becomes an error page with its status, never a traceback."""
    who = None
    try:
        who = await viewer(request, ui_of(request).engine.keys)
        if who is None:
            return login_redirect(request)
        return await handler(request, who)
    except RescoreError as exc:  # a database outage too: a 503 page, not a traceback
        return error_page(request, exc, who)


async def read(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """An engine read in the thread pool (engine operations block)."""
    return await run_in_threadpool(function, *args, **kwargs)


def utc_field(value: str | None, field_name: str) -> datetime | None:
    """A ``datetime-local`` form value (or ISO 8601) as UTC; naive means UTC."""
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{value!r} is not a date and time (YYYY-MM-DDTHH:MM)", field=field_name
        ) from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
