"""Where packs' routes are served, collisions refused, and packs using only the SDK."""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI

import rescore.packs
from conftest import ToyPack
from rescore.api.mount import PACK_PREFIX, mount_packs
from rescore.exceptions import PluginError
from rescore.packs import sdk
from rescore.plugins import PackRegistry


def _router(*paths: str) -> APIRouter:
    router = APIRouter()
    for path in paths:
        router.add_api_route(path, lambda: {}, methods=["GET"])
    return router


class Routed(ToyPack):
    """The toy pack with routes: ``routes`` under its prefix, ``contract`` at the root."""

    def __init__(self, name: str, routes: Sequence[str] = (), contract: Sequence[str] = ()) -> None:
        self.name = name  # type: ignore[misc]
        self.routes = routes
        self.contract = contract

    def register_routes(self) -> Sequence[APIRouter]:
        return [_router(*self.routes)] if self.routes else []

    def register_contract_routes(self) -> Sequence[APIRouter]:
        return [_router(*self.contract)] if self.contract else []


def paths(app: FastAPI) -> set[str]:
    return set(app.openapi()["paths"])


def core() -> FastAPI:
    """An app whose core routes come in an included router, as the service's do."""
    app = FastAPI()
    app.include_router(_router("/healthz", "/v1/scores/{pack}/{entity}"))
    return app


def test_pack_routes_go_under_their_prefix_and_contract_routes_at_the_root() -> None:
    app = core()
    mount_packs(app, PackRegistry([Routed("toy", routes=["/report"], contract=["/predict"])]))
    assert {f"{PACK_PREFIX}/toy/report", "/predict"} <= paths(app)
    assert "/report" not in paths(app)


def test_two_packs_may_use_the_same_path_under_their_own_prefixes() -> None:
    app = core()
    registry = PackRegistry([Routed("one", routes=["/report"]), Routed("two", routes=["/report"])])
    mount_packs(app, registry)
    assert {f"{PACK_PREFIX}/one/report", f"{PACK_PREFIX}/two/report"} <= paths(app)


def test_two_packs_claiming_one_contract_route_are_refused_naming_both() -> None:
    registry = PackRegistry(
        [Routed("one", contract=["/predict"]), Routed("two", contract=["/predict"])]
    )
    with pytest.raises(PluginError, match=r"GET /predict .*pack 'one'.*pack 'two'"):
        mount_packs(core(), registry)


def test_a_pack_claiming_a_core_route_is_refused_naming_both() -> None:
    registry = PackRegistry([Routed("toy", contract=["/healthz"])])
    with pytest.raises(PluginError, match=r"GET /healthz .*the core.*pack 'toy'"):
        mount_packs(core(), registry)


def test_path_parameters_compare_by_position() -> None:
    registry = PackRegistry(
        [Routed("a", contract=["/x/{one}"]), Routed("b", contract=["/x/{two}"])]
    )
    with pytest.raises(PluginError, match="claimed by both"):
        mount_packs(core(), registry)


def test_the_service_serves_seed_contracts_at_the_root_and_leads_under_its_prefix(
    tmp_path: Path,
) -> None:
    from rescore.api import create_app
    from rescore.engine import Engine
    from rescore.settings import Settings

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}")
    app = create_app(settings, engine=Engine.from_settings(settings), workers=False)
    assert {"/update-score", "/update-batch", "/predict"} <= paths(app)
    assert f"{PACK_PREFIX}/leads/analytics" in paths(app)
    assert "/analytics" not in paths(app)


# the SDK -------------------------------------------------------------------------------------

PACKS = Path(rescore.packs.__file__).parent
PRIVATE = ("rescore.api", "rescore.cli", "rescore.commands")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize(
    "module", sorted(p for p in PACKS.rglob("*.py") if p.name != "sdk.py"), ids=str
)
def test_packs_import_no_private_module_of_the_http_service(module: Path) -> None:
    bad = sorted(m for m in _imports(module) if m.startswith("rescore.api"))
    assert not bad, f"{module.relative_to(PACKS)} imports {bad}: use rescore.packs.sdk"


def test_every_sdk_name_resolves_and_all_is_complete() -> None:
    for name in sdk.__all__:
        assert getattr(sdk, name) is not None
    with pytest.raises(AttributeError):
        sdk.not_a_helper  # noqa: B018


def test_importing_the_sdk_does_not_import_fastapi() -> None:
    import subprocess
    import sys

    code = "import sys, rescore.packs.sdk; print('fastapi' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False", "a pack's CLI commands must not pay for FastAPI"
