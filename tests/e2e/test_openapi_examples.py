"""Every operation's documented example works: ``rescore serve`` on the demo data (``rescore init
--demo-data``, seed 7, every pack), each operation's example request sent as /docs would send
it, answered 2xx with the keys of the documented example answer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from helpers import run, serving

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    where = tmp_path_factory.mktemp("examples")
    env = {
        "RESCORE_DATABASE_URL": f"sqlite:///{where / 'demo.db'}",
        "RESCORE_CONTENT_HOTTOK": "hottok-de-ejemplo",  # what POST /hotmart's example sends
    }
    run("init", "--demo-data", cwd=where, env=env)
    key = run("keys", "create", "--scope", "admin", cwd=where, env=env).stdout.strip()
    with serving(where, env) as url:
        yield url, key


def _first(examples: dict[str, Any]) -> Any:
    return next(iter(examples.values()))["value"]


def _request(
    path: str, operation: dict[str, Any]
) -> tuple[str, dict[str, Any], dict[str, str], Any]:
    """The path, query, headers and body an operation documents."""
    query: dict[str, Any] = {}
    headers: dict[str, str] = {}
    for parameter in operation.get("parameters", []):
        if "examples" not in parameter:
            assert not parameter.get("required"), f"{path}: {parameter['name']} has no example"
            continue
        value = _first(parameter["examples"])
        if parameter["in"] == "path":
            path = path.replace("{" + parameter["name"] + "}", str(value))
        elif parameter["in"] == "header":
            headers[parameter["name"]] = str(value)
        else:
            query[parameter["name"]] = value
    body = None
    if "requestBody" in operation:
        content = operation["requestBody"]["content"]["application/json"]
        assert "examples" in content, f"{path}: the request body has no example"
        body = _first(content["examples"])
    return path, query, headers, body


def _documented(operation: dict[str, Any]) -> set[str]:
    """The keys of the documented JSON answer, or the metric families of a text one."""
    ok = next(v for k, v in operation["responses"].items() if k.startswith("2"))
    if "application/pdf" in ok.get("content", {}):
        return set()  # a document: _keys checks it is one
    text = ok.get("content", {}).get("text/plain", {}).get("example")
    if text is not None:
        assert text.strip(), "the answer's example is empty"
        return _families(text)
    if ok.get("content") and "application/json" not in ok["content"]:
        return set()  # a file (a PDF, a workbook): _keys checks its declared type
    return set(_documented_answer(ok))


def _keys(answer: httpx.Response) -> set[str]:
    kind = answer.headers["content-type"]
    if kind == "application/pdf":
        assert answer.content.startswith(b"%PDF-"), answer.content[:20]
        return set()
    if kind.startswith("text/plain"):
        return _families(answer.text)
    if not kind.startswith("application/json"):
        assert answer.content, f"an empty {kind} file"
        return set()
    return set(answer.json())


def _families(text: str) -> set[str]:
    """The metric families a Prometheus text exposition declares (``# TYPE name kind``)."""
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}


def _documented_answer(ok: dict[str, Any]) -> dict[str, Any]:
    example = ok.get("content", {}).get("application/json", {}).get("example")
    assert isinstance(example, dict), "the answer has no example"
    assert example, "the answer's example is empty"
    return example


def test_every_operation_has_examples_that_work_on_the_demo_data(server: tuple[str, str]) -> None:
    url, key = server
    spec = httpx.get(f"{url}/openapi.json", timeout=30).json()
    tried = []
    for template, operations in spec["paths"].items():
        for method, operation in operations.items():
            path, query, headers, body = _request(template, operation)
            answer = httpx.request(
                method.upper(),
                f"{url}{path}",
                params=query,
                json=body,
                headers={"Authorization": f"Bearer {key}", **headers},
                timeout=60,
            )
            where = f"{method.upper()} {template}"
            assert answer.is_success, f"{where}: {answer.status_code} {answer.text}"
            missing = _documented(operation) - _keys(answer)
            assert not missing, f"{where}: the answer lacks the documented {sorted(missing)}"
            tried.append(where)
    assert len(tried) >= 14, tried
    assert {"POST /update-score", "GET /v1/packs/leads/analytics"} <= set(tried)
