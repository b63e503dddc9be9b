"""The content pack against local fakes of the services the seed uses: the Hotmart client
(token cache and expiry, paging, a 429, a 500), the OpenAI Vector Stores sync (upload, attach,
wait, indexing failure, time-out, idempotent re-sync), and the whole pipeline over Hotmart,
Gemini (a malformed answer first) and OpenAI (an indexing failure, then a retry)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from fakes import FakeGemini, FakeHotmart, FakeOpenAI, serve
from rescore.engine import Engine
from rescore.llm import GeminiModel
from rescore.packs.content import ContentPack
from rescore.packs.content.analysis import ModelAnalyzer
from rescore.packs.content.config import SAMPLE, ContentSettings
from rescore.packs.content.knowledge import IndexingFailed, OpenAIVectorStore
from rescore.packs.content.pipeline import Pipeline
from rescore.packs.content.schema import documents, lessons
from rescore.packs.content.sources import HotmartSource, SourceUnavailable
from rescore.packs.content.storage import LocalStorage
from rescore.testing import scratch_engine

SUBTITLES = (SAMPLE / "python-desde-cero" / "m2" / "l1.vtt").read_bytes()


def _catalogue(lessons_per_module: int = 3) -> dict[str, Any]:
    lessons_ = [
        {
            "id": f"l{i}",
            "title": f"Lección {i}",
            "video_url": "MEDIA/video.mp4",
            "subtitles_url": "MEDIA/subs.vtt",
            "updated_at": "2026-11-20T10:00:00Z",
        }
        for i in range(1, lessons_per_module + 1)
    ]
    return {
        "c1": {"title": "Python", "modules": {"m1": {"title": "Funciones", "lessons": lessons_}}},
        "c2": {"title": "Marketing", "modules": {}},
    }


def _hotmart(fake: FakeHotmart, waits: list[float], clock: Any = None) -> HotmartSource:
    kwargs = {"clock": clock} if clock else {}
    return HotmartSource(
        base_url=fake.url,
        token_url="/security/oauth/token",
        client_id="id",
        client_secret="secret",
        page_size=2,
        sleep=waits.append,
        **kwargs,
    )


def _media(fake: FakeHotmart) -> None:
    for lesson in fake.catalogue["c1"]["modules"]["m1"]["lessons"]:
        lesson["video_url"] = lesson["video_url"].replace("MEDIA", f"{fake.url}/media")
        lesson["subtitles_url"] = lesson["subtitles_url"].replace("MEDIA", f"{fake.url}/media")


def test_hotmart_pages_caches_its_token_and_retries_a_429_and_a_500() -> None:
    waits: list[float] = []
    with serve(FakeHotmart(_catalogue(lessons_per_module=5))) as fake:
        fake.fail("/modules/m1/lessons", 429, retry_after="3")
        fake.fail("/courses/c1/modules", 500)
        with closing(_hotmart(fake, waits)) as source:
            found = list(source.lessons())
        pages = [r.query.get("page_token") for r in fake.requests if "lessons" in r.path]
    assert [f.lesson_id for f in found] == [f"c1_m1_l{i}" for i in range(1, 6)]
    assert [f.position for f in found] == [1, 2, 3, 4, 5]
    assert fake.count("/oauth/token") == 1, "one token for every call"
    assert waits == [0.5, 3.0]
    assert pages == [None, None, ["2"], ["4"]], "the 429'd first page was asked again"


def test_hotmart_renews_an_expired_token() -> None:
    now = [0.0]
    with (
        serve(FakeHotmart(_catalogue(), expires_in=120)) as fake,
        closing(_hotmart(fake, [], clock=lambda: now[0])) as source,
    ):
        list(source.lessons())
        now[0] += 61  # within a minute of expiry: renewed before the call
        list(source.lessons())
        fake.tokens.clear()  # the server forgets it: a 401, renewed once
        list(source.lessons())
    assert source.tokens_fetched == 3


def test_hotmart_gives_up_with_source_unavailable() -> None:
    with serve(FakeHotmart(_catalogue())) as fake:
        fake.fail("/courses", 500, times=10)
        with (
            closing(_hotmart(fake, [])) as source,
            pytest.raises(SourceUnavailable, match="HTTP 500"),
        ):
            list(source.lessons())


def test_the_fingerprint_changes_with_the_lesson_not_with_the_call() -> None:
    with serve(FakeHotmart(_catalogue())) as fake, closing(_hotmart(fake, [])) as source:
        before = [r.fingerprint for r in source.lessons()]
        assert before == [r.fingerprint for r in source.lessons()]
        lesson = fake.catalogue["c1"]["modules"]["m1"]["lessons"][0]
        lesson["updated_at"] = "2026-11-29T00:00:00Z"
        after = [r.fingerprint for r in source.lessons()]
    assert after[0] != before[0]
    assert after[1:] == before[1:]


DOCUMENT = {"school": "programación", "lesson_id": "c1_m1_l1", "keywords": ["python"]}


def _vectors(fake: FakeOpenAI, waits: list[float], timeout: float = 300) -> OpenAIVectorStore:
    return OpenAIVectorStore(
        api_key="sk-x", base_url=f"{fake.url}/v1", timeout=timeout, sleep=waits.append
    )


def test_openai_sync_uploads_attaches_waits_and_replaces_on_resync() -> None:
    waits: list[float] = []
    with (
        serve(FakeOpenAI(polls=2)) as fake,
        closing(_vectors(fake, waits)) as store,
        closing(_vectors(fake, waits)) as fresh,
    ):
        first = store.sync("c1_m1_l1", DOCUMENT, None)
        again = store.sync("c1_m1_l1", DOCUMENT, first)
        other = fresh.sync("c1_m1_l2", DOCUMENT, None)
        moved = store.sync("c1_m1_l2", {**DOCUMENT, "school": "datos"}, other)
    assert [s["name"] for s in fake.stores.values()] == [
        "Hotmart - programación",
        "Hotmart - datos",
    ]
    assert set(fake.attached[moved.store]) == {moved.file}, "moved to the datos store"
    assert first.store == again.store == other.store
    assert set(fake.attached[first.store]) == {again.file}, "old and moved files detached"
    assert first.file not in fake.files
    assert waits == [5.0] * 4, "one poll in progress per upload"


def test_openai_indexing_failure_and_time_out_raise_indexing_failed() -> None:
    with serve(FakeOpenAI(polls=1)) as fake:
        fake.fail_indexing.add("c1_m1_l1.json")
        with closing(_vectors(fake, [])) as store, pytest.raises(IndexingFailed, match="scripted"):
            store.sync("c1_m1_l1", DOCUMENT, None)
        fake.polls = 10**6
        with closing(_vectors(fake, [], timeout=0)) as store, pytest.raises(IndexingFailed):
            store.sync("c1_m1_l2", DOCUMENT, None)


def test_the_local_store_replaces_a_lesson_and_moves_it_between_schools(tmp_path: Path) -> None:
    from rescore.embeddings import HashingEmbedder
    from rescore.packs.content.knowledge import LocalVectorStore

    doc = {"school": "programación", "course": "Python", "module": "m", "lesson": "Funciones",
           "keywords": ["def"], "key_concepts": [], "transcription": {"segments": []}}  # fmt: skip
    store = LocalVectorStore(tmp_path, HashingEmbedder())
    first = store.sync("c1_m1_l1", doc, None)
    assert store.sync("c1_m1_l1", doc, first) == first
    assert len(store.index("programación")) == 1, "re-synced, not added twice"
    moved = store.sync("c1_m1_l1", {**doc, "school": "datos"}, first)
    assert moved.store == "local:datos"
    assert len(store.index("programación")) == 0
    reopened = LocalVectorStore(tmp_path, HashingEmbedder())
    assert [m.key for _s, m in reopened.search("Funciones", schools=["datos"])] == ["c1_m1_l1"]


ANALYSIS = {
    "transcription": {"segments": [{"start_time": 0, "text": "Hola, hoy: funciones."}]},
    "visual_analysis": {"code_snippets": ["def f(x):\n    return x"], "diagrams": []},
    "classification": {
        "school": "programación",
        "topics": ["funciones"],
        "level": "básico",
        "keywords": ["python", "funciones", "def", "return", "parámetros"],
    },
    "key_concepts": ["función", "parámetro"],
    "learning_objectives": ["definir funciones"],
    "prerequisites": ["variables"],
}


def _no_wait(seconds: float) -> None:
    return None


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with scratch_engine([ContentPack()], tmp_path / "content.db") as engine:
        yield engine


def test_the_whole_pipeline_over_hotmart_gemini_and_openai_fakes(
    engine: Engine, tmp_path: Path
) -> None:
    media = {"video.mp4": b"\x00\x00\x00\x18ftypisom" * 64, "subs.vtt": SUBTITLES}
    gemini_answers = ["{not json", *[orjson.dumps(ANALYSIS).decode()] * 1]
    with (
        serve(FakeHotmart(_catalogue(), expires_in=61, media=media)) as hotmart,
        serve(FakeGemini(gemini_answers)) as gemini,
        serve(FakeOpenAI(polls=1)) as openai,
    ):
        _media(hotmart)
        hotmart.fail("/modules/m1/lessons", 429, retry_after="0")
        openai.fail_indexing.add("c1_m1_l2.json")
        pipeline = Pipeline(  # closed below: its Hotmart and OpenAI clients
            source=_hotmart(hotmart, []),
            storage=LocalStorage(tmp_path / "videos"),
            analyzer=ModelAnalyzer(
                GeminiModel(
                    api_key="g", model="gemini-2.0-flash", base_url=gemini.url, sleep=lambda s: None
                )
            ),
            vectors=_vectors(openai, []),
            settings=ContentSettings(retry_seconds=0, concurrency=2),
        )
        assert pipeline.detect(engine).counts()["new"] == 3
        first = pipeline.run(engine)
        assert sorted(first.processed) == ["c1_m1_l1", "c1_m1_l3"]
        assert first.failed == ["c1_m1_l2"]
        openai.fail_indexing.clear()
        assert pipeline.run(engine).processed == ["c1_m1_l2"]
        assert pipeline.detect(engine).counts()["unchanged"] == 3
        assert pipeline.run(engine).counts() == {"processed": 0, "failed": 0, "dead": 0}
        pipeline.close()
        pipeline.analyzer.model.close()  # type: ignore[attr-defined]
    assert gemini.count(":generateContent") == 4, "three lessons, one malformed answer again"
    inline = gemini.requests[-1].json()["contents"][0]["parts"]
    assert inline[0]["inlineData"]["mime_type"] == "video/mp4"
    with engine.source.read() as conn:
        row = conn.execute(select(lessons).where(lessons.c.lesson_id == "c1_m1_l2")).one()
        doc = conn.execute(select(documents).where(documents.c.lesson_id == "c1_m1_l2")).one()
    assert (row.state, row.attempts, row.dead) == ("done", 1, False)
    assert doc.document["visual_analysis"]["code_snippets"] == ["def f(x):\n    return x"]
    assert doc.vector_file in openai.attached[doc.vector_store]
    assert doc.analyzer == "model:gemini:gemini-2.0-flash"
    assert (tmp_path / "videos" / "c1" / "m1" / "c1_m1_l1.mp4").read_bytes() == media["video.mp4"]


def test_openai_analyses_from_the_subtitles_without_the_video(tmp_path: Path) -> None:
    from rescore.llm import OpenAIModel
    from rescore.packs.content.analysis import LessonContext

    video = tmp_path / "l1.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypisom")
    lesson = LessonContext(course="Python", module="Funciones", lesson="Funciones", video=video,
                           subtitles=SUBTITLES.decode())  # fmt: skip
    with serve(FakeOpenAI([orjson.dumps(ANALYSIS).decode()])) as fake:
        model = OpenAIModel(api_key="k", model="gpt-4o-mini", base_url=f"{fake.url}/v1")
        with closing(model):
            found = ModelAnalyzer(model).analyze(lesson)
        content = fake.requests[-1].json()["messages"][0]["content"]
    assert found.classification.school == "programación"
    assert [part["type"] for part in content] == ["text", "text"]
    assert "funciones" in content[1]["text"].lower()
