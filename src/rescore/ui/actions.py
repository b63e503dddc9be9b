"""The dashboard's forms: log in, log out, requeue dead letters (admin, CSRF-checked), and its
static files (our CSS and script, and plotly's bundled ``plotly.min.js``: no CDN)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import FileResponse, RedirectResponse, Response

from rescore.exceptions import RescoreError, StorageUnavailable
from rescore.ui.base import guarded, read, render, ui_of
from rescore.ui.session import COOKIE, Viewer, safe_next, set_login

__all__ = ["router"]

router = APIRouter(prefix="/ui", include_in_schema=False)
STATIC = Path(str(files("rescore.ui") / "static"))
PLOTLY = Path(str(files("plotly") / "package_data" / "plotly.min.js"))
ASSETS = {"ui.css": STATIC / "ui.css", "ui.js": STATIC / "ui.js", "plotly.min.js": PLOTLY}
TYPES = {".css": "text/css", ".js": "text/javascript"}


@router.get("/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", {"next": safe_next(next), "problem": None})


@router.post("/login")
async def login(
    request: Request,
    key: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=2048)] = "/ui",
) -> Response:
    """Check the key once, then keep it in the session cookie."""
    keys = ui_of(request).engine.keys
    target = safe_next(next)
    try:
        await read(keys.verify, key.strip())
    except StorageUnavailable:
        raise
    except RescoreError:
        context = {"next": target, "problem": "That key is not valid (or was revoked)."}
        return render(request, "login.html", context, status=401)
    answer = RedirectResponse(target, status_code=303)
    set_login(answer, request, key.strip())
    return answer


@router.post("/logout")
async def logout(request: Request, csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    async def leave(request: Request, who: Viewer) -> Response:
        if csrf != who.csrf:
            return RedirectResponse("/ui", status_code=303)
        answer = RedirectResponse("/ui/login", status_code=303)
        answer.delete_cookie(COOKIE, path="/ui")
        return answer

    return await guarded(request, leave)


@router.post("/queue/requeue")
async def requeue(
    request: Request,
    csrf: Annotated[str, Form(max_length=128)] = "",
    pack: Annotated[str, Form(max_length=64)] = "",
    entity: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Put dead letters back in line (one entity, or every one when ``entity`` is empty)."""

    async def act(request: Request, who: Viewer) -> Response:
        who.require_admin(csrf)
        engine = ui_of(request).engine
        count = await read(
            engine.requeue_dead, tenant=who.tenant, pack=pack or None, entity=entity or None
        )
        return RedirectResponse(f"/ui/queue?requeued={count}", status_code=303)

    return await guarded(request, act)


@router.get("/static/{name}")
async def static(name: str) -> Response:
    """Only the files listed in :data:`ASSETS` (no path from the request reaches the disk)."""
    path = ASSETS.get(name)
    if path is None:
        return Response("not found", status_code=404, media_type="text/plain")
    return FileResponse(
        path,
        media_type=TYPES[path.suffix],
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
