"""``rescore automations``: rules, a dry run, firings, deliveries and their dead letter."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from rescore.cli.framework import CONTEXT, Session, as_json, console, echo, pass_session
from rescore.exceptions import InvalidInput

__all__ = ["automations"]

JSON_FLAG = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def _json(data: Any) -> None:
    click.echo(as_json(data))


@click.group("automations", context_settings=CONTEXT)
def automations() -> None:
    """Rules that watch events, scores and the clock, and tell people.

    A rule file (YAML or JSON, one rule or a list) is loaded with `add`; packs ship rules of
    their own. The workers (`rescore worker`, `rescore serve`) deliver what rules fire.
    """


@automations.command("list")
@JSON_FLAG
@pass_session
def list_rules(session: Session, as_json: bool) -> None:
    """Every rule in force for the tenant: shipped by a pack or the tenant's own."""
    with session.engine() as engine:
        views = engine.automation_rules(tenant=session.tenant)
    if as_json:
        _json([v.as_dict() for v in views])
        return
    if not views:
        echo("no automation rules: add some with `rescore automations add FILE`")
        return
    from rich.table import Table

    table = Table("rule", "trigger", "actions", "on", "from")
    for view in views:
        rule = view.rule
        actions = ", ".join(a.kind for a in rule.actions)
        on = "yes" if rule.enabled else "no"
        table.add_row(rule.name, _trigger(rule.trigger), actions, on, view.origin)
    console().print(table)


def _trigger(trigger: Any) -> str:
    if trigger.kind == "event":
        return f"event {trigger.type}"
    if trigger.kind == "schedule":
        audience = f" for {trigger.audience}" if trigger.audience else ""
        return f"cron {trigger.cron} ({trigger.timezone}){audience}"
    test = "crosses" if trigger.crosses else "tier" if trigger.tier else "drop"
    return f"score {trigger.scorer} {test}"


@automations.command("add")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@pass_session
def add(session: Session, file: Path) -> None:
    """Add (or replace) the rules in FILE (YAML or JSON; - reads standard input), all or
    nothing: a bad rule is refused naming its field."""
    from rescore.automations import parse_rules

    text = sys.stdin.read() if str(file) == "-" else _read(file)
    rules = parse_rules(text, where=str(file))
    with session.engine() as engine:
        count = engine.add_rules(rules, tenant=session.tenant)
    echo(f"added {count} rule{'s' if count != 1 else ''}: {', '.join(r.name for r in rules)}")


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read {file}: {exc.strerror}", field="file") from None


@automations.command("remove")
@click.argument("name")
@pass_session
def remove(session: Session, name: str) -> None:
    """Remove the tenant's own rule NAME (a pack's rule of that name applies again)."""
    with session.engine() as engine:
        engine.remove_rule(name, tenant=session.tenant)
    echo(f"removed rule {name}")


@automations.command("enable")
@click.argument("name")
@pass_session
def enable(session: Session, name: str) -> None:
    """Switch rule NAME on for the tenant."""
    with session.engine() as engine:
        engine.enable_rule(name, True, tenant=session.tenant)
    echo(f"rule {name} is on")


@automations.command("disable")
@click.argument("name")
@pass_session
def disable(session: Session, name: str) -> None:
    """Switch rule NAME off for the tenant (a pack's rule too)."""
    with session.engine() as engine:
        engine.enable_rule(name, False, tenant=session.tenant)
    echo(f"rule {name} is off")


@automations.command("test")
@click.argument("name")
@click.argument("entity")
@JSON_FLAG
@pass_session
def test(session: Session, name: str, entity: str, as_json: bool) -> None:
    """Dry run: would rule NAME fire for ENTITY now, and with what messages? Nothing is
    sent or recorded."""
    with session.engine() as engine:
        answer = engine.test_rule(name, entity, tenant=session.tenant)
    if as_json:
        _json(answer)
        return
    verdict = "would fire" if answer["would_fire"] else "would not fire"
    echo(f"{name} {verdict} for {entity}: {answer['reason']}")
    for message in answer.get("messages", []):
        if "error" in message:
            echo(f"  {message['kind']}: cannot render: {message['error']}")
        elif message["kind"] == "notify":
            to = f" to {message['to']}" if message.get("to") else ""
            echo(f"  notify{to}: {message['title']}: {message['body']}")
        else:
            echo(f"  {message['kind']}: {_short(message)}")


def _short(message: dict[str, Any]) -> str:
    import orjson

    shown = {k: v for k, v in message.items() if k not in ("kind", "context")}
    return orjson.dumps(shown, default=str).decode()


@automations.command("firings")
@click.option("--rule", help="Only this rule.")
@click.option("--entity", help="Only this entity.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@JSON_FLAG
@pass_session
def firings(
    session: Session, rule: str | None, entity: str | None, limit: int, as_json: bool
) -> None:
    """What rules fired, newest first."""
    with session.engine() as engine:
        rows = engine.firings(tenant=session.tenant, rule=rule, entity=entity, limit=limit)
    if as_json:
        _json(rows)
        return
    _table(rows, ("id", "fired_at", "rule", "entity", "occurrence", "status"), "no firings")


@automations.command("deliveries")
@click.option(
    "--status",
    type=click.Choice(["pending", "digest", "sent", "digested", "dead"]),
    help="Only deliveries in this state (dead: the dead letter).",
)
@click.option("--rule", help="Only this rule.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@JSON_FLAG
@pass_session
def deliveries(
    session: Session, status: str | None, rule: str | None, limit: int, as_json: bool
) -> None:
    """Deliveries of what rules fired, newest first, with attempts and the last error."""
    with session.engine() as engine:
        rows = engine.deliveries(tenant=session.tenant, status=status, rule=rule, limit=limit)
    if as_json:
        _json(rows)
        return
    for row in rows:
        row["via"] = (row.get("message") or {}).get("via", "")
    columns = ("id", "rule", "kind", "status", "attempts", "via", "last_error")
    _table(rows, columns, "no deliveries")


@automations.command("requeue")
@click.option("--id", "ids", type=int, multiple=True, help="A dead delivery's id (repeatable).")
@click.option("--rule", help="Only this rule's dead deliveries.")
@pass_session
def requeue(session: Session, ids: Sequence[int], rule: str | None) -> None:
    """Put dead deliveries back in line with fresh attempts (all of them by default)."""
    with session.engine() as engine:
        count = engine.requeue_deliveries(tenant=session.tenant, ids=ids or None, rule=rule)
    echo(f"requeued {count} dead deliver{'ies' if count != 1 else 'y'}")


@automations.command("deliver")
@pass_session
def deliver(session: Session) -> None:
    """Deliver what is due now, in this process, until nothing is (the workers do this
    continuously; this is for a one-off run or a system cron)."""
    from rescore.automations.dispatcher import DeliveryDispatcher

    with session.engine() as engine:
        dispatcher = DeliveryDispatcher(engine, worker="cli-deliver")
        totals: dict[str, int] = {}
        while (report := dispatcher.run_once()).handled:
            for outcome, count in report.outcomes.items():
                totals[outcome] = totals.get(outcome, 0) + count
            totals["digests"] = totals.get("digests", 0) + report.digests
    shown = ", ".join(f"{k}: {v}" for k, v in sorted(totals.items())) or "nothing was due"
    echo(shown)


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str], empty: str) -> None:
    if not rows:
        echo(empty)
        return
    from rich.table import Table

    table = Table(*columns)
    for row in rows:
        table.add_row(*(str(row.get(c) if row.get(c) is not None else "") for c in columns))
    console().print(table)
