"""The CLI's framework: the group class, the session, output, signals. No commands live here.

Command modules (``rescore.cli.scores``, ``rescore.cli.work``, ...) and packs' commands build on
this module alone; ``rescore.cli.app`` lists them. Three things every command gets for free:

- **One error boundary.** :class:`RescoreGroup` turns a :class:`RescoreError` into one readable
  line on stderr (a batch's problems one per line) and the error's exit code; driver and OS
  errors go through ``rescore.boundary``'s table first; anything else becomes one line that
  points at ``--debug`` for the traceback. Never a traceback by default.
- **One rule for environment variables.** An option that sets a :class:`Settings` field reads
  that field's variable (``RESCORE_FLUSH_INTERVAL``); every other option reads
  ``RESCORE_<COMMAND PATH>_<FLAG>`` (``rescore dead-letter list --limit`` reads
  ``RESCORE_DEAD_LETTER_LIST_LIMIT``). ``--help`` names each one.
- **Fast start-up.** Nothing heavy (SQLAlchemy, pydantic, rich, the packs) is imported until a
  command runs, so ``rescore --help`` answers in a fraction of a second.

Example, a command module::

    @click.command()
    @click.argument("pack")
    @pass_session
    def count(session: Session, pack: str) -> None:
        \"\"\"Count PACK's scored entities.\"\"\"
        with session.engine() as engine:
            echo(f"{sum(1 for _ in engine.iter_scores(pack))} scores")
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from rescore.engine import Engine
    from rescore.exceptions import RescoreError
    from rescore.reports import Observer
    from rescore.settings import Settings

__all__ = [
    "CONTEXT",
    "GracefulStop",
    "RescoreGroup",
    "Session",
    "as_json",
    "console",
    "echo",
    "env_name",
    "name_variables",
    "pass_session",
    "progress_bar",
    "setting_option",
    "warn",
]

PREFIX = "RESCORE_"
F = TypeVar("F", bound=Callable[..., Any])

CONTEXT: dict[str, Any] = {
    "help_option_names": ["-h", "--help"],
    "show_default": True,
    "max_content_width": 100,
}


# output ------------------------------------------------------------------------------------


@cache
def console() -> Console:
    """Standard output, with rich's tables and colours where the terminal has them."""
    from rich.console import Console

    return Console(highlight=False)


def warn(message: str) -> None:
    """A line on standard error, never wrapped (warnings, per-item failures, notes)."""
    click.echo(message, err=True)


def echo(message: str) -> None:
    """Print one plain line, never wrapped or styled (ids may contain brackets; scripts and
    tests read these lines)."""
    click.echo(message)


def as_json(data: Any) -> str:
    """Indented JSON text of ``data`` (times and other values as strings), for ``--json``."""
    import orjson

    return orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode()


def progress_bar() -> Progress:
    """The progress bar long commands show, on standard error so that what they print on
    standard output (JSON, say) stays clean; packs' commands use it too."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=_progress_console(),
    )


@cache
def _progress_console() -> Console:
    from rich.console import Console

    return Console(stderr=True)


# environment variables ---------------------------------------------------------------------


def env_name(*parts: str) -> str:
    """``env_name("dead-letter", "list", "limit")`` -> ``RESCORE_DEAD_LETTER_LIST_LIMIT``."""
    return PREFIX + "_".join(p.replace("-", "_").upper() for p in parts if p)


def setting_option(*flags: str, setting: str, **kwargs: Any) -> Callable[[F], F]:
    """An option that sets the :class:`Settings` field ``setting``: it reads that field's
    variable, and the session sees its value under the field's name."""
    return click.option(
        *flags, setting, envvar=env_name(setting), show_envvar=True, default=None, **kwargs
    )


def name_variables(command: click.Command, path: tuple[str, ...]) -> None:
    """Give every option without a variable the rule's variable, and show it in --help."""
    for param in command.params:
        if not isinstance(param, click.Option) or param.name in ("help", "version"):
            continue
        if param.envvar is None:
            flag = max(param.opts, key=len).lstrip("-")
            param.envvar = env_name(*path, flag)
        param.show_envvar = True
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            name_variables(sub, (*path, name))


# the session -------------------------------------------------------------------------------


@dataclass(kw_only=True)
class Session:
    """What the group's options say (database, tenant, packs, debug), for every command."""

    options: dict[str, Any] = field(default_factory=dict)
    debug: bool = False

    def settings(self, **overrides: Any) -> Settings:
        """Settings from the group's options, then ``overrides`` (a command's own setting
        options), then ``RESCORE_*`` variables and defaults. A bad value names its flag and
        variable."""
        from rescore.settings import settings_from

        return settings_from({**self.options, **overrides})

    @property
    def tenant(self) -> str:
        return self.settings().tenant

    def require_database(self, **overrides: Any) -> None:
        """Refuse, in one line, a database that is missing or not migrated (for commands that
        hand the database to something else, such as uvicorn or Celery)."""
        with self.engine(**overrides):
            return

    @contextmanager
    def engine(
        self,
        *,
        create: bool = False,
        migrate: bool = False,
        observers: Sequence[Observer] = (),
        **overrides: Any,
    ) -> Iterator[Engine]:
        """An engine on an existing database whose tables are current, closed on exit.

        Only the commands documented as creating a database pass ``create=True`` (``init``,
        ``demo``); ``migrate=True`` upgrades an existing one (``migrate``). Every other command
        refuses a missing or unmigrated database with what to run instead."""
        from rescore.bootstrap import open_engine

        engine = open_engine(self.settings(**overrides), create=create, observers=observers)
        try:
            if create or migrate:
                engine.migrate()
            else:
                engine.require_schema()
            yield engine
        finally:
            engine.close()


pass_session = click.make_pass_decorator(Session, ensure=True)


# errors ------------------------------------------------------------------------------------


def report(exc: RescoreError) -> None:
    """One line for the error, then one line per problem of a refused batch."""
    if exc.problems:
        count = len(exc.problems)
        line = f"error: {count} problem{'s' if count > 1 else ''}, nothing was stored:"
    elif exc.field:
        line = f"error: {exc.field}: {exc.message}"
    else:
        line = f"error: {exc.message}"
    click.echo(line, err=True)
    for problem in exc.problems:
        click.echo(f"  {problem}", err=True)


class RescoreGroup(click.Group):
    """A group whose commands load when used, behind one error boundary."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        found = super().get_command(ctx, name)
        if found is None and name in self.lazy:
            found = _load(self.lazy[name])
            name_variables(found, (*command_path(ctx), name))
            self.add_command(found, name)
        return found

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("standalone_mode", True)
        try:
            return super().main(*args, **{**kwargs, "standalone_mode": False})
        except click.exceptions.Exit as done:
            sys.exit(done.exit_code)
        except click.Abort:
            click.echo("aborted", err=True)
            sys.exit(130)
        except click.NoSuchOption as exc:
            shown = _hint_group_option(self, exc)
            shown.show()
            sys.exit(shown.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except BaseException as exc:  # the last resort: one line, never a traceback
            if isinstance(exc, SystemExit):
                raise
            sys.exit(_last_resort(exc, debug=_debug_requested()))


def _hint_group_option(group: click.Group, exc: click.NoSuchOption) -> click.UsageError:
    """``rescore show ... --database-url X``: say that the option goes before the command."""
    own = {opt for p in group.params if isinstance(p, click.Option) for opt in p.opts}
    if exc.option_name not in own:
        return exc
    command = exc.ctx.info_name if exc.ctx else "COMMAND"
    return click.UsageError(
        f"{exc.option_name} is an option of rescore itself: put it before the command, "
        f"e.g. rescore {exc.option_name} ... {command}",
        ctx=exc.ctx,
    )


def command_path(ctx: click.Context) -> tuple[str, ...]:
    """The names of the commands from the root to ``ctx``, without the program's name."""
    names: list[str] = []
    while ctx.parent is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    return tuple(reversed(names))


def _load(target: str) -> click.Command:
    from importlib import import_module

    module, _, attr = target.partition(":")
    command = getattr(import_module(module), attr)
    assert isinstance(command, click.Command)
    return command


def _debug_requested() -> bool:
    return "--debug" in sys.argv or os.environ.get(env_name("debug"), "") not in ("", "0")


def _last_resort(exc: BaseException, *, debug: bool) -> int:
    from rescore.boundary import convert

    ours = convert(exc)
    if debug:
        traceback.print_exception(exc)
    if ours is not None:
        report(ours)
        return ours.exit_code
    click.echo(
        f"error: unexpected {type(exc).__name__}: {exc}"
        + ("" if debug else " (run again with --debug for the traceback)"),
        err=True,
    )
    return 1


# signals -----------------------------------------------------------------------------------


class GracefulStop:
    """The first SIGINT or SIGTERM asks a long-running command to stop (it finishes the batch
    in hand and hands back its claims); the original handlers are then restored, so a second
    signal kills it. procrastinate's ``signals.on_stop`` is the model.

    Example::

        with GracefulStop() as stop:
            while not stop.wait(0.2):
                ...
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, announce: Callable[[str], None] | None = None) -> None:
        self.event = threading.Event()
        self.announce = announce or (lambda m: click.echo(m, err=True))
        self._saved: dict[int, Any] = {}

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._saved[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._restore()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.event.set()
        self._restore(kill_on_next=True)
        name = signal.Signals(signum).name
        self.announce(f"{name}: stopping after the work in hand; send it again to kill")

    def _restore(self, *, kill_on_next: bool = False) -> None:
        for sig, handler in self._saved.items():
            if kill_on_next and handler is signal.default_int_handler:
                handler = signal.SIG_DFL  # die on the second Ctrl-C, do not unwind again
            signal.signal(sig, handler)
        self._saved.clear()

    @property
    def requested(self) -> bool:
        return self.event.is_set()

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds; True as soon as a stop was asked for."""
        return self.event.wait(timeout)
