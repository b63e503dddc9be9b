"""Read many clients' current inputs at once from the source tables.

One query per table per chunk of 500 cédulas, ``cedula IN (...)`` with bound parameters (an
expanding parameter built by SQLAlchemy, never a formatted string), ordered so the result is
the same on every dialect. The engine asks only for the parts its planned scorers read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Connection, Row, Table, select

from rescore.exceptions import PluginError
from rescore.packs.credit.records import Client, Loan, Payment, Plan, months_between
from rescore.packs.credit.schema import clients, loans, payment_plans, payments

__all__ = ["CHUNK_SIZE", "PARTS", "entity_keys", "load_inputs"]

CHUNK_SIZE = 500
PARTS = frozenset({"client", "loans", "payments", "plans", "as_of"})

Grouped = dict[str, list[Any]]


def load_inputs(
    conn: Connection, entities: Sequence[str], parts: frozenset[str], as_of: date
) -> dict[str, dict[str, Any]]:
    """``{cedula: {part: value}}`` for the cédulas found in ``clients``; ``as_of`` always.

    Lists come back as tuples (immutable inputs) in a stable order: loans by id, payments by
    due date then id, plans by creation date then id.
    """
    unknown = parts - PARTS
    if unknown:
        raise PluginError(f"credit pack has no input part(s) {sorted(unknown)}")
    wanted = list(dict.fromkeys(entities))
    result: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), CHUNK_SIZE):
        result.update(_load_chunk(conn, wanted[start : start + CHUNK_SIZE], parts, as_of))
    return result


def known_entities(conn: Connection, entities: Sequence[str]) -> set[str]:
    """Which of ``entities`` are cédulas in ``clients`` (one ``IN`` query per chunk)."""
    wanted = sorted(set(entities))
    found: set[str] = set()
    for start in range(0, len(wanted), CHUNK_SIZE):
        query = select(clients.c.cedula).where(
            clients.c.cedula.in_(wanted[start : start + CHUNK_SIZE])
        )
        found.update(conn.execute(query).scalars())
    return found


def entity_keys(conn: Connection) -> Iterator[str]:
    """Every cédula in ``clients``, in cédula order."""
    yield from conn.execute(select(clients.c.cedula).order_by(clients.c.cedula)).scalars()


def _load_chunk(
    conn: Connection, chunk: list[str], parts: frozenset[str], as_of: date
) -> dict[str, dict[str, Any]]:
    columns = clients.c if "client" in parts else [clients.c.cedula]
    rows = conn.execute(select(*columns).where(clients.c.cedula.in_(chunk))).all()
    found: dict[str, dict[str, Any]] = {row.cedula: {"as_of": as_of} for row in rows}
    if "client" in parts:
        for row in rows:
            found[row.cedula]["client"] = _client(row, as_of)
    for part, (table, order, build) in _CHILDREN.items():
        if part in parts:
            grouped = _grouped(conn, table, order, build, list(found))
            for cedula, entity in found.items():
                entity[part] = tuple(grouped.get(cedula, ()))
    return found


def _grouped(
    conn: Connection,
    table: Table,
    order: tuple[str, ...],
    build: Callable[[Row[Any]], Any],
    chunk: list[str],
) -> Grouped:
    if not chunk:
        return {}
    query = (
        select(table)
        .where(table.c.cedula.in_(chunk))
        .order_by(table.c.cedula, *(table.c[name] for name in order))
    )
    grouped: Grouped = {}
    for row in conn.execute(query):
        grouped.setdefault(row.cedula, []).append(build(row))
    return grouped


def _client(row: Row[Any], as_of: date) -> Client:
    return Client(
        cedula=row.cedula,
        full_name=row.full_name,
        client_since=row.client_since,
        months_as_client=months_between(row.client_since, as_of),
        bureau_score=row.bureau_score,
        credit_limit=row.credit_limit,
        status=row.status,
    )


def _loan(row: Row[Any]) -> Loan:
    return Loan(
        id=row.id,
        amount=row.amount,
        opened_at=row.opened_at,
        term_months=row.term_months,
        status=row.status,
    )


def _payment(row: Row[Any]) -> Payment:
    return Payment(
        id=row.id,
        loan_id=row.loan_id,
        due_date=row.due_date,
        paid_date=row.paid_date,
        amount=row.amount,
        status=row.status,
    )


def _plan(row: Row[Any]) -> Plan:
    return Plan(
        id=row.id,
        status=row.status,
        amount=row.amount,
        created_at=row.created_at,
        ended_at=row.ended_at,
    )


_CHILDREN: dict[str, tuple[Table, tuple[str, ...], Callable[[Row[Any]], Any]]] = {
    "loans": (loans, ("id",), _loan),
    "payments": (payments, ("due_date", "id"), _payment),
    "plans": (payment_plans, ("created_at", "id"), _plan),
}
