"""API keys: made by ``rescore keys create``, stored as salted SHA-256 digests, never in clear.

A key reads ``rsk_<key_id>_<secret>``: the id finds the row, the 256-bit secret is checked
against its digest in constant time. A fast hash is right here (unlike for passwords): the
secret is random and long, so there is nothing to brute-force, and every request checks one.
Verified keys are remembered for ``cache_seconds`` so a lookup does not cost a database read;
a revoked key stops working within that time.

Scopes nest: ``admin`` can do what ``write`` can, which can do what ``read`` can.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

import sqlalchemy as sa

from rescore.db.engine import Database
from rescore.db.schema import api_keys
from rescore.exceptions import InvalidInput, RescoreError, StorageUnavailable

__all__ = ["Forbidden", "KeyStore", "Principal", "Scope", "Unauthorized"]

PREFIX = "rsk"


class Unauthorized(RescoreError):
    """A valid API key is required: send it as 'Authorization: Bearer <key>'."""

    http_status = 401


class Forbidden(RescoreError):
    """This API key's scope does not allow this operation."""

    http_status = 403


class Scope(IntEnum):
    READ = 1
    WRITE = 2
    ADMIN = 3

    @classmethod
    def parse(cls, name: str) -> Scope:
        try:
            return cls[name.upper()]
        except KeyError:
            raise InvalidInput(
                f"unknown scope {name!r}: use read, write or admin", field="scope"
            ) from None


@dataclass(frozen=True, kw_only=True, slots=True)
class Principal:
    """Who is calling: the key's id, its tenant and its scope."""

    key_id: str
    tenant: str
    scope: Scope

    def allows(self, needed: Scope) -> bool:
        return self.scope >= needed

    def require(self, needed: Scope) -> None:
        if not self.allows(needed):
            raise Forbidden(
                f"this key has scope {self.scope.name.lower()}; "
                f"this operation needs {needed.name.lower()}"
            )


@dataclass(frozen=True, kw_only=True, slots=True)
class KeyInfo:
    key_id: str
    tenant: str
    scope: str
    label: str | None
    created_at: datetime
    revoked_at: datetime | None


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()


class KeyStore:
    """Create, verify, list and revoke API keys."""

    def __init__(self, db: Database, *, cache_seconds: float = 30.0) -> None:
        self.db = db
        self.cache_seconds = cache_seconds
        self._verified: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def create(
        self, tenant: str, scope: str, now: datetime, label: str | None = None
    ) -> tuple[str, str]:
        """Make a key; return (key_id, the full key). The key is shown once, never stored."""
        if not tenant or len(tenant) > 64:
            raise InvalidInput("tenant must be 1 to 64 characters", field="tenant")
        parsed = Scope.parse(scope)
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_hex(16)
        with self.db.begin() as conn:
            conn.execute(
                api_keys.insert().values(
                    key_id=key_id,
                    tenant=tenant,
                    scope=parsed.name.lower(),
                    salt=salt,
                    digest=_digest(salt, secret),
                    label=label,
                    created_at=now,
                )
            )
        return key_id, f"{PREFIX}_{key_id}_{secret}"

    def verify(self, token: str | None) -> Principal:
        """The principal of a presented key, or :class:`Unauthorized`.

        While the database is unreachable, a key verified before stays accepted (lookups must
        keep answering); a key never seen gets :class:`StorageUnavailable` (503)."""
        if not token:
            raise Unauthorized()
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            raise Unauthorized("malformed API key: expected rsk_<id>_<secret>")
        hit = self.cached(token)
        if hit is not None:
            return hit
        try:
            principal = self._check(parts[1], parts[2])
        except StorageUnavailable:
            with self._lock:
                seen = self._verified.get(token)
            if seen is None:
                raise
            return seen[1]
        with self._lock:
            self._verified[token] = (time.monotonic(), principal)
        return principal

    def cached(self, token: str | None) -> Principal | None:
        """A key verified within ``cache_seconds`` (no database read), or None."""
        if not token:
            return None
        with self._lock:
            hit = self._verified.get(token)
        if hit is None or time.monotonic() - hit[0] > self.cache_seconds:
            return None
        return hit[1]

    def _check(self, key_id: str, secret: str) -> Principal:
        with self.db.read() as conn:
            row = conn.execute(sa.select(api_keys).where(api_keys.c.key_id == key_id)).first()
        if row is None or row.revoked_at is not None:
            raise Unauthorized("unknown or revoked API key")
        if not hmac.compare_digest(row.digest, _digest(row.salt, secret)):
            raise Unauthorized("unknown or revoked API key")
        return Principal(key_id=key_id, tenant=row.tenant, scope=Scope.parse(row.scope))

    def revoke(self, key_id: str, now: datetime) -> bool:
        with self.db.begin() as conn:
            result = conn.execute(
                api_keys.update()
                .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        with self._lock:
            self._verified = {t: v for t, v in self._verified.items() if v[1].key_id != key_id}
        return bool(result.rowcount)

    def list(self) -> list[KeyInfo]:
        with self.db.read() as conn:
            rows = conn.execute(sa.select(api_keys).order_by(api_keys.c.created_at)).all()
        return [
            KeyInfo(
                key_id=r.key_id,
                tenant=r.tenant,
                scope=r.scope,
                label=r.label,
                created_at=r.created_at,
                revoked_at=r.revoked_at,
            )
            for r in rows
        ]
