"""T5: seed 001's phase 4 goal, "the bot answers at once (< 200 ms)", measured while its
workers are busy with price analyses.

The tenders pack runs its Telegram bot against its fake Bot API server on loopback (the pack's
``bot_latency``: python-telegram-bot long polling, two worker threads in the bot's process,
the price cache off, demo data in a scratch SQLite file); ``/precio`` commands arrive faster
than the workers finish them. The core never imports a pack: it is found by name and asked
through :class:`_BotBench`.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from rescore.bench.report import Measurement
from rescore.exceptions import RescoreError
from rescore.plugins import discover

__all__ = ["GOAL_MS", "bot_latency"]

GOAL_MS = 200.0
TITLE = "Telegram bot acknowledgement latency while the workers run price analyses"


@runtime_checkable
class _BotBench(Protocol):
    """What the tenders pack offers this benchmark (``TendersPack.bot_latency``)."""

    def bot_latency(self, *, commands: int) -> dict[str, Any]: ...


def bot_latency(commands: int = 200) -> Measurement:
    """T5: p50/p95/p99 of the bot's acknowledgement of ``commands`` ``/precio`` commands."""
    try:
        pack = discover(["tenders"])["tenders"]
    except RescoreError as exc:
        return Measurement(id="T5", title=TITLE, method="", skipped=f"no tenders pack ({exc})")
    if not isinstance(pack, _BotBench):
        return Measurement(id="T5", title=TITLE, method="", skipped="the pack offers no bot")
    found = pack.bot_latency(commands=commands)
    return Measurement(
        id="T5",
        title=TITLE,
        method=(
            f"{commands} /precio commands from 10 chats, one every 20 ms, to the bot "
            "(python-telegram-bot, long polling) against a fake Bot API server on loopback; "
            "2 worker threads in the bot's process run each analysis (cache off) on the demo "
            "history in SQLite; acknowledgement = update handed out -> reply received"
        ),
        numbers={k: float(v) for k, v in found.items()},
        goal=f"acknowledgement p99 <= {GOAL_MS:g} ms",
        met=found["ack_p99_ms"] <= GOAL_MS,
    )
