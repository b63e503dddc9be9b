"""``rescore tenders bot | workers | propuesta | exportar | trabajo``: the subscriber side
from the command line.

- ``bot`` runs the Telegram bot (long polling) with its job workers;
- ``workers`` runs job workers alone (more processes on the same database);
- ``propuesta`` writes a proposal draft now and saves it as PDF and/or DOCX;
- ``exportar`` queues an export (``--wait``: runs it here, with a progress bar);
- ``trabajo`` shows a job: state, progress, result or error.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson

from rescore.exceptions import ConfigurationError
from rescore.packs.sdk import GracefulStop, Session, echo, pass_session
from rescore.packs.tenders import tiers
from rescore.packs.tenders.exports import FORMATS, SOURCES

if TYPE_CHECKING:
    from rescore.engine import Engine
    from rescore.packs.tenders.pack import TendersPack

__all__ = ["commands"]


def commands(pack: TendersPack) -> list[click.Command]:
    """The subscriber side's commands, bound to ``pack``."""
    return [
        _bot_command(pack),
        _workers_command(pack),
        _proposal_command(pack),
        _export_command(pack),
        _job_command(pack),
        _link_command(pack),
    ]


def _bot_command(pack: TendersPack) -> click.Command:
    @click.command("bot")
    @click.option(
        "--workers",
        type=click.IntRange(0, 64),
        default=None,
        help="Job worker threads in this process (0: run `rescore tenders workers` "
        "elsewhere). Env: RESCORE_TENDERS_WORKERS (default 2).",
    )
    @pass_session
    def bot(session: Session, workers: int | None) -> None:
        """Run the Telegram bot (long polling) until Ctrl-C.

        The token is RESCORE_TENDERS_TELEGRAM_TOKEN (never printed); the Bot API base URL is
        RESCORE_TENDERS_TELEGRAM_BASE_URL (default Telegram's).

        \b
        Example:
          RESCORE_TENDERS_TELEGRAM_TOKEN=123456:ABC... rescore tenders bot
        """
        from rescore.packs.tenders.bot import TendersBot

        settings = pack.settings
        if settings.telegram_token is None:
            raise ConfigurationError(
                "the bot needs RESCORE_TENDERS_TELEGRAM_TOKEN (from @BotFather)",
                field="RESCORE_TENDERS_TELEGRAM_TOKEN",
            )
        with session.engine() as engine, GracefulStop() as stop, _metrics(engine):
            telegram = TendersBot(
                pack,
                engine,
                token=settings.telegram_token.get_secret_value(),
                base_url=settings.telegram_base_url,
                workers=settings.workers if workers is None else workers,
            )
            echo(f"bot polling {settings.telegram_base_url.split('//')[-1].split('/')[0]}")
            telegram.run(stop.event)

    return bot


@contextmanager
def _metrics(engine: Engine) -> Iterator[None]:
    """Serve the engine's metrics (the commands by tier and status among them) on
    ``RESCORE_METRICS_PORT`` while the bot runs, as ``rescore worker`` does; 0: not served."""
    from prometheus_client import start_http_server

    from rescore.packs.sdk import metrics_registry
    from rescore.packs.tenders import business_metrics

    port, host = engine.settings.metrics_port, engine.settings.metrics_host
    registry = metrics_registry(engine)
    if not port or registry is None:
        yield
        return
    business_metrics.attach(engine)
    server, _thread = start_http_server(port, addr=host, registry=registry)
    echo(f"metrics on http://{host}:{port}/metrics")
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def _workers_command(pack: TendersPack) -> click.Command:
    @click.command("workers")
    @click.option(
        "--threads",
        type=click.IntRange(1, 64),
        default=None,
        help="Worker threads. Env: RESCORE_TENDERS_WORKERS (default 2).",
    )
    @pass_session
    def workers(session: Session, threads: int | None) -> None:
        """Run job workers (price analyses, scorings, proposals, exports) until Ctrl-C; the
        bot delivers their results."""
        from rescore.packs.tenders.jobs import Workers
        from rescore.packs.tenders.service import Service

        with session.engine() as engine, GracefulStop() as stop:
            service = Service(pack, engine)
            count = threads or pack.settings.workers
            with Workers(
                service.queue, service.handlers(), threads=count, on_failed=service.released
            ):
                echo(f"{count} tenders worker(s) running")
                stop.event.wait()

    return workers


def _proposal_command(pack: TendersPack) -> click.Command:
    @click.command("propuesta")
    @click.argument("codigo")
    @click.option("--suscriptor", required=True, help="The subscriber's id or RUT.")
    @click.option(
        "--pdf",
        "pdf",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write the letter as PDF here.",
    )
    @click.option(
        "--docx",
        "docx",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write the letter as DOCX here.",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print the stored draft as JSON.")
    @pass_session
    def propuesta(
        session: Session,
        codigo: str,
        suscriptor: str,
        pdf: Path | None,
        docx: Path | None,
        as_json: bool,
    ) -> None:
        """Write a proposal draft for tender CODIGO (one unit of the subscriber's monthly
        `proposals` quota); the writer is RESCORE_TENDERS_LLM (offline, gemini, openai).

        \b
        Example:
          rescore tenders propuesta 2000-1-COT26 --suscriptor 77015838-9 --pdf p.pdf
        """
        from rescore.packs.tenders.service import Service

        with session.engine() as engine:
            service = Service(pack, engine)
            view = service.draft_proposal(suscriptor, codigo)
            for kind, path in (("pdf", pdf), ("docx", docx)):
                if path is not None:
                    path.write_bytes(service.proposal_file(view["id"], kind))
        if as_json:
            click.echo(orjson.dumps(view, option=orjson.OPT_INDENT_2).decode())
            return
        echo(f"proposal {view['id']} for {codigo} written by {view['modelo']}")
        for path in (pdf, docx):
            if path is not None:
                echo(f"  {path}")

    return propuesta


def _export_command(pack: TendersPack) -> click.Command:
    @click.command("exportar")
    @click.argument("fuente", type=click.Choice(SOURCES))
    @click.argument("texto", required=False, default="")
    @click.option("--suscriptor", required=True, help="The subscriber's id or RUT.")
    @click.option("--formato", type=click.Choice(FORMATS), default="xlsx", show_default=True)
    @click.option("--wait", is_flag=True, help="Run the export here and print where it went.")
    @pass_session
    def exportar(
        session: Session, fuente: str, texto: str, suscriptor: str, formato: str, wait: bool
    ) -> None:
        """Export FUENTE (busqueda: history lines of the products TEXTO finds; precio: the
        price analysis of TEXTO; alertas: open tenders the subscriber's profiles match) as
        Excel or PDF: one unit of the monthly `exports` quota. Prints the job id; follow it
        with `rescore tenders trabajo ID`.

        \b
        Example:
          rescore tenders exportar busqueda notebook --suscriptor 77015838-9 --wait
        """
        from rescore.packs.sdk import source_read
        from rescore.packs.tenders.proposals import find_subscriber
        from rescore.packs.tenders.service import Service

        key = "consulta" if fuente == "busqueda" else "producto"
        with session.engine() as engine:
            service = Service(pack, engine)
            with source_read(engine) as conn:
                who = find_subscriber(conn, suscriptor)["id"]
            with tiers.charged(engine, who, "exports"):
                job_id = service.submit(
                    "export", who, {"fuente": fuente, key: texto, "formato": formato}
                )
            if wait:
                _run_here(service, job_id)
            found = service.queue.status(job_id)
        echo(job_id)
        if wait:
            _print_job(found)

    return exportar


def _run_here(service: Any, job_id: str) -> None:
    """Run queued jobs in this process until ``job_id`` has ended (another worker may hold
    it: then wait for that one)."""
    from rescore.packs.tenders.jobs import Workers

    workers = Workers(service.queue, service.handlers(), threads=1, on_failed=service.released)
    while service.queue.status(job_id)["estado"] not in ("listo", "fallido"):
        if not workers.drain():
            threading.Event().wait(0.1)


def _job_command(pack: TendersPack) -> click.Command:
    @click.command("trabajo")
    @click.argument("trabajo_id")
    @click.option("--json", "as_json", is_flag=True, help="Print the job as JSON.")
    @pass_session
    def trabajo(session: Session, trabajo_id: str, as_json: bool) -> None:
        """A job's state, progress (rows written of the total), result or error."""
        from rescore.packs.tenders.jobs import JobQueue

        with session.engine() as engine:
            found = JobQueue(engine).status(trabajo_id)
        if as_json:
            click.echo(orjson.dumps(found, option=orjson.OPT_INDENT_2).decode())
        else:
            _print_job(found)

    return trabajo


def _link_command(pack: TendersPack) -> click.Command:
    @click.command("enlace")
    @click.argument("suscriptor")
    @click.option("--bot", "username", help="The bot's username: print the t.me deep link too.")
    @pass_session
    def enlace(session: Session, suscriptor: str, username: str | None) -> None:
        """The code that links a Telegram chat to SUSCRIPTOR (id or RUT): `/start <code>`, or
        the deep link with --bot. Needs RESCORE_TENDERS_LINK_SECRET.

        \b
        Example:
          rescore tenders enlace 77015838-9 --bot CompraAgilBot
        """
        from rescore.packs.sdk import source_read
        from rescore.packs.tenders.bot.links import link_code
        from rescore.packs.tenders.proposals import find_subscriber

        secret = pack.settings.link_secret
        if secret is None:
            raise ConfigurationError(
                "link codes need RESCORE_TENDERS_LINK_SECRET", field="RESCORE_TENDERS_LINK_SECRET"
            )
        with session.engine() as engine, source_read(engine) as conn:
            who = find_subscriber(conn, suscriptor)["id"]
        code = link_code(secret.get_secret_value(), who)
        echo(code)
        if username:
            echo(f"https://t.me/{username.lstrip('@')}?start={code}")

    return enlace


def _print_job(found: dict[str, Any]) -> None:
    total = f"/{found['total']:,}" if found["total"] is not None else ""
    echo(
        f"{found['tipo']} {found['estado']}: {found['progreso']:,}{total} rows, "
        f"{found['intentos']} attempt(s)"
    )
    result = found["resultado"] or {}
    if result.get("archivo"):
        echo(f"  {result['archivo']}")
    if found["error"]:
        echo(f"  error: {found['error']}")
