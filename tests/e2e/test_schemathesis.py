"""schemathesis drives every operation of the OpenAPI schema with generated requests: no
server error, and every response matches the schema (status code, content type, headers, body).

The schema-acceptance checks (a schema-valid request must succeed) are not run: event types,
packs and entities are data, and an event of an unknown type is rightly a 422.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from rescore.api import create_app
from rescore.demo import prepare_pack
from rescore.engine import Engine
from rescore.settings import Settings

pytestmark = pytest.mark.e2e

_folder = Path(tempfile.mkdtemp(prefix="rescore-schemathesis-"))
_settings = Settings(
    database_url=f"sqlite:///{_folder / 'api.db'}",
    packs=["credit"],
    snapshot_dir=_folder / "snap",
    snapshot_interval=0,
)
_engine = Engine.from_settings(_settings)
_engine.migrate()


class _Quiet:
    def print(self, *args: Any, **kwargs: Any) -> None: ...
    def status(self, *args: Any, **kwargs: Any) -> Any:
        from contextlib import nullcontext

        return nullcontext()


prepare_pack(_engine, "credit", _Quiet(), seed=5, size=40)  # type: ignore[arg-type]
_, KEY = _engine.keys.create("default", "admin", datetime.now(UTC))
app = create_app(_settings, engine=_engine, workers=False)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case: schemathesis.Case) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {KEY}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_headers_conformance,
            response_schema_conformance,
        ],
    )
