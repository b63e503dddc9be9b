"""The tenders job queue and exports: a 50,000-row export streams with progress and opens in
openpyxl; jobs are claimed once under racing workers, retried with back-off, failed for good
with the error (a caller's mistake at once), and their progress is visible."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from rescore.engine import Engine
from rescore.exceptions import NotFound
from rescore.packs.tenders import TendersPack, exports
from rescore.packs.tenders.jobs import Job, JobQueue, Progress, Workers
from rescore.packs.tenders.schema import history, products
from rescore.packs.tenders.service import Service
from rescore.packs.tenders.settings import TendersSettings
from rescore.testing import scratch_engine

AS_OF = datetime(2026, 11, 30, 12, 0)
BIG = 50_000
PRODUCT = "Notebook ultraliviano 14 pulgadas 16GB"


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> TendersPack:
    where = tmp_path_factory.mktemp("jobs")
    settings = TendersSettings(models_dir=where / "m", exports_dir=where / "exports")
    return TendersPack(as_of=lambda: AS_OF, settings=settings)


@pytest.fixture(scope="module")
def engine(pack: TendersPack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    where = tmp_path_factory.mktemp("jobsdb")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RESCORE_EMBEDDER", "hashing")
        with scratch_engine([pack], where / "t.db") as engine:
            with engine.source.begin() as conn:
                pack.generate_demo_data(conn, seed=7, size=4)
                _many_quotes(conn)
            yield engine


def _many_quotes(conn: sa.Connection) -> None:
    """``BIG`` quote lines of one product, and its catalogue row (so search finds it)."""
    start = date(2025, 1, 1)
    rows = [
        {
            "codigo_licitacion": f"9{n // 4:06d}-1-COT25",
            "item": 1,
            "rut_proveedor": f"{10_000_000 + n % 4}-{n % 4}",
            "fecha_cierre": start + timedelta(days=n % 600),
            "nombre_cotizacion": "Compra de notebooks",
            "organismo": "Municipalidad de Temuco",
            "region": "Región de La Araucanía",
            "categoria": "Computación",
            "producto_cotizado": PRODUCT,
            "cantidad": 2,
            "monto_total": 900_000 + n,
            "precio_unitario": (900_000 + n) / 2,
            "nombre_proveedor": f"Proveedor {n % 4}",
            "region_proveedor": "Región de La Araucanía",
            "tamano_proveedor": "pequena",
            "es_ganador": n % 4 == 0,
        }
        for n in range(BIG)
    ]
    conn.execute(sa.insert(history), rows)
    last = start + timedelta(days=599)
    catalogue = {"producto": PRODUCT, "categoria": "Computación", "cotizaciones": BIG}
    conn.execute(sa.insert(products), [catalogue | {"ultima_fecha": last}])


def test_a_large_export_streams_with_progress_and_opens(engine: Engine, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    seen: list[tuple[int, int]] = []
    with engine.source.read() as conn:
        table = exports.search_table(conn, "notebook ultraliviano")
        assert table.total >= BIG
        path = exports.write(table, tmp_path / "b.xlsx", "xlsx", lambda d, t: seen.append((d, t)))
    assert seen[0] == (0, table.total)
    assert seen[-1] == (table.total, table.total)
    assert len(seen) >= table.total // exports.EVERY
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    book = load_workbook(path, read_only=True)
    try:
        rows = book["datos"].iter_rows(values_only=True)
        header, first = next(rows), next(rows)
        assert list(header) == list(exports.HISTORY_COLUMNS)
        assert first[4] == PRODUCT
        assert 2 + sum(1 for _ in rows) == table.total + 1
    finally:
        book.close()
    assert not list(tmp_path.glob(".*partial")), "no half file left behind"


def test_the_pdf_export_has_every_row(engine: Engine, tmp_path: Path) -> None:
    with engine.source.read() as conn:
        table = exports.search_table(conn, "notebook ultraliviano")
        rows = [next(table.rows) for _ in range(300)]
    small = exports.Table(title=table.title, columns=table.columns, total=300, rows=iter(rows))
    path = exports.write(small, tmp_path / "b.pdf", "pdf", lambda d, t: None)
    data = path.read_bytes()
    assert data.startswith(b"%PDF")
    assert data.count(b"/Type /Page\n") >= 300 // 55 or data.count(b"/Type /Page") >= 5


def test_a_failed_export_leaves_no_file(tmp_path: Path) -> None:
    def broken() -> Iterator[tuple[Any, ...]]:
        yield (1, 2)
        raise RuntimeError("database went away")

    table = exports.Table(title="t", columns=("a", "b"), total=2, rows=broken())
    with pytest.raises(RuntimeError):
        exports.write(table, tmp_path / "x.xlsx", "xlsx", lambda d, t: None)
    assert list(tmp_path.iterdir()) == []


def _wait(
    queue: JobQueue, job_id: str, states: tuple[str, ...], timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = queue.status(job_id)
        if found["estado"] in states:
            return found
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {queue.status(job_id)['estado']}")


def test_an_export_job_reports_progress_and_its_file(engine: Engine, pack: TendersPack) -> None:
    service = Service(pack, engine)
    params = {"fuente": "busqueda", "consulta": "notebook ultraliviano", "formato": "xlsx"}
    job_id = service.submit("export", "s-1", params)
    with Workers(service.queue, service.handlers(), threads=1, idle=0.05):
        done = _wait(service.queue, job_id, ("listo", "fallido"), timeout=120)
    assert done["estado"] == "listo", done["error"]
    assert done["progreso"] == done["total"] >= BIG
    assert done["porcentaje"] == 100.0
    assert Path(done["resultado"]["archivo"]).exists()
    assert f"{done['total']:,} filas" in done["resultado"]["texto"]


def test_a_job_is_retried_then_fails_for_good_with_its_error(engine: Engine) -> None:
    queue = JobQueue(engine, attempts=3, backoff=0.01)
    calls: list[int] = []
    released: list[str] = []

    def flaky(job: Job, progress: Progress) -> dict[str, Any]:
        calls.append(job.intentos)
        raise ConnectionError("worker lost the database")

    job_id = queue.submit("precio", "s-2", {"producto": "x"})
    with Workers(queue, {"precio": flaky}, idle=0.02, on_failed=lambda j: released.append(j.id)):
        failed = _wait(queue, job_id, ("fallido",))
    assert calls == [1, 2, 3]
    assert failed["intentos"] == 3
    assert "worker lost the database" in failed["error"]
    assert released == [job_id]


def test_a_callers_mistake_fails_at_once(engine: Engine) -> None:
    queue = JobQueue(engine, attempts=3, backoff=0.01)

    def missing(job: Job, progress: Progress) -> dict[str, Any]:
        raise NotFound("no tender 'X'", field="codigo_licitacion")

    job_id = queue.submit("scoring", "s-3", {"codigo": "X"})
    with Workers(queue, {"scoring": missing}, idle=0.02):
        failed = _wait(queue, job_id, ("fallido",))
    assert failed["intentos"] == 1
    assert "no tender 'X'" in failed["error"]


def test_racing_workers_take_each_job_once(engine: Engine) -> None:
    queue = JobQueue(engine)
    ids = [queue.submit("precio", "s-4", {"n": n}) for n in range(40)]
    ran: list[str] = []
    lock = threading.Lock()

    def record(job: Job, progress: Progress) -> dict[str, Any]:
        with lock:
            ran.append(job.id)
        return {"texto": "ok"}

    with Workers(queue, {"precio": record}, threads=4, idle=0.01):
        for job_id in ids:
            _wait(queue, job_id, ("listo",))
    assert sorted(ran) == sorted(ids)


def test_finished_chat_jobs_wait_for_delivery_once(engine: Engine) -> None:
    queue = JobQueue(engine)
    job_id = queue.submit("precio", "s-5", {}, chat_id=77)
    job = queue.claim()
    while job is not None and job.id != job_id:
        queue.finish(job.id, {"texto": "other"})
        job = queue.claim()
    assert job is not None
    queue.finish(job.id, {"texto": "listo"})
    waiting = [j for j in queue.undelivered() if j["id"] == job_id]
    assert waiting[0]["resultado"] == {"texto": "listo"}
    assert waiting[0]["chat_id"] == 77
    queue.delivered(job_id)
    assert job_id not in {j["id"] for j in queue.undelivered()}


def test_scoring_a_supplier_without_history_is_refused_in_spanish(
    engine: Engine, pack: TendersPack
) -> None:
    from rescore.exceptions import InvalidInput
    from rescore.packs.tenders.schema import subscribers, tenders

    pytest.importorskip("sklearn")
    with engine.source.read() as conn:
        who = conn.execute(sa.select(subscribers.c.id).order_by(subscribers.c.id)).scalar()
        code = conn.execute(sa.select(tenders.c.codigo).order_by(tenders.c.codigo)).scalar()
    job = Job(id="j", tipo="scoring", suscriptor_id=str(who), chat_id=None,
              parametros={"codigo": code, "precio": 1000}, intentos=1)  # fmt: skip
    with pytest.raises(InvalidInput, match="no tiene cotizaciones en el histórico"):
        Service(pack, engine).handlers()["scoring"](job, lambda done, total: None)


def test_alert_and_price_exports_hold_the_subscribers_matches_and_the_prices(
    engine: Engine, pack: TendersPack
) -> None:
    from rescore.packs.tenders.schema import alert_profiles, tenders

    p = alert_profiles.c
    with engine.source.begin() as conn:
        who, text = conn.execute(
            sa.select(p.suscriptor_id, p.texto).where(p.tipo == "semantic").order_by(p.id).limit(1)
        ).one()
        conn.execute(sa.insert(tenders).values(
            codigo="8888-1-COT26", nombre=text, descripcion=text, organismo="Municipalidad",
            region="Región del Maule", categoria="Computación", producto=text, cantidad=3,
            monto_estimado=900_000, fecha_publicacion=AS_OF, fecha_cierre=AS_OF + timedelta(days=7),
            estado="publicada", actualizado_en=AS_OF))  # fmt: skip
    with engine.source.read() as conn:
        table = exports.alert_table(conn, pack.intel.profiles(conn), who)
        rows = list(table.rows)
        price = exports.price_table(pack.price_analysis(conn, _query(pack, "guantes nitrilo")))
        facts = list(price.rows)
    assert table.total == len(rows) >= 1
    mine = [r for r in rows if r[0] == "8888-1-COT26"]
    assert mine
    assert mine[0][5] == text
    assert [f[1] for f in facts[:3]] == ["precio_competitivo", "precio_sugerido", "precio_seguro"]
    assert price.total == len(facts) > 3


def _query(pack: TendersPack, product: str) -> Any:
    from rescore.packs.tenders.analysis import PriceQuery

    return PriceQuery(producto=product, as_of=AS_OF.date())


def test_a_retried_proposal_job_reuses_its_draft(engine: Engine, pack: TendersPack) -> None:
    from rescore.packs.tenders.schema import proposals, subscribers, tenders

    with engine.source.read() as conn:
        who = conn.execute(sa.select(subscribers.c.id).order_by(subscribers.c.id)).scalar()
        code = conn.execute(sa.select(tenders.c.codigo).order_by(tenders.c.codigo)).scalar()
    job = Job(id="job-retried", tipo="propuesta", suscriptor_id=str(who), chat_id=None,
              parametros={"codigo": code}, intentos=1)  # fmt: skip
    run = Service(pack, engine).handlers()["propuesta"]
    first, again = run(job, lambda d, t: None), run(job, lambda d, t: None)
    assert first["propuesta_id"] == again["propuesta_id"]
    assert Path(again["archivo"]).read_bytes().startswith(b"%PDF")
    with engine.source.read() as conn:
        stored = conn.execute(
            sa.select(sa.func.count()).where(proposals.c.id == first["propuesta_id"])
        ).scalar_one()
    assert stored == 1
