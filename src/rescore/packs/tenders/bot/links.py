"""Link codes: how a chat proves it speaks for a subscriber.

A company's RUT is public in Chile, so ``/start <rut>`` alone would let anyone take over a
subscriber's bot. With ``RESCORE_TENDERS_LINK_SECRET`` set, ``/start`` takes only a code
that the subscriber got from CompraAgil (``rescore tenders enlace``, or a
``https://t.me/<bot>?start=<code>`` link the web app shows): the subscriber's id and an
HMAC-SHA256 of it under the secret, in base32 (39 characters, within Telegram's 64 for a
deep link's ``start`` parameter). Without the secret, ``/start <rut>`` links a chat (a
deployment's choice for a closed pilot, said in ``/help``'s answer)::

    code = link_code(secret, subscriber_id)
    assert subscriber_of(secret, code) == subscriber_id
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid

__all__ = ["link_code", "subscriber_of"]

_MAC = 8  # bytes of the HMAC kept: 2**64 guesses per subscriber


def _mac(secret: str, raw: bytes) -> bytes:
    return hmac.new(secret.encode(), b"tenders-link:" + raw, hashlib.sha256).digest()[:_MAC]


def link_code(secret: str, subscriber_id: str) -> str:
    """The code that links a chat to ``subscriber_id``."""
    raw = uuid.UUID(subscriber_id).bytes
    return base64.b32encode(raw + _mac(secret, raw)).decode().rstrip("=")


def subscriber_of(secret: str, code: str) -> str | None:
    """The subscriber id ``code`` was made for, or None (malformed, or not signed by us)."""
    text = code.strip().upper()
    try:
        data = base64.b32decode(text + "=" * (-len(text) % 8))
    except ValueError:
        return None
    raw, mac = data[:16], data[16:]
    if len(raw) != 16 or not hmac.compare_digest(mac, _mac(secret, raw)):
        return None
    return str(uuid.UUID(bytes=raw))
