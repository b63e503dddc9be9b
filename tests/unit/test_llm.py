"""rescore.llm against local fakes speaking Gemini's and OpenAI's wire formats (the real
google-genai and openai clients, only their base URL changed): answers, retries on 429 and
5xx, malformed answers asked again and then refused, keys kept out of logs and errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from pydantic import BaseModel

from fakes import FakeGemini, FakeOpenAI, serve
from rescore.exceptions import ConfigurationError
from rescore.llm import (
    Attachment,
    GeminiModel,
    LanguageModel,
    MalformedAnswer,
    ModelUnavailable,
    OpenAIModel,
    from_env,
)

KEY = "sk-secret-key-4242-never-logged"


class Answer(BaseModel):
    school: str
    level: str


GOOD = '{"school": "programación", "level": "básico"}'
WAITS: list[float] = []


OPENED: list[LanguageModel] = []


@pytest.fixture(autouse=True)
def _closed() -> Iterator[None]:
    """Every model a test opens is closed after it (no connection left behind)."""
    yield
    while OPENED:
        OPENED.pop().close()


def _gemini(url: str) -> GeminiModel:
    model = GeminiModel(api_key=KEY, model="gemini-2.0-flash", base_url=url, sleep=WAITS.append)
    OPENED.append(model)
    return model


def _openai(url: str) -> OpenAIModel:
    model = OpenAIModel(api_key=KEY, model="gpt-4o-mini", base_url=f"{url}/v1", sleep=WAITS.append)
    OPENED.append(model)
    return model


def test_gemini_answers_json_validated_and_sends_the_key_and_the_file() -> None:
    with serve(FakeGemini([GOOD])) as fake:
        found = _gemini(fake.url).generate_json(
            "classify", Answer, files=[Attachment("v.mp4", "video/mp4", b"\x00\x01")]
        )
        request = fake.requests[-1]
    assert found == Answer(school="programación", level="básico")
    assert request.headers["x-goog-api-key"] == KEY
    parts = request.json()["contents"][0]["parts"]
    assert parts[0]["inlineData"]["mime_type"] == "video/mp4"
    assert request.json()["generationConfig"]["responseMimeType"] == "application/json"


def test_gemini_retries_a_429_honouring_retry_after_and_a_500_with_backoff() -> None:
    WAITS.clear()
    with serve(FakeGemini([GOOD])) as fake:
        fake.fail(":generateContent", 429, retry_after="7")
        fake.fail(":generateContent", 500)
        assert _gemini(fake.url).generate_json("x", Answer).level == "básico"
        assert fake.count(":generateContent") == 3
    assert WAITS == [7.0, 2.0]


def test_a_malformed_answer_is_asked_again_then_accepted() -> None:
    with serve(FakeGemini(["not json at all", '{"school": "x"}', f"```json\n{GOOD}\n```"])) as f:
        assert _gemini(f.url).generate_json("x", Answer).school == "programación"
        assert f.count(":generateContent") == 3


def test_always_malformed_is_refused_with_the_reason(caplog: pytest.LogCaptureFixture) -> None:
    with serve(FakeOpenAI(['{"school": "x"}'])) as fake, pytest.raises(MalformedAnswer) as err:
        _openai(fake.url).generate_json("x", Answer)
    assert "level: Field required" in str(err.value)
    assert err.value.http_status == 502
    assert fake.count("/chat/completions") == 4


def test_openai_answers_and_retries_then_gives_up_with_model_unavailable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with serve(FakeOpenAI([GOOD])) as fake:
        fake.fail("/chat/completions", 429, retry_after="1")
        assert _openai(fake.url).generate_json("x", Answer).school == "programación"
        request = fake.requests[-1]
        assert request.headers["authorization"] == f"Bearer {KEY}"
        assert request.json()["response_format"] == {"type": "json_object"}
        fake.fail("/chat/completions", 503, times=10)
        with pytest.raises(ModelUnavailable) as err:
            _openai(fake.url).generate_text("x")
    assert "HTTP 503 after 4 attempts" in str(err.value)
    assert KEY not in str(err.value)
    assert KEY not in caplog.text
    assert KEY not in repr(_openai("http://127.0.0.1:9"))


def test_openai_refuses_a_video_and_sends_text_attachments_as_text() -> None:
    with serve(FakeOpenAI([GOOD])) as fake:
        model = _openai(fake.url)
        with pytest.raises(MalformedAnswer, match="no video"):
            model.generate_text("x", files=[Attachment("v.mp4", "video/mp4", b"1")])
        model.generate_text("x", files=[Attachment("s.txt", "text/plain", b"hola")])
        content = fake.requests[-1].json()["messages"][0]["content"]
    assert content[1] == {"type": "text", "text": "hola"}


def test_from_env_reads_keys_base_url_and_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        from_env("openai")
    with pytest.raises(ConfigurationError, match="no language model"):
        from_env("claude")
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    monkeypatch.setenv("RESCORE_GEMINI_MODEL", "gemini-test")
    with serve(FakeGemini([GOOD])) as fake:
        monkeypatch.setenv("RESCORE_GEMINI_BASE_URL", fake.url)
        model: LanguageModel = from_env("gemini")
        OPENED.append(model)
        assert model.generate_text("hola") == GOOD
        assert "/models/gemini-test:generateContent" in fake.requests[-1].path
