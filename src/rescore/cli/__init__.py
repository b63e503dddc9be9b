"""The ``rescore`` command.

``rescore.cli.framework`` is the framework (group, session, errors, signals; no commands);
one module per command family holds the commands (``setup``, ``work``, ``scores``, ``service``,
``sources``, ``ml``, ``packs``); ``rescore.cli.app`` lists them in one table and loads each only
when it runs.
"""

from __future__ import annotations

from rescore.cli.app import main

__all__ = ["main"]
