"""Proposal drafts, exports and jobs over HTTP (/v1/packs/tenders) on the demo data: a draft
stored and served as PDF and DOCX, tier refusals (403 naming the tier, 429 with Retry-After),
an export queued, run by the pack's schedule, followed and downloaded."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from rescore.api import create_app
from rescore.engine import Engine
from rescore.packs.tenders import TendersPack
from rescore.packs.tenders.documents import HEADINGS
from rescore.packs.tenders.schema import subscribers, tenders
from rescore.packs.tenders.settings import TendersSettings
from rescore.testing import scratch_engine

AS_OF = datetime(2026, 11, 30, 12, 0)
BASE = "/v1/packs/tenders"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    where = tmp_path_factory.mktemp("subs")
    settings = TendersSettings(models_dir=where / "m", exports_dir=where / "exports")
    pack = TendersPack(as_of=lambda: AS_OF, settings=settings)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RESCORE_EMBEDDER", "hashing")
        with scratch_engine([pack], where / "t.db") as engine:
            with engine.source.begin() as conn:
                pack.generate_demo_data(conn, seed=7, size=6)
                s = subscribers.c
                ids = conn.execute(sa.select(s.id).order_by(s.id).limit(2)).scalars().all()
                for who, tier in zip(ids, ("free", "pyme"), strict=True):
                    conn.execute(sa.update(subscribers).where(s.id == who).values(tier=tier))
                code = conn.execute(sa.select(tenders.c.codigo).order_by(tenders.c.codigo)).scalar()
            client = TestClient(create_app(engine.settings, engine=engine, workers=False))
            yield {"engine": engine, "pack": pack, "client": client, "free": ids[0],
                   "pyme": ids[1], "code": code}  # fmt: skip


def _headers(engine: Engine, scope: str) -> dict[str, str]:
    _, key = engine.keys.create("default", scope, datetime.now(UTC))
    return {"Authorization": f"Bearer {key}"}


def _propose(world: dict[str, Any], who: str, code: str | None = None) -> Any:
    body = {"suscriptor_id": world[who], "codigo_licitacion": code or world["code"]}
    return world["client"].post(
        f"{BASE}/propuestas", json=body, headers=_headers(world["engine"], "write")
    )


def test_a_draft_is_stored_and_served_as_pdf_and_docx(world: dict[str, Any]) -> None:
    import docx

    made = _propose(world, "pyme")
    assert made.status_code == 200, made.text
    view = made.json()
    assert view["modelo"] == "offline"
    assert view["codigo_licitacion"] == world["code"]
    read = _headers(world["engine"], "read")
    client = world["client"]
    again = client.get(f"{BASE}/propuestas/{view['id']}", headers=read)
    assert again.json()["secciones"] == view["secciones"]
    pdf = client.get(f"{BASE}/propuestas/{view['id']}.pdf", headers=read)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    word = client.get(f"{BASE}/propuestas/{view['id']}.docx", headers=read)
    assert word.status_code == 200
    headings = [p.text for p in docx.Document(io.BytesIO(word.content)).paragraphs
                if p.style.name.startswith("Heading")]  # fmt: skip
    assert headings == list(HEADINGS.values())


def test_a_free_subscriber_is_told_which_tier_has_proposals(world: dict[str, Any]) -> None:
    refused = _propose(world, "free")
    assert refused.status_code == 403
    assert "tier pyme has it" in refused.json()["detail"]


def test_the_sixth_proposal_of_the_month_is_a_429_with_retry_after(world: dict[str, Any]) -> None:
    answers = [_propose(world, "pyme").status_code for _ in range(6)]
    assert answers.count(429) >= 1
    assert answers[-1] == 429
    last = _propose(world, "pyme")
    assert last.status_code == 429
    assert int(last.headers["retry-after"]) > 0


def test_unknown_tender_and_bad_body_name_the_field(world: dict[str, Any]) -> None:
    missing = _propose(world, "pyme", code="NO-EXISTE")
    assert missing.status_code == 404  # looked up before any unit is taken
    assert "codigo_licitacion" in missing.json()["field"]
    bad = world["client"].post(
        f"{BASE}/propuestas", json={"suscriptor_id": 7}, headers=_headers(world["engine"], "write")
    )
    assert bad.status_code == 422


def test_an_export_is_queued_run_followed_and_downloaded(world: dict[str, Any]) -> None:
    from openpyxl import load_workbook

    client, engine = world["client"], world["engine"]
    body = {"suscriptor_id": world["pyme"], "fuente": "busqueda", "texto": "guantes nitrilo"}
    queued = client.post(f"{BASE}/exportaciones", json=body, headers=_headers(engine, "write"))
    assert queued.status_code == 202, queued.text
    job = queued.json()
    assert job["estado"] == "pendiente"
    assert job["descarga"] is None
    read = _headers(engine, "read")
    early = client.get(f"{BASE}/trabajos/{job['id']}/archivo", headers=read)
    assert early.status_code == 404
    assert world["pack"]._run_jobs(engine, AS_OF) >= 1  # the tenders.jobs schedule's run
    done = client.get(f"{BASE}/trabajos/{job['id']}", headers=read).json()
    assert done["estado"] == "listo"
    assert done["progreso"] == done["total"] > 0
    assert done["descarga"] == f"{BASE}/trabajos/{job['id']}/archivo"
    file = client.get(done["descarga"], headers=read)
    assert file.status_code == 200
    book = load_workbook(io.BytesIO(file.content), read_only=True)
    rows = sum(1 for _ in book["datos"].iter_rows(values_only=True))
    book.close()
    assert rows == done["total"] + 1


def test_a_free_subscriber_cannot_export_and_an_unknown_job_is_404(world: dict[str, Any]) -> None:
    client, engine = world["client"], world["engine"]
    body = {"suscriptor_id": world["free"], "fuente": "alertas"}
    refused = client.post(f"{BASE}/exportaciones", json=body, headers=_headers(engine, "write"))
    assert refused.status_code == 403
    assert "emprendedor" in refused.json()["detail"]
    unknown = client.get(f"{BASE}/trabajos/{'0' * 8}-0000-4000-8000-{'0' * 12}",
                         headers=_headers(engine, "read"))  # fmt: skip
    assert unknown.status_code == 404
    assert unknown.json()["field"] == "trabajo_id"


def test_the_demo_proposal_job_downloads_its_letter(world: dict[str, Any]) -> None:
    from rescore.packs.tenders.subscriber_routes import JOB, PROPOSAL

    read = _headers(world["engine"], "read")
    client = world["client"]
    job = client.get(f"{BASE}/trabajos/{JOB['id']}", headers=read).json()
    assert job["resultado"]["propuesta_id"] == PROPOSAL["id"]
    assert job["descarga"] == JOB["descarga"]
    letter = client.get(job["descarga"], headers=read)
    assert letter.status_code == 200
    assert letter.content.startswith(b"%PDF")
    assert 'filename="propuesta_' in letter.headers["content-disposition"]
