"""``rescore packs`` (what is loaded) and ``rescore <pack> ...`` (a pack's own commands)."""

from __future__ import annotations

from typing import Any

import click

from rescore.cli.framework import (
    CONTEXT,
    RescoreGroup,
    Session,
    console,
    echo,
    name_variables,
    pass_session,
)

__all__ = ["pack_group", "packs"]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@pass_session
def packs(session: Session, as_json: bool) -> None:
    """List the loaded packs, their event types with lanes, and their scorers with versions."""
    from rescore.plugins import discover

    described = discover(session.settings().packs).describe()
    if as_json:
        import orjson

        click.echo(orjson.dumps(described, option=orjson.OPT_INDENT_2).decode())
        return
    for pack in described:
        _print_pack(pack)


def _print_pack(pack: dict[str, Any]) -> None:
    from rich.table import Table

    echo(f"{pack['name']}: {pack['description'] or 'no description'} (entity: {pack['entity']})")
    events = Table("event type", "lane", "rescores", title=f"{pack['name']} event types")
    for type_, route in pack["event_types"].items():
        events.add_row(type_, route["lane"], ", ".join(route["scorers"]) or "-")
    scorers = Table("scorer", "version", "depends on", title=f"{pack['name']} scorers")
    for name, scorer in pack["scorers"].items():
        scorers.add_row(name, scorer["version"], ", ".join(scorer["depends_on"]) or "-")
    console().print(events, scorers)


class PackGroup(RescoreGroup):
    """A pack's commands (``Pack.register_commands``), loaded the first time they are used."""

    def __init__(self, pack: str) -> None:
        super().__init__(
            pack,
            help=f"Commands of the {pack} pack (`rescore packs` lists what it scores).",
            context_settings=CONTEXT,
        )
        self.pack = pack
        self.loaded = False

    def _load_pack(self, ctx: click.Context) -> None:
        if self.loaded:
            return
        from rescore.plugins import discover

        self.loaded = True
        for command in discover([self.pack])[self.pack].register_commands():
            name_variables(command, (self.pack, command.name or ""))
            self.add_command(command)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_pack(ctx)
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        self._load_pack(ctx)
        return super().get_command(ctx, name)


def pack_group(pack: str) -> click.Group:
    """The ``rescore <pack>`` group of an installed pack."""
    return PackGroup(pack)
