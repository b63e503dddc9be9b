"""Who is looking at the dashboard: an API key, from the login cookie or a bearer header.

The login form sends a key once; the answer sets it in a cookie that scripts cannot read
(``HttpOnly``), that no other site's page can make the browser send (``SameSite=Strict``), that
only ``/ui`` receives, and that is ``Secure`` behind HTTPS. A read-scope key views; acting
(requeueing dead letters) needs admin and a CSRF token: an HMAC of the key, so it is bound to
the session, needs no server-side state, and a page of another site cannot know it. A revoked
key stops working on the next page, as everywhere else.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from rescore.exceptions import RescoreError, StorageUnavailable
from rescore.keys import Forbidden, KeyStore, Principal, Scope

__all__ = ["COOKIE", "Viewer", "csrf_token", "login_redirect", "set_login", "viewer"]

COOKIE = "rescore_ui"
MAX_AGE = 12 * 3600  # a day's shift; log in again after


class Viewer:
    """A verified key and what it may do on the pages."""

    def __init__(self, principal: Principal, key: str) -> None:
        self.principal = principal
        self.csrf = csrf_token(key)

    @property
    def tenant(self) -> str:
        return self.principal.tenant

    @property
    def admin(self) -> bool:
        return self.principal.scope >= Scope.ADMIN

    def require_admin(self, sent_csrf: str) -> None:
        """Acting needs admin scope and this session's CSRF token."""
        if not hmac.compare_digest(sent_csrf.encode(), self.csrf.encode()):
            raise Forbidden("the form's CSRF token does not match this session: reload the page")
        self.principal.require(Scope.ADMIN)


def csrf_token(key: str) -> str:
    return hmac.new(key.encode(), b"rescore-ui-csrf", hashlib.sha256).hexdigest()


def presented(request: Request) -> str | None:
    """The key a request carries: ``Authorization: Bearer`` first, else the login cookie."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.cookies.get(COOKIE) or None


async def viewer(request: Request, keys: KeyStore) -> Viewer | None:
    """The verified viewer of a request, or None (no key, or one that no longer works)."""
    key = presented(request)
    if key is None:
        return None
    found = keys.cached(key)
    if found is None:
        try:
            found = await run_in_threadpool(keys.verify, key)
        except StorageUnavailable:
            raise
        except RescoreError:
            return None
    return Viewer(found, key)


def set_login(response: Response, request: Request, key: str) -> None:
    response.set_cookie(
        COOKIE,
        key,
        max_age=MAX_AGE,
        path="/ui",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def login_redirect(request: Request) -> RedirectResponse:
    """To the login form, coming back here after."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/ui/login?next={quote(target, safe='')}", status_code=303)


def safe_next(target: str | None) -> str:
    """Only a page of the dashboard itself (never another site: no open redirect)."""
    if target and target.startswith("/ui") and not target.startswith("//"):
        return target
    return "/ui"
