"""Alerts to subscribers through the pack's own bot: the ``tgbot://`` notification scheme.

The ``tenders.alerta`` rule notifies on the ``telegram`` channel, whose Apprise URL is
``RESCORE_CHANNEL_TELEGRAM`` (the core's channels). Apprise's own ``tgram://`` always calls
``api.telegram.org`` with a token written into the URL; this scheme sends through the bot the
subscribers talk to instead, with its token (``RESCORE_TENDERS_TELEGRAM_TOKEN``, never in the
URL, so never in a delivery record) and its configurable Bot API base URL
(``RESCORE_TENDERS_TELEGRAM_BASE_URL``), which is how the tests see an alert arrive at the
fake server::

    RESCORE_CHANNEL_TELEGRAM='tgbot://{to}'      # {to}: the subscriber's telegram_chat_id

The pack registers the scheme with Apprise when its rules are loaded (:func:`register`, run
by ``TendersPack.register_rules``), so every process that delivers the rule knows it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import httpx

__all__ = ["SCHEME", "register", "send"]

SCHEME = "tgbot"

log = logging.getLogger(__name__)
_done = threading.Lock()
_registered = False


def send(chat: str, title: str, body: str) -> bool:
    """``sendMessage`` to ``chat`` through the configured bot; whether Telegram took it."""
    from rescore.packs.tenders.settings import TendersSettings

    settings = TendersSettings()
    if settings.telegram_token is None or not chat.lstrip("-").isdigit():
        log.warning("tgbot: no RESCORE_TENDERS_TELEGRAM_TOKEN, or %r is not a chat id", chat)
        return False
    url = f"{settings.telegram_base_url}{settings.telegram_token.get_secret_value()}/sendMessage"
    text = f"{title}\n{body}" if title else body
    try:
        answer = httpx.post(url, json={"chat_id": int(chat), "text": text}, timeout=15)
    except httpx.HTTPError as exc:
        log.warning("tgbot: %s reaching the Bot API", type(exc).__name__)
        return False
    if not answer.is_success:
        log.warning("tgbot: the Bot API answered %d", answer.status_code)
    return answer.is_success


def _notify(
    body: str, title: str, notify_type: str, meta: dict[str, Any], *_: Any, **__: Any
) -> bool:
    return send(str(meta.get("host") or ""), title, body)


def register() -> None:
    """Teach Apprise the ``tgbot://`` scheme (once per process)."""
    global _registered
    with _done:
        if _registered:
            return
        from apprise.decorators import notify

        notify(on=SCHEME, name="CompraAgil Telegram bot")(_notify)  # type: ignore[no-untyped-call]
        _registered = True
