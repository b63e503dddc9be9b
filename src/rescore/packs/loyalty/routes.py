"""Seed 003's HTTP API, under ``/v1/packs/loyalty``, behind rescore's API keys.

- ``POST /customers`` (write): register a customer and ingest ``customer_registered`` with the
  required fields the customer did not give (``missing_fields``); all or nothing.
- ``POST /points/load`` (write): record a points transaction, move the balance, ingest
  ``points_loaded`` (critical lane) and answer with the fresh loyalty score and tier.
- ``GET /automations?mode=event-driven|legacy&business_id=`` (read): the actions each mode
  finds now, with the queries it issued, the rows it read and its time.
- ``GET /automation-events?event=birthdays|inactive|test-customer&business_id=`` (write): what
  the audience finds now in each business's time zone; ``test-customer`` registers a
  simulated customer, as the seed's testing endpoint does.

Source writes go through ``rescore.packs.sdk.source_write``; the event is ingested after the
write commits, and if the ingest fails the write is taken back (:func:`.writes.undo`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, Query
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
)

from rescore.automations.rules import ScheduleTrigger
from rescore.packs.loyalty import examples as ex
from rescore.packs.loyalty.audiences import BirthdaysAudience, InactiveAudience
from rescore.packs.loyalty.customers import local_time, tier_of
from rescore.packs.loyalty.modes import Plan, run
from rescore.packs.loyalty.writes import (
    Change,
    business_of,
    first_business,
    load_points,
    register_customer,
    undo,
)
from rescore.packs.sdk import (
    AUTH,
    POSTED,
    Reader,
    State,
    Writer,
    example_body,
    ok,
    settle_and_view,
    source_read,
    source_write,
)
from rescore.schedule import Schedule

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from rescore.engine import Engine
    from rescore.packs.loyalty.pack import LoyaltyPack
    from rescore.packs.sdk import ApiState

__all__ = ["router"]

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
#: A UUID in any case, kept in lower case (the case the source stores).
Uuid = Annotated[StrictStr, Field(pattern=UUID_PATTERN), AfterValidator(str.lower)]
Text = Annotated[StrictStr, Field(min_length=1, max_length=120, pattern=r"^[^\x00-\x1f\x7f]+$")]
MAX_POINTS = 1_000_000
MAX_ACTIONS = 1_000


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    business_id: Uuid
    id: Uuid | None = Field(None, description="The customer's UUID; generated when absent.")
    name: Text | None = None
    phone: Annotated[StrictStr, Field(pattern=r"^\+?[0-9]{7,15}$")] | None = None
    email: (
        Annotated[StrictStr, Field(max_length=120, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None
    ) = None
    birth_date: Annotated[StrictStr, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")] | None = Field(
        None, description="YYYY-MM-DD"
    )

    @field_validator("birth_date")
    @classmethod
    def _real_date(cls, value: str | None) -> str | None:
        if value is not None:
            born = date.fromisoformat(value)  # ValueError -> 422 naming birth_date
            if not date(1900, 1, 1) <= born <= date(2100, 1, 1):
                raise ValueError("a birth date between 1900 and 2100")
        return value

    def fields(self) -> dict[str, Any]:
        born = date.fromisoformat(self.birth_date) if self.birth_date else None
        return {"name": self.name, "phone": self.phone, "email": self.email, "birth_date": born}


class CustomerOut(BaseModel):
    customer_id: str
    business_id: str
    missing_fields: list[str]
    event_id: str
    duplicate: bool


class PointsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    customer_id: Uuid
    points: Annotated[StrictInt, Field(ge=-MAX_POINTS, le=MAX_POINTS)] = Field(
        description="Points to add (negative to redeem); not zero."
    )
    amount: Annotated[StrictFloat | StrictInt, Field(ge=0, le=1e9, allow_inf_nan=False)] = Field(
        0, description="What the purchase cost, in the business's currency."
    )

    @field_validator("points")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("a number of points other than zero")
        return value


class PointsOut(BaseModel):
    customer_id: str
    points: int
    balance: int
    event_id: str
    fresh: bool = Field(description="The scores below reflect this load.")
    loyalty: float | None
    tier: str | None
    churn_risk: float | None


def _ingest(engine: Engine, change: Change, tenant: str) -> Any:
    """Ingest the change's event; if that fails, take the source write back."""
    try:
        return engine.ingest([change], tenant=tenant)
    except Exception:
        with source_write(engine) as conn:
            undo(conn, change)
        raise


def router(pack: LoyaltyPack) -> APIRouter:
    """The pack's routes, bound to ``pack``."""
    routes = APIRouter(tags=["loyalty (seed 003)"])

    @routes.post(
        "/customers",
        response_model=CustomerOut,
        responses=ok(ex.REGISTERED, *POSTED, 404, 409, 503),
    )
    def register(
        body: Annotated[CustomerIn, Body(openapi_examples=example_body(ex.REGISTER))],
        who: Writer,
        state: State,
    ) -> CustomerOut:
        """Register a customer; the ``customer_registered`` event lists what is missing."""
        with source_write(state.engine) as conn:
            change = register_customer(
                conn,
                business_id=body.business_id,
                fields=body.fields(),
                now=pack.as_of(),
                customer_id=body.id,
            )
        result = _ingest(state.engine, change, who.tenant)
        return CustomerOut(
            customer_id=change["entity"],
            business_id=body.business_id,
            missing_fields=change["payload"]["missing_fields"],
            event_id=change["event_id"],
            duplicate=result.duplicates > 0,
        )

    @routes.post(
        "/points/load", response_model=PointsOut, responses=ok(ex.LOADED, *POSTED, 404, 503)
    )
    def points_load(
        body: Annotated[PointsIn, Body(openapi_examples=example_body(ex.LOAD))],
        who: Writer,
        state: State,
    ) -> PointsOut:
        """Load (or redeem) points; rescored at once, answered with the new score and tier."""
        with source_write(state.engine) as conn:
            change = load_points(
                conn,
                body.customer_id,
                points_delta=body.points,
                amount=float(body.amount),
                now=pack.as_of(),
            )
        result = _ingest(state.engine, change, who.tenant)
        fresh, views = settle_and_view(state, result, timeout=10.0)
        scores = views[0]["scores"] if views else {}
        loyalty = scores["loyalty"]["value"] if "loyalty" in scores else None
        churn = scores["churn_risk"]["value"] if "churn_risk" in scores else None
        return PointsOut(
            customer_id=body.customer_id,
            points=body.points,
            balance=change["payload"]["balance"],
            event_id=change["event_id"],
            fresh=fresh,
            loyalty=loyalty,
            tier=None if loyalty is None else tier_of(loyalty),
            churn_risk=churn,
        )

    @routes.get("/automations", responses=ok(ex.AUTOMATIONS, *AUTH, 404, 503))
    def automations(
        who: Reader,
        state: State,
        mode: Annotated[
            Literal["event-driven", "legacy"],
            Query(openapi_examples=example_body("event-driven")),
        ] = "event-driven",
        business_id: Annotated[
            Uuid | None, Query(openapi_examples=example_body(ex.BUSINESS))
        ] = None,
        limit: Annotated[int, Query(ge=0, le=MAX_ACTIONS)] = 100,
    ) -> dict[str, Any]:
        """The actions ``mode`` finds now (birthdays, inactive, missing fields), metered."""
        now = pack.as_of()
        with source_read(state.engine) as conn:
            _known(conn, business_id)
            found = run(conn, mode, Plan(now=now, business_id=business_id))
        return {
            "mode": found.mode,
            "business_id": business_id,
            "now": now.isoformat() + "Z",
            "counts": found.counts(),
            "queries": found.queries,
            "rows_read": found.rows,
            "milliseconds": round(found.seconds * 1000, 3),
            "actions": [a.as_json() for a in found.actions[:limit]],
        }

    @routes.get("/automation-events", responses=ok(ex.EVENTS, *AUTH, 404, 503))
    def automation_events(
        who: Writer,
        state: State,
        event: Annotated[
            Literal["birthdays", "inactive", "test-customer"],
            Query(openapi_examples=example_body("inactive")),
        ],
        business_id: Annotated[
            Uuid | None, Query(openapi_examples=example_body(ex.BUSINESS))
        ] = None,
        limit: Annotated[int, Query(ge=0, le=MAX_ACTIONS)] = 100,
    ) -> dict[str, Any]:
        """What the audience finds now in each business's local time; ``test-customer``
        registers a simulated customer (its ``customer_registered`` event included)."""
        now = pack.as_of()
        if event == "test-customer":
            return _test_customer(state, who.tenant, business_id, now)
        audience = BirthdaysAudience() if event == "birthdays" else InactiveAudience()
        by_group: dict[str, list[dict[str, Any]]] = {}
        with source_read(state.engine) as conn:
            _known(conn, business_id)
            zones = audience.zones(conn)
            groups = [business_id] if business_id else sorted(zones)
            for group in groups:
                local = local_time(now, zones[group])
                by_group[group] = list(audience.members(conn, group, local))
        rule = "loyalty.birthday" if event == "birthdays" else "loyalty.inactive"
        members = [m for group in groups for m in by_group[group]]
        return {
            "event": event,
            "audience": audience.name,
            "business_id": business_id,
            "now": now.isoformat() + "Z",
            "count": len(members),
            "members": members[:limit],
            "recorded": record_tick(state.engine, who.tenant, rule, by_group, zones, now),
        }

    return routes


def record_tick(
    engine: Engine,
    tenant: str,
    name: str,
    by_group: Mapping[str, Sequence[Mapping[str, Any]]],
    zones: Mapping[str, str],
    now: datetime,
) -> dict[str, int]:
    """Fire a scheduled rule for each business's members, as its cron tick of the business's
    local day would (the same idempotency key: calling the endpoint and the 09:00 tick on the
    same day greets each customer once). Nothing is fired for a rule the tenant switched off."""
    rule = engine.automation_rule(name, tenant=tenant).rule
    totals = {"fired": 0, "throttled": 0, "duplicate": 0, "skipped": 0}
    if not rule.enabled or not isinstance(rule.trigger, ScheduleTrigger):
        return totals
    for group, members in by_group.items():
        due = todays_tick(rule.trigger.cron, zones[group], now)
        for key, count in engine.fire_schedule(rule, due, members, tenant=tenant).items():
            totals[key] = totals.get(key, 0) + count
    return totals


def todays_tick(cron: str, zone: str, now: datetime) -> datetime:
    """The newest tick of ``cron`` in ``zone`` up to the end of ``now``'s local day (``now``
    naive UTC): today's 09:00 for a daily rule, this week's Monday for a weekly one."""
    local = now.replace(tzinfo=UTC).astimezone(ZoneInfo(zone))
    end = datetime.combine(local.date(), time.max, tzinfo=local.tzinfo)
    return Schedule(name="loyalty.tick", cron=cron, timezone=zone, run=print).latest(end)


def _known(conn: Connection, business_id: str | None) -> None:
    if business_id is not None:
        business_of(conn, business_id)


def _test_customer(
    state: ApiState, tenant: str, business_id: str | None, now: datetime
) -> dict[str, Any]:
    """Register a simulated customer (name and phone only) in ``business_id`` or the first
    business, as the seed's test endpoint does, and ingest its event."""
    with source_write(state.engine) as conn:
        if business_id is None:
            business_id = first_business(conn)
        change = register_customer(
            conn,
            business_id=business_id,
            fields={"name": "Cliente de prueba", "phone": "+573000000000"},
            now=now,
        )
    _ingest(state.engine, change, tenant)
    return {
        "event": "test-customer",
        "business_id": business_id,
        "now": now.isoformat() + "Z",
        "customer_id": change["entity"],
        "event_id": change["event_id"],
        "missing_fields": change["payload"]["missing_fields"],
    }
