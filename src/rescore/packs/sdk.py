"""What a pack may use from the core, beyond the plugin contract itself.

A pack subclasses :class:`rescore.plugins.Pack` and its scorers subclass
:class:`rescore.scoring.Scorer`; for its own commands and routes it imports helpers from
**this module only**, never from ``rescore.cli.*`` or ``rescore.api.*`` (an import-linter
contract in ``make test`` enforces it). What is here is a documented promise to pack authors.

Commands (``Pack.register_commands``)::

    from rescore.packs.sdk import Session, echo, pass_session, progress_bar

    @click.command()
    @pass_session
    def count(session: Session) -> None:
        \"\"\"How many of the pack's entities are scored.\"\"\"
        with session.engine() as engine:
            echo(f"{sum(1 for _ in engine.iter_scores('mypack'))} scores")

The session's engine is the one door to the data: use its operations (``current``,
``explain``, ``ingest``, ``recompute``, ``iter_scores``, ...), never its tables.
"""

from __future__ import annotations

from rescore.cli.framework import (
    GracefulStop,
    Session,
    console,
    echo,
    pass_session,
    progress_bar,
    warn,
)

__all__ = [
    "GracefulStop",
    "Session",
    "console",
    "echo",
    "pass_session",
    "progress_bar",
    "warn",
]
