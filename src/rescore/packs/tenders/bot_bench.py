"""What ``rescore bench --only T5`` asks of the tenders pack: the bot's acknowledgement
latency while its workers are busy with price analyses.

A scratch SQLite database gets the demo data (24 months of quotes, open tenders, subscribers
made PROFESIONAL so no quota stops them, each linked to a chat); the bot runs as in
production (python-telegram-bot long polling, two worker threads in the same process, the
price cache off so every analysis does its work) against :class:`~.bot.fake.FakeTelegram`.
``commands`` ``/precio`` commands for varied products arrive from ``chats`` users, one every
``gap`` seconds, faster than the workers finish them, so the queue grows while users keep
writing. The acknowledgement latency of a command is from the moment the fake server hands
the update out to the moment the bot's reply arrives there; the result latency runs until
the analysis itself arrives::

    found = bot_latency(commands=200)     # {"ack_p99_ms": ..., "results_p50_s": ..., ...}
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from rescore.testing import scratch_engine

__all__ = ["bot_latency"]

AS_OF = datetime(2026, 11, 30, 12, 0)
PRODUCTS = (
    "notebook", "guantes nitrilo", "resma papel carta", "toner hp", "mascarillas",
    "alcohol gel", "silla ergonomica", "tablet", "proyector", "desinfectante",
)  # fmt: skip


def bot_latency(
    make_pack: Callable[..., Any],
    *,
    commands: int = 200,
    chats: int = 10,
    gap: float = 0.02,
    workers: int = 2,
) -> dict[str, Any]:
    """Acknowledgement and result latencies of ``commands`` price commands (see the module);
    ``make_pack(as_of=, settings=)`` builds the pack (``TendersPack``)."""
    import os

    from rescore.packs.tenders.bot import TendersBot
    from rescore.packs.tenders.bot.fake import FakeTelegram
    from rescore.packs.tenders.settings import TendersSettings

    os.environ.setdefault("RESCORE_EMBEDDER", "hashing")
    with tempfile.TemporaryDirectory(prefix="rescore-t5-") as folder:
        where = Path(folder)
        settings = TendersSettings(models_dir=where / "m", exports_dir=where / "x", cache_ttl=0)
        pack = make_pack(as_of=lambda: AS_OF, settings=settings)
        with scratch_engine([pack], where / "t5.db") as engine, FakeTelegram().serving() as fake:
            with engine.source.begin() as conn:
                pack.generate_demo_data(conn, seed=7, size=20)
                ids = _subscribers(conn, chats)
            bot = TendersBot(pack, engine, token=FakeTelegram.TOKEN, base_url=fake.base_url,
                             workers=workers, poll_timeout=1.0, deliver_every=0.05)  # fmt: skip
            stop = threading.Event()
            runner = threading.Thread(target=bot.run, args=(stop,), daemon=True)
            runner.start()
            try:
                if not bot.ready.wait(60):
                    raise RuntimeError("the bot did not start polling")
                return _drive(fake, bot, ids, commands, gap)
            finally:
                stop.set()
                runner.join(60)


def _subscribers(conn: sa.Connection, chats: int) -> list[int]:
    from rescore.packs.tenders.schema import subscribers

    s = subscribers.c
    ids = conn.execute(sa.select(s.id).order_by(s.id).limit(chats)).scalars().all()
    conn.execute(sa.update(subscribers).values(telegram_chat_id=None))
    for n, who in enumerate(ids):
        values = {"tier": "profesional", "telegram_chat_id": 5000 + n}
        conn.execute(sa.update(subscribers).where(s.id == who).values(**values))
    return [5000 + n for n in range(len(ids))]


def _drive(fake: Any, bot: Any, chats: list[int], commands: int, gap: float) -> dict[str, Any]:
    asked: list[tuple[int, int]] = []
    busiest = 0
    started = time.monotonic()
    for n in range(commands):
        chat = chats[n % len(chats)]
        product = PRODUCTS[n % len(PRODUCTS)]
        asked.append((chat, fake.say(chat, f"/precio {product} {n}")))
        if n % 20 == 0:
            busiest = max(busiest, _waiting(bot))
        time.sleep(gap)
    replies = [_replies(fake, chat, message) for chat, message in asked]
    took = time.monotonic() - started
    ms = np.array([ack for ack, _ in replies]) * 1000
    results = [result for _, result in replies]
    return {
        "commands": commands,
        "ack_p50_ms": round(float(np.percentile(ms, 50)), 1),
        "ack_p95_ms": round(float(np.percentile(ms, 95)), 1),
        "ack_p99_ms": round(float(np.percentile(ms, 99)), 1),
        "ack_max_ms": round(float(ms.max()), 1),
        "results_p50_s": round(float(np.percentile(results, 50)), 2),
        "results_max_s": round(float(max(results)), 2),
        "jobs_waiting_max": busiest,
        "analyses_per_second": round(commands / took, 2),
    }


def _waiting(bot: Any) -> int:
    from rescore.packs.sdk import source_read
    from rescore.packs.tenders.schema import jobs

    with source_read(bot.service.engine) as conn:
        query = sa.select(sa.func.count()).where(jobs.c.estado.in_(("pendiente", "en_curso")))
        return int(conn.execute(query).scalar_one())


def _replies(fake: Any, chat: int, message: int) -> tuple[float, float]:
    """Seconds to the acknowledgement and to the result (both reply to the command)."""
    asked = fake.asked_at[message]
    ack = fake.wait_for(chat, lambda s: s.reply_to == message, timeout=120)
    result = fake.wait_for(chat, lambda s: s.reply_to == message and s is not ack, timeout=600)
    return float(ack.at - asked), float(result.at - asked)
