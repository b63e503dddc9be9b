"""Where deliveries go: notification channels through Apprise, signed webhooks.

**Channels.** A notify action names a channel (``slack``); its Apprise URL comes from the
environment variable ``RESCORE_CHANNEL_SLACK`` (``slack://...``, ``tgram://...``,
``mailto://...``, ``json://host/path`` ...), or the rule gives ``url`` itself. ``{to}`` in the
URL is replaced by the message's rendered recipient. A channel with no URL configured is not an
error: its messages go to a JSON-lines file per channel in ``channel_dir`` (the offline
default, so every automation works with no key), and the delivery records where it went.
Apprise's JSON, form and XML targets get the idempotency key as an ``Idempotency-Key`` header.

**Webhooks** are POSTed as JSON with ``Idempotency-Key`` and ``Rescore-Signature:
t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` under the secret in the rule's
``secret_env`` variable (Stripe's scheme: the receiver recomputes it and refuses a body older
than a few minutes). A 4xx answer other than 408, 425 and 429 will not get better: the delivery
is dead at once; anything else is retried.

URLs and secrets never appear in an error: they are replaced by the channel's name.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import apprise
import httpx
import orjson

from rescore.automations.rules import Notify, Webhook

__all__ = ["DeliveryFailed", "channel_url", "notify", "signature", "webhook"]

#: Apprise schemes that are plain HTTP posts and take ``+Header=value`` parameters.
_HEADER_SCHEMES = ("json", "jsons", "form", "forms", "xml", "xmls")
_URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
_RETRYABLE = (408, 425, 429)


class DeliveryFailed(Exception):
    """A delivery attempt failed; ``permanent`` when retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def redact(text: str) -> str:
    """``text`` with every URL replaced (they may carry tokens)."""
    return _URL.sub("<url>", text)


def channel_url(notify: Notify) -> str | None:
    """The Apprise URL of a notify action: the rule's, or ``RESCORE_CHANNEL_<NAME>``."""
    if notify.url is not None:
        return notify.url
    assert notify.channel is not None
    return os.environ.get(f"RESCORE_CHANNEL_{notify.channel.upper()}") or None


def notify(action: Notify, message: Mapping[str, Any], *, key: str, channel_dir: Path) -> str:
    """Send ``message`` (``title``, ``body``, ``to``) through the action's channel; returns
    where it went."""
    name = action.channel or "url"
    url = channel_url(action)
    if url is None:
        return _to_file(channel_dir, name, message, key)
    url = url.replace("{to}", quote(str(message.get("to") or ""), safe="@+"))
    url = _with_key(url, key)
    sender = apprise.Apprise()
    if not sender.add(url):
        raise DeliveryFailed(f"channel {name!r}: Apprise does not know its URL", permanent=True)
    with apprise.LogCapture(level=logging.WARNING) as logs:  # type: ignore[no-untyped-call]
        sent = sender.notify(title=str(message.get("title", "")), body=str(message["body"]))
    if not sent:
        said = redact(logs.getvalue().strip().splitlines()[-1] if logs.getvalue().strip() else "")
        raise DeliveryFailed(f"channel {name!r} did not accept the message {said}".strip())
    return f"channel:{name}"


def _with_key(url: str, key: str) -> str:
    scheme = url.split("://", 1)[0].lower()
    if scheme not in _HEADER_SCHEMES:
        return url
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}+Idempotency-Key={key}"


def _to_file(folder: Path, name: str, message: Mapping[str, Any], key: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.jsonl"
    line = orjson.dumps({"idempotency_key": key, **message}, default=str)
    with path.open("ab") as out:
        out.write(line + b"\n")
    return f"file:{path}"


def signature(secret: str, body: bytes, at: int) -> str:
    """The ``Rescore-Signature`` header value of ``body`` sent at unix time ``at``."""
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def webhook(action: Webhook, payload: Mapping[str, Any], *, key: str, timeout: float = 10.0) -> str:
    """POST ``payload`` signed; returns where it went."""
    body = orjson.dumps(payload, default=str)
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    if action.secret_env is not None:
        secret = os.environ.get(action.secret_env)
        if not secret:
            raise DeliveryFailed(
                f"webhook: the secret variable {action.secret_env} is not set", permanent=True
            )
        headers["Rescore-Signature"] = signature(secret, body, int(time.time()))
    try:
        answer = httpx.post(action.url, content=body, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"webhook: {type(exc).__name__}: {redact(str(exc))}") from None
    if answer.is_success:
        return f"webhook:{answer.status_code}"
    permanent = 400 <= answer.status_code < 500 and answer.status_code not in _RETRYABLE
    raise DeliveryFailed(f"webhook answered {answer.status_code}", permanent=permanent)
