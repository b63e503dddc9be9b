"""The Telegram bot on python-telegram-bot: long polling, the commands, result delivery.

Every command answers at once: its logic (:mod:`.replies`) runs on the bot's answering
threads, never queued behind job submissions or deliveries, so the event loop keeps taking
updates (``concurrent_updates``); heavy work goes to the pack's job queue,
whose workers run beside the bot (``workers > 0``, the embedded way) or in
``rescore tenders workers`` processes on the same database. A delivery loop sends finished
jobs to their chats (a message, or the file as a document) and failed ones as a plain
sentence; a job whose attempts are spent has its quota unit given back by the workers.

The token comes from ``RESCORE_TENDERS_TELEGRAM_TOKEN`` and never appears in a log line or a
repr (httpx logs the URLs it calls, with the token in them, so its logger is kept at
WARNING; rescore's log setup also masks every ``*_TOKEN`` variable's value); the Bot API
base URL is ``RESCORE_TENDERS_TELEGRAM_BASE_URL``, which is how the tests and the T5
benchmark point the bot at :class:`~.fake.FakeTelegram`::

    bot = TendersBot(pack, engine, token=token, base_url=base_url, workers=2)
    bot.run(stop)            # until the threading.Event ``stop`` is set
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from telegram import ReplyParameters, Update
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import Application, ApplicationBuilder, CommandHandler, ContextTypes

from rescore.packs.tenders.bot.replies import Admitted, Replies
from rescore.packs.tenders.jobs import Workers
from rescore.packs.tenders.service import Service

if TYPE_CHECKING:
    from rescore.engine import Engine
    from rescore.packs.tenders.pack import TendersPack

__all__ = ["COMMANDS", "TendersBot"]

log = logging.getLogger(__name__)
logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry the token

T = TypeVar("T")
Context = ContextTypes.DEFAULT_TYPE
Handler = Callable[[Update, Context], Coroutine[Any, Any, None]]

#: Command -> job type, for the commands whose work runs in the workers.
HEAVY = {
    "precio": "precio",
    "scoring": "scoring",
    "generar_propuesta": "propuesta",
    "exportar": "export",
}
COMMANDS = (
    "start",
    "help",
    *HEAVY,
    "alertas_ia",
    "upgrade",
    "mis_suscripciones",
)
OOPS = "No pude atender su comando por un error interno; intente de nuevo en un momento."
FAILED = (
    "No pude completar «{tipo}» tras {intentos} intento(s): {error}. No se descontó de su plan."
)


class TendersBot:
    """The bot for one engine (see the module's docstring)."""

    def __init__(
        self,
        pack: TendersPack,
        engine: Engine,
        *,
        token: str,
        base_url: str,
        workers: int = 2,
        poll_timeout: float = 10.0,
        deliver_every: float = 0.2,
    ) -> None:
        self.service = Service(pack, engine)
        self.replies = Replies(self.service)
        queue, handlers = self.service.queue, self.service.handlers()
        released = self.service.released
        self.workers = (
            Workers(queue, handlers, threads=workers, on_failed=released) if workers > 0 else None
        )
        self._token = token
        self.base_url = base_url
        self.poll_timeout = poll_timeout
        self.deliver_every = deliver_every
        self.ready = threading.Event()
        self._answers = ThreadPoolExecutor(8, thread_name_prefix="tenders-bot-answer")
        self._background = ThreadPoolExecutor(4, thread_name_prefix="tenders-bot-queue")

    async def _answering(self, work: Callable[..., T], *args: Any) -> T:
        """Run what an answer waits for on the answering threads: never queued behind job
        submissions or deliveries, so a busy queue cannot delay an acknowledgement."""
        return await asyncio.get_running_loop().run_in_executor(self._answers, work, *args)

    async def _after(self, work: Callable[..., T], *args: Any) -> T:
        """Run work nobody is waiting to read (queueing a job, delivering results)."""
        return await asyncio.get_running_loop().run_in_executor(self._background, work, *args)

    def __repr__(self) -> str:  # never the token
        return f"TendersBot(base_url={self.base_url!r})"

    def application(self) -> Application[Any, Any, Any, Any, Any, Any]:
        """The python-telegram-bot application with every command's handler."""
        app = (
            ApplicationBuilder()
            .token(self._token)
            .base_url(self.base_url)
            .concurrent_updates(True)
            .get_updates_read_timeout(self.poll_timeout + 10)
            .build()
        )
        for name in COMMANDS:
            app.add_handler(CommandHandler(name, self._handler(name)))
        app.add_error_handler(self._failed)
        return app

    async def _failed(self, update: object, context: Context) -> None:
        """A handler raised (the database unreachable, ...): log it without the token, and
        tell the user plainly rather than leave the command unanswered."""
        said = f"{type(context.error).__name__}: {context.error}".replace(self._token, "<token>")
        log.error("tenders bot: a command failed: %s", said)
        message = update.effective_message if isinstance(update, Update) else None
        if message is not None:
            await message.reply_text(OOPS, do_quote=True)

    def _handler(self, name: str) -> Handler:
        if name in HEAVY:
            kind = HEAVY[name]
            return lambda update, context: self._heavy(update, context, kind)
        light: dict[str, Callable[[int, list[str]], str]] = {
            "start": self.replies.start,
            "help": lambda chat, args: _help(),
            "alertas_ia": self.replies.semantic_alert,
            "upgrade": lambda chat, args: self.replies.upgrade(chat),
            "mis_suscripciones": lambda chat, args: self.replies.mine(chat),
        }
        return lambda update, context: self._light(update, context, light[name])

    async def _light(
        self, update: Update, context: Context, answer: Callable[[int, list[str]], str]
    ) -> None:
        chat, message = update.effective_chat, update.effective_message
        if chat is None or message is None:
            return
        text = await self._answering(answer, chat.id, list(context.args or []))
        await message.reply_text(text, do_quote=True)

    async def _heavy(self, update: Update, context: Context, kind: str) -> None:
        chat, message = update.effective_chat, update.effective_message
        if chat is None or message is None:
            return
        args = list(context.args or [])
        admitted: Admitted = await self._answering(self.replies.admit, chat.id, kind, args)
        await message.reply_text(admitted.text, do_quote=True)
        if admitted.job is not None:
            await self._after(self.replies.enqueue, chat.id, admitted, message.message_id)
            if self.workers is not None:
                self.workers.wake()

    # delivery ------------------------------------------------------------------------------

    async def _deliver_forever(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        while True:
            try:
                done = [
                    job["id"]
                    for job in await self._after(self.service.queue.undelivered)
                    if await self._deliver(app, job)
                ]
                if done:  # one write for the round, not one per job
                    await self._after(self.service.queue.delivered, *done)
            except Exception:
                log.exception("tenders bot: delivery round failed; next round retries")
            await asyncio.sleep(self.deliver_every)

    async def _deliver(
        self, app: Application[Any, Any, Any, Any, Any, Any], job: dict[str, Any]
    ) -> bool:
        """Send one job's outcome; whether it is settled (sent, or never deliverable)."""
        chat, result = job["chat_id"], job["resultado"] or {}
        asked = job["parametros"].get("mensaje")
        reply = ReplyParameters(asked, allow_sending_without_reply=True) if asked else None
        try:
            if job["estado"] == "fallido":
                text = FAILED.format(tipo=job["tipo"], intentos=job["intentos"], error=job["error"])
                await app.bot.send_message(chat, text, reply_parameters=reply)
            elif result.get("archivo"):
                path = Path(result["archivo"])
                with path.open("rb") as document:
                    await app.bot.send_document(
                        chat,
                        document,
                        filename=path.name,
                        caption=result.get("texto"),
                        reply_parameters=reply,
                    )
            else:
                text = result.get("texto") or "Listo."
                await app.bot.send_message(chat, text, reply_parameters=reply)
        except (Forbidden, BadRequest, FileNotFoundError) as exc:  # never deliverable
            log.warning("tenders bot: job %s cannot reach chat %s: %s", job["id"], chat, exc)
        except (TelegramError, OSError) as exc:
            log.warning("tenders bot: job %s not delivered yet: %s", job["id"], exc)
            return False
        return True

    # running -------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Poll, answer and deliver until ``stop`` is set (blocking; the workers too)."""
        if self.workers is not None:
            self.workers.__enter__()
        try:
            asyncio.run(self._run(stop))
        finally:
            if self.workers is not None:
                self.workers.stop()
            self._answers.shutdown(wait=True)
            self._background.shutdown(wait=True)

    async def _run(self, stop: threading.Event) -> None:
        app = self.application()
        async with app:
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0.0, timeout=int(self.poll_timeout))
            delivery = asyncio.create_task(self._deliver_forever(app))
            self.ready.set()
            try:
                while not stop.is_set():
                    await asyncio.sleep(0.1)
            finally:
                delivery.cancel()
                await app.updater.stop()
                await app.stop()


def _help() -> str:
    from rescore.packs.tenders.messages import HELP

    return HELP
