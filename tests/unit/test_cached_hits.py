"""Cache hits of ``GET /v1/scores/{pack}/{entity}`` are answered before routing
(:class:`rescore.api.hits.CachedHits`): the route's very bytes and headers, counted and timed
like the route's, and nothing else is: a miss, an unverified key, another tenant's key, a query
all reach the route.

To tell who answered, the tests break the route (its state dependency refuses every request
with 403) once the cache is warm: whatever still answers 200 was answered before routing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import event, put_items
from rescore.api import create_app
from rescore.api.deps import app_state
from rescore.engine import Engine
from rescore.keys import Forbidden
from rescore.testing import drain

LOOKUP = "/v1/scores/toy/x"


class Api:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.app = create_app(engine.settings, engine=engine, workers=False)
        self.client = TestClient(self.app)

    def key(self, tenant: str = "default") -> dict[str, str]:
        """A new key (never verified yet) as headers."""
        secret = self.engine.keys.create(tenant, "read", self.engine.clock())[1]
        return {"Authorization": f"Bearer {secret}"}

    def get(self, headers: dict[str, str], path: str = LOOKUP) -> httpx.Response:
        return self.client.get(path, headers=headers)

    def break_route(self) -> None:
        def refuse() -> None:
            raise Forbidden("the route was reached")

        self.app.dependency_overrides[app_state] = refuse

    def sample(self, name: str, **labels: str) -> float:
        return self.app.state.metrics.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def api(engine: Engine) -> Api:
    put_items(engine, x=(10, 20), y=(30, 40))
    engine.ingest([event("e-x", "a_changed", "x"), event("e-y", "a_changed", "y")])
    drain(engine)
    return Api(engine)


def without_age(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    return body | {"age_seconds": None}


def test_a_hit_is_answered_before_routing_with_the_routes_bytes(api: Api) -> None:
    warm = api.key()
    assert api.get(warm).json()["source"] == "database"  # a miss: the route reads it
    by_route = api.get(api.key())  # a new key is verified by the route, which finds the hit
    api.break_route()
    before_routing = api.get(warm)
    assert by_route.status_code == before_routing.status_code == 200
    assert before_routing.json()["source"] == "cache"
    assert without_age(before_routing) == without_age(by_route)
    assert before_routing.headers == by_route.headers | {
        "content-length": before_routing.headers["content-length"]
    }
    assert api.get(api.key()).status_code == 403, "an unverified key goes to the route"


def test_what_is_not_a_plain_hit_goes_to_the_route(api: Api) -> None:
    key = api.key()
    api.get(key)
    api.break_route()
    assert api.get(key).status_code == 200
    assert api.get(key, f"{LOOKUP}?as_of=2030-01-01T00:00:00Z").status_code == 403
    assert api.get(key, f"{LOOKUP}/history").status_code == 403
    assert api.get(key, "/v1/scores/toy/y").status_code == 403, "y was never read: a miss"
    api.engine.ingest([event("e-x2", "a_changed", "x")])  # drops x from the cache
    assert api.get(key).status_code == 403, "an invalidated entry is a miss"


def test_another_tenants_key_never_gets_the_cached_view(api: Api) -> None:
    assert api.get(api.key()).status_code == 200
    other = api.key(tenant="other")
    assert api.get(other).status_code == 404  # verified by the route, and not found there
    assert api.get(other).status_code == 404  # now a verified key: still its own tenant's miss


def test_hits_before_routing_are_counted_and_timed_by_route_template(api: Api) -> None:
    key = api.key()
    for _ in range(3):
        assert api.get(key).status_code == 200
    assert api.sample("rescore_lookup_cache_total", result="miss") == 1
    assert api.sample("rescore_lookup_cache_total", result="hit") == 2
    timed = api.sample(
        "rescore_http_request_duration_seconds_count",
        route="/v1/scores/{pack}/{entity}",
        method="GET",
        status="200",
    )
    assert timed == 3
