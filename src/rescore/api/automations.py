"""Automation endpoints: rules (list, add, remove, dry-run), firings, deliveries, requeue.

Reading needs a read key; changing rules and requeueing needs an admin key. A rule is the
same data as a rule file's (see the README's "Automations"); a bad one is refused whole, 422,
naming each bad field by its path in the body (``trigger.cron``, ``actions.0.notify.body``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from rescore.api import examples as ex
from rescore.api.deps import Admin, Reader, State
from rescore.api.shared import AUTH, POSTED, example_body, example_param, ok
from rescore.automations.rules import Rule, rule_of
from rescore.exceptions import InvalidInput

__all__ = ["router"]

router = APIRouter(prefix="/v1/automations", tags=["automations"])

RuleName = Annotated[
    str, Path(min_length=1, max_length=128, openapi_examples=example_param(ex.RULE_NAME))
]
OwnRuleName = Annotated[
    str, Path(min_length=1, max_length=128, openapi_examples=example_param(ex.RULE["name"]))
]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
MAX_RULES = 500


class RequeueDeliveriesIn(BaseModel):
    """Which dead deliveries to requeue: these ids, this rule's, or (neither) all."""

    model_config = ConfigDict(extra="forbid", strict=True)

    ids: list[Annotated[StrictInt, Field(ge=1, le=2**63 - 1)]] | None = Field(
        None, max_length=10_000
    )
    rule: StrictStr | None = Field(None, min_length=1, max_length=128)


@router.get(
    "/rules",
    summary="Every rule in force for the key's tenant (shipped by a pack or its own)",
    responses=ok(ex.RULES, *AUTH, 503),
)
def list_rules(who: Reader, state: State) -> dict[str, Any]:
    views = state.engine.automation_rules(tenant=who.tenant)
    return {"rules": [v.as_dict() for v in views]}


@router.post(
    "/rules",
    summary="Add or replace rules (one, or a list), all or nothing",
    responses=ok(ex.RULES_ADDED, *POSTED, 503),
)
def add_rules(
    who: Admin,
    state: State,
    body: Annotated[
        dict[str, Any] | list[dict[str, Any]],
        Body(openapi_examples=example_body(ex.RULE)),
    ],
) -> dict[str, Any]:
    items = body if isinstance(body, list) else [body]
    if not items or len(items) > MAX_RULES:
        raise InvalidInput(f"send 1 to {MAX_RULES} rules", field="body")
    rules = [_rule(item, i if isinstance(body, list) else None) for i, item in enumerate(items)]
    count = state.engine.add_rules(rules, tenant=who.tenant)
    return {"added": count, "names": [r.name for r in rules]}


def _rule(item: dict[str, Any], index: int | None) -> Rule:
    try:
        return rule_of(item)
    except InvalidInput as exc:
        prefix = "" if index is None else f"{index}."
        raise InvalidInput(exc.message, field=f"{prefix}{exc.field or ''}".rstrip(".")) from None


@router.delete(
    "/rules/{name}",
    summary="Remove the tenant's own rule (a pack's rule of that name applies again)",
    responses=ok(ex.RULE_REMOVED, *AUTH, 404, 503),
)
def remove_rule(who: Admin, state: State, name: OwnRuleName) -> dict[str, Any]:
    state.engine.remove_rule(name, tenant=who.tenant)
    return {"removed": name}


@router.post(
    "/rules/{name}/test",
    summary="Dry run: would this rule fire for an entity now, with what messages",
    responses=ok(ex.RULE_TESTED, *AUTH, 404, 503),
)
async def test_rule(
    who: Reader,
    state: State,
    name: RuleName,
    entity: Annotated[
        str, Query(min_length=1, max_length=128, openapi_examples=example_param(ex.CEDULA))
    ],
) -> dict[str, Any]:
    return await run_in_threadpool(state.engine.test_rule, name, entity, tenant=who.tenant)


@router.get(
    "/firings",
    summary="What rules fired, newest first (paged)",
    responses=ok(ex.FIRINGS, *AUTH, 503),
)
def firings(
    who: Reader,
    state: State,
    rule: Annotated[str | None, Query(max_length=128)] = None,
    entity: Annotated[str | None, Query(max_length=128)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    rows = state.engine.firings(
        tenant=who.tenant, rule=rule, entity=entity, limit=limit, offset=offset
    )
    return {"firings": rows}


@router.get(
    "/deliveries",
    summary="Deliveries with their status, attempts and last error (paged)",
    responses=ok(ex.DELIVERIES, *AUTH, 503),
)
def deliveries(
    who: Reader,
    state: State,
    status: Literal["pending", "digest", "sent", "digested", "dead"] | None = None,
    rule: Annotated[str | None, Query(max_length=128)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    engine = state.engine
    rows = engine.deliveries(
        tenant=who.tenant, status=status, rule=rule, limit=limit, offset=offset
    )
    return {"counts": engine.delivery_counts(tenant=who.tenant), "deliveries": rows}


@router.post(
    "/deliveries/requeue",
    summary="Put dead deliveries back in line with fresh attempts",
    responses=ok(ex.DELIVERIES_REQUEUED, *POSTED, 503),
)
def requeue(
    who: Admin,
    state: State,
    body: Annotated[RequeueDeliveriesIn, Body(openapi_examples=example_body({}))],
) -> dict[str, Any]:
    count = state.engine.requeue_deliveries(tenant=who.tenant, ids=body.ids, rule=body.rule)
    return {"requeued": count}
