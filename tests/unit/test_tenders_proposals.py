"""Proposal drafts on the demo data: the offline writer's text comes from the data; Gemini and
OpenAI write through the core's adapters against local fakes (a 429 retried, a malformed
answer refused and nothing stored); PDF and DOCX renderings hold the four sections."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, datetime

import orjson
import pytest
import sqlalchemy as sa

from fakes import FakeGemini, FakeOpenAI, serve
from rescore.engine import Engine
from rescore.llm import GeminiModel, MalformedAnswer, OpenAIModel
from rescore.packs.tenders import TendersPack, proposals
from rescore.packs.tenders.documents import HEADINGS, proposal_docx, proposal_pdf
from rescore.packs.tenders.schema import history, subscribers, tenders
from rescore.packs.tenders.settings import TendersSettings
from rescore.testing import scratch_engine

AS_OF = datetime(2026, 11, 30, 12, 0)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    where = tmp_path_factory.mktemp("proposals")
    pack = TendersPack(as_of=lambda: AS_OF, settings=TendersSettings(models_dir=where / "m"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RESCORE_EMBEDDER", "hashing")
        with scratch_engine([pack], where / "t.db") as engine:
            with engine.source.begin() as conn:
                pack.generate_demo_data(conn, seed=7, size=6)
                _make_a_winner(conn)
            yield engine


def _make_a_winner(conn: sa.Connection) -> None:
    """The first subscriber takes the RUT of the history's most frequent winner."""
    h = history.c
    rut = conn.execute(
        sa.select(h.rut_proveedor).where(h.es_ganador).group_by(h.rut_proveedor)
        .order_by(sa.func.count().desc(), h.rut_proveedor).limit(1)
    ).scalar_one()  # fmt: skip
    first = conn.execute(sa.select(subscribers.c.id).order_by(subscribers.c.id)).scalars().first()
    values = {"rut": rut, "tier": "pyme"}
    conn.execute(sa.update(subscribers).where(subscribers.c.id == first).values(**values))


def _context(engine: Engine) -> proposals.Context:
    with engine.source.read() as conn:
        code = (
            conn.execute(sa.select(tenders.c.codigo).order_by(tenders.c.codigo)).scalars().first()
        )
        who = conn.execute(sa.select(subscribers.c.id).order_by(subscribers.c.id)).scalars().first()
        assert code is not None
        assert who is not None
        return proposals.load_context(conn, who, code)


def _answer(context: proposals.Context) -> str:
    closing = context.tender["fecha_cierre"].date()
    return orjson.dumps(
        {
            "comprension": f"Entendemos que {context.tender['organismo']} necesita el producto "
            "pedido con las especificaciones publicadas.",
            "experiencia": "Nuestra empresa ha provisto productos similares a hospitales y "
            "municipios de la región.",
            "solucion": "Entregaremos el total en una sola partida con garantía de doce "
            "meses y soporte local.",
            "cronograma": [
                {"etapa": "Oferta", "fecha": closing.isoformat()},
                {"etapa": "Entrega", "fecha": date(closing.year + 1, 1, 15).isoformat()},
            ],
        }
    ).decode()


def test_the_offline_draft_is_written_from_the_data(engine: Engine) -> None:
    context = _context(engine)
    sections, by = proposals.write_sections(context, None)
    t, a = context.tender, context.awards
    assert by == "offline"
    assert t["producto"] in sections.comprension
    assert t["organismo"] in sections.comprension
    assert a.count > 0
    assert f"{a.count} cotizaciones" in sections.experiencia
    assert proposals.clp(a.amount) in sections.experiencia
    assert a.regions[0] in sections.experiencia
    closing = t["fecha_cierre"].date()
    days = [m.fecha for m in sections.cronograma]
    assert days[0] == closing
    assert days == sorted(days)
    assert days[-1] > closing
    assert all(d.weekday() < 5 for d in days[1:]), "milestones fall on working days"


def test_a_subscriber_without_awards_is_told_so(engine: Engine) -> None:
    context = _context(engine)
    fresh = proposals.Context(
        tender=context.tender,
        subscriber=context.subscriber | {"rut": "1-9"},
        awards=proposals.Awards(count=0, amount=0, regions=[], in_category=0, products=[]),
    )
    assert "Aún no registramos adjudicaciones" in proposals.offline_sections(fresh).experiencia


def test_gemini_writes_the_draft_after_a_429(engine: Engine) -> None:
    context = _context(engine)
    with serve(FakeGemini(answers=[_answer(context)] * 2)) as fake:
        fake.fail(":generateContent", 429, times=1)
        model = GeminiModel(api_key="k", model="gemini-2.0-flash", base_url=fake.url,
                            sleep=lambda s: None)  # fmt: skip
        sections, by = proposals.write_sections(context, model)
        prompt = fake.requests[-1].json()["contents"][0]["parts"][0]["text"]
    assert by == "gemini:gemini-2.0-flash"
    assert fake.count(":generateContent") == 2
    assert context.tender["codigo"] in prompt
    assert context.subscriber["rut"] in prompt
    assert sections.cronograma[1].etapa == "Entrega"
    with engine.source.begin() as conn:
        view = proposals.store(conn, context, sections, by, AS_OF)
    with engine.source.read() as conn:
        again = proposals.get(conn, view["id"])
    assert again["modelo"] == by
    assert again["secciones"]["solucion"] == sections.solucion


def test_openai_malformed_answers_are_refused_and_nothing_is_stored(engine: Engine) -> None:
    context = _context(engine)
    bad = orjson.dumps({"comprension": "corta", "experiencia": "x"}).decode()
    with engine.source.read() as conn:
        before = conn.execute(sa.text("SELECT count(*) FROM propuestas")).scalar_one()
    with serve(FakeOpenAI(answers=[bad])) as fake:
        model = OpenAIModel(api_key="k", model="gpt-4o-mini", base_url=f"{fake.url}/v1",
                            attempts=2, sleep=lambda s: None)  # fmt: skip
        with pytest.raises(MalformedAnswer, match="comprension"):
            proposals.write_sections(context, model)
    assert fake.count("/chat/completions") == 2
    with engine.source.read() as conn:
        after = conn.execute(sa.text("SELECT count(*) FROM propuestas")).scalar_one()
    assert after == before


def test_openai_writes_a_good_answer(engine: Engine) -> None:
    context = _context(engine)
    with serve(FakeOpenAI(answers=[_answer(context)])) as fake:
        model = OpenAIModel(api_key="k", model="gpt-4o-mini", base_url=f"{fake.url}/v1")
        sections, by = proposals.write_sections(context, model)
    assert by == "openai:gpt-4o-mini"
    assert sections.experiencia.startswith("Nuestra empresa")


def test_pdf_and_docx_hold_the_letter(engine: Engine) -> None:
    import docx

    context = _context(engine)
    sections, by = proposals.write_sections(context, None)
    with engine.source.begin() as conn:
        view = proposals.store(conn, context, sections, by, AS_OF)
    pdf = proposal_pdf(view)
    assert pdf.startswith(b"%PDF")
    assert len(pdf) > 1500
    document = docx.Document(io.BytesIO(proposal_docx(view)))
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert headings == list(HEADINGS.values())
    text = "\n".join(p.text for p in document.paragraphs)
    assert sections.solucion in text
    assert context.subscriber["rut"] in text
    schedule = document.tables[0]
    assert len(schedule.rows) == 1 + len(sections.cronograma)
    assert schedule.rows[1].cells[1].text == sections.cronograma[0].fecha.strftime("%d-%m-%Y")


def test_unknown_tender_or_subscriber_is_a_404_naming_the_field(engine: Engine) -> None:
    from rescore.exceptions import NotFound

    with engine.source.read() as conn:
        with pytest.raises(NotFound) as missing:
            proposals.load_context(conn, "12345678-5", "NO-SUCH")
        assert missing.value.field == "codigo_licitacion"
        code = conn.execute(sa.select(tenders.c.codigo)).scalars().first()
        assert code is not None
        with pytest.raises(NotFound) as nobody:
            proposals.load_context(conn, "12345678-5", code)
        assert nobody.value.field == "suscriptor"


def _used(engine: Engine, who: str) -> int:
    from rescore.packs.tenders.schema import quota_usage

    q = quota_usage.c
    query = sa.select(sa.func.coalesce(sa.func.sum(q.usados), 0)).where(
        q.suscriptor_id == who, q.feature == "proposals"
    )
    with engine.source.read() as conn:
        return int(conn.execute(query).scalar_one())


def test_the_configured_model_drafts_through_the_service_and_a_refusal_costs_nothing(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rescore.packs.tenders.service import Service

    context = _context(engine)
    who, code = context.subscriber["id"], context.tender["codigo"]
    bad = orjson.dumps({"comprension": "corta"}).decode()
    for provider, fake, key in (("gemini", FakeGemini([_answer(context)] * 2), "GEMINI_API_KEY"),
                                ("openai", FakeOpenAI([bad]), "OPENAI_API_KEY")):  # fmt: skip
        with serve(fake):
            monkeypatch.setenv(key, "k-from-env")
            suffix = "/v1" if provider == "openai" else ""
            monkeypatch.setenv(f"RESCORE_{provider.upper()}_BASE_URL", fake.url + suffix)
            fake.fail("generateContent" if provider == "gemini" else "/chat", 429, 1, "0")
            pack = TendersPack(as_of=lambda: AS_OF, settings=TendersSettings(llm=provider))
            service = Service(pack, engine)
            before = _used(engine, who)
            if provider == "gemini":
                view = service.draft_proposal(who, code)
                assert view["modelo"] == "gemini:gemini-2.0-flash"
                assert _used(engine, who) == before + 1
            else:
                with pytest.raises(MalformedAnswer, match="openai:gpt-4o-mini answered malformed"):
                    service.draft_proposal(who, code)
                assert _used(engine, who) == before, "a refused draft gives its unit back"
