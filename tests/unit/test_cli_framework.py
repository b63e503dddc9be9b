"""The CLI framework: the last-resort handler and the environment-variable rule."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from rescore.cli.app import COMMANDS, main
from rescore.cli.framework import RescoreGroup, env_name
from rescore.settings import Settings


def boom_group() -> click.Group:
    @click.group(cls=RescoreGroup)
    @click.option("--debug", is_flag=True)
    def cli(debug: bool) -> None:
        """A toy group."""

    @cli.command()
    def boom() -> None:
        raise RuntimeError("the unexpected")

    return cli


def test_an_unexpected_error_is_one_line_pointing_at_debug() -> None:
    done = CliRunner().invoke(boom_group(), ["boom"])
    assert done.exit_code == 1
    assert done.output.strip() == (
        "error: unexpected RuntimeError: the unexpected (run again with --debug for the traceback)"
    )


def test_debug_prints_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.argv", ["rescore", "--debug", "boom"])  # how --debug is seen
    done = CliRunner().invoke(boom_group(), ["--debug", "boom"])
    assert done.exit_code == 1
    assert "Traceback" in done.output
    assert "RuntimeError: the unexpected" in done.output


def walk(
    command: click.Command, path: tuple[str, ...]
) -> list[tuple[tuple[str, ...], click.Option]]:
    found: list[tuple[tuple[str, ...], click.Option]] = [
        (path, p) for p in command.params if isinstance(p, click.Option)
    ]
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None
            found += walk(sub, (*path, name))
    return found


def test_every_option_follows_one_rule_for_its_variable() -> None:
    """A setting's option reads the setting's variable; every other option reads
    RESCORE_<COMMAND PATH>_<FLAG>; one variable never means two things."""
    settings = {env_name(name) for name in Settings.model_fields}
    meaning: dict[str, str] = {}
    options = walk(main, ())
    assert len(options) > 40
    for path, option in options:
        if option.name in ("help", "version"):
            continue
        assert option.show_envvar, f"{path} {option.opts} does not show its variable"
        var = option.envvar
        assert isinstance(var, str)
        flag = max(option.opts, key=len).lstrip("-")
        if var in settings:
            assert var == env_name(option.name or ""), f"{path} {flag} reads {var}"
            key = var
        else:
            assert var == env_name(*path, flag), f"{path} {flag} reads {var}"
            key = f"{path} {flag}"
        assert meaning.setdefault(var, key) == key, f"{var} means {meaning[var]} and {key}"


def test_every_listed_command_loads() -> None:
    ctx = click.Context(main)
    for name in COMMANDS:
        assert main.get_command(ctx, name) is not None, name
