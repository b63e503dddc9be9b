"""The ``rescore`` group: its connection options and the table of its commands.

Commands are listed here, explicitly, as ``module:attribute`` strings and imported only when
used; each installed pack appears as ``rescore <pack>`` and its own commands
(``Pack.register_commands``) load only when that group is used.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, TypeVar

import click

from rescore.cli.framework import CONTEXT, RescoreGroup, Session, env_name

__all__ = ["COMMANDS", "main"]

#: Every core command: name -> where it lives.
COMMANDS = {
    "init": "rescore.cli.setup:init",
    "migrate": "rescore.cli.setup:migrate",
    "demo": "rescore.cli.setup:demo",
    "packs": "rescore.cli.packs:packs",
    "ingest": "rescore.cli.work:ingest",
    "worker": "rescore.cli.work:worker",
    "pending": "rescore.cli.work:pending",
    "dead-letter": "rescore.cli.work:dead_letter",
    "rescore": "rescore.cli.scores:rescore_cmd",
    "show": "rescore.cli.scores:show",
    "explain": "rescore.cli.scores:explain",
    "export": "rescore.cli.scores:export",
    "reconcile": "rescore.cli.scores:reconcile",
    "history": "rescore.cli.history:history",
    "automations": "rescore.cli.automations:automations",
    "releases": "rescore.cli.releases:releases",
    "replay": "rescore.cli.releases:replay",
    "serve": "rescore.cli.service:serve",
    "keys": "rescore.cli.service:keys",
    "bench": "rescore.cli.service:bench",
    "poll": "rescore.cli.sources:poll",
    "consume": "rescore.cli.sources:consume",
    "ml": "rescore.cli.ml:ml",
    "backup": "rescore.cli.backups:backup",
    "restore": "rescore.cli.backups:restore",
}

#: Long-running commands: they log at info by default, the others only warnings and errors.
SERVICES = frozenset({"serve", "worker", "poll", "consume"})

F = TypeVar("F", bound=Callable[..., Any])


class MainGroup(RescoreGroup):
    """The core commands, plus one lazily loaded group per installed pack."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_pack_names()})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        found = super().get_command(ctx, name)
        if found is None and name in _pack_names():
            from rescore.cli.packs import pack_group

            found = pack_group(name)
            self.add_command(found, name)
        return found


def _pack_names() -> list[str]:
    return sorted({ep.name for ep in entry_points(group="rescore.packs")})


def _connection(*flags: str, setting: str, help: str, **kwargs: Any) -> Callable[[F], F]:
    return click.option(
        *flags, setting, envvar=env_name(setting), show_envvar=True, help=help, **kwargs
    )


@click.group(cls=MainGroup, lazy=COMMANDS, context_settings=CONTEXT)
@_connection(
    "--database-url",
    setting="database_url",
    help="Where scores, events and pending work live (SQLAlchemy URL). "
    "[default: sqlite:///.rescore/rescore.db]",
)
@_connection(
    "--source-url",
    setting="source_url",
    help="The packs' source database, if not the --database-url one.",
)
@_connection(
    "--tenant", setting="tenant", help="The tenant (business) to act on. [default: default]"
)
@_connection(
    "--packs", setting="packs", help="Comma-separated packs to load (default: every installed)."
)
@_connection(
    "--log-format",
    setting="log_format",
    type=click.Choice(["text", "json"]),
    help="Log lines as readable text or JSON objects (Loki). [default: text]",
)
@_connection(
    "--log-level",
    setting="log_level",
    type=click.Choice(["debug", "info", "warning", "error", "critical"]),
    help="The lowest level logged, on standard error. [default: info for serve, worker, "
    "poll and consume; warning for the other commands]",
)
@click.option(
    "--debug",
    is_flag=True,
    envvar=env_name("debug"),
    show_envvar=True,
    help="Print the traceback of an unexpected error.",
)
@click.version_option(package_name="rescore")
@click.pass_context
def main(ctx: click.Context, /, debug: bool, **options: Any) -> None:
    """rescore keeps scores fresh.

    Business events go in (a payment, a default, a new payment plan); only the entities they
    touch are rescored, critical events at once and normal ones coalesced and batched. Every
    score is stored with its breakdown and the events that moved it.

    \b
    Start here:
      rescore demo                        the credit demo on .rescore/demo.db
      rescore init --demo-data            create the tables and the demo clients
      rescore ingest events.jsonl         add events (JSON lines or CSV)
      rescore worker                      rescore queued work until Ctrl-C
      rescore explain credit 1001257568   why did this client's score change?

    The options above go before the command, e.g.
    `rescore --database-url sqlite:///scores.db pending`.
    """
    from rescore.heap import keep_freed_pages
    from rescore.logs import configure

    keep_freed_pages()  # before any command imports Polars
    quiet = "info" if ctx.invoked_subcommand in SERVICES else "warning"
    configure(fmt=options["log_format"] or "text", level=options["log_level"] or quiet)
    ctx.obj = Session(options=options, debug=debug)
