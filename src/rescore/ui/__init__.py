"""The web dashboard at ``/ui``, served by ``rescore serve``: server-rendered pages for people.

Pages: overview (event rate, lane lag, pending and dead letters, the biggest recent moves, the
score distribution of each pack), entity (current scores and breakdown, a pack's own card such
as the leads pack's LeadScoreCard, history chart and the explanation of each change, time
travel), analytics per pack (distribution, the biggest falls of the week, a pack's own page),
queue (pending by lane, dead letters, requeue), search. A read-scope key views; requeueing
needs admin (:mod:`rescore.ui.session` says how the key is kept).

More pages plug in through ``pages``: a :class:`NavItem` for the bar and a router whose paths
start with ``/ui``, guarded the same way (:func:`rescore.ui.base.guarded`). The automations
page (rules, firings, deliveries, requeue) comes in this way::

    mount_ui(app, engine, pages=[(automations.NAV, automations.router)])
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, FastAPI

from rescore.engine import Engine
from rescore.ui.base import NavItem, UiState
from rescore.ui.render import environment

__all__ = ["CORE_PAGES", "NavItem", "mount_ui"]

CORE_PAGES = (
    NavItem("Overview", "/ui"),
    NavItem("Analytics", "/ui/analytics"),
    NavItem("Queue", "/ui/queue"),
)


def mount_ui(app: FastAPI, engine: Engine, pages: Sequence[tuple[NavItem, APIRouter]] = ()) -> None:
    """Serve the dashboard (and ``pages``) on ``app``."""
    from rescore.ui import actions, charts
    from rescore.ui import pages as core

    env = environment(engine.registry)
    env.globals["bars"] = charts.bars
    env.globals["BAND_COLORS"] = charts.BANDS
    env.globals["zip"] = zip
    nav = [*CORE_PAGES, *(item for item, _ in pages)]
    app.state.ui = UiState(engine=engine, env=env, nav=nav)
    app.include_router(actions.router)
    app.include_router(core.router)
    for _, router in pages:
        app.include_router(router)
