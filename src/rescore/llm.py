"""Language models behind one small interface: text, or JSON validated by a pydantic model.

Any part of rescore that asks a model something (the content pack's lesson analysis, a tender
proposal draft) goes through :class:`LanguageModel`, so retries, validation and key handling
are written once::

    model = from_env("gemini")              # GEMINI_API_KEY; RESCORE_GEMINI_BASE_URL optional
    analysis = model.generate_json(prompt, Analysis, files=[Attachment.of(video, "video/mp4")])

Errors (both :class:`rescore.exceptions.RescoreError`)::

    ModelUnavailable (503)   429, 5xx or no connection, still so after the last attempt
    MalformedAnswer  (502)   the answer is not JSON, or not the JSON the caller's model asks
                             for, after every attempt; the message says why

A 429 or a 5xx is retried with exponential backoff (a 429's ``Retry-After`` is honoured); a
malformed answer is asked again, since models answer differently each time. Keys come from the
environment only and never appear in a repr, a log line or an error. Base URLs are
configurable, which is how the tests point both adapters at local fakes that speak each
service's wire format.
"""

from __future__ import annotations

import base64
import logging
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from rescore.exceptions import ConfigurationError, RescoreError, ServiceUnavailable

__all__ = [
    "Attachment",
    "GeminiModel",
    "LanguageModel",
    "MalformedAnswer",
    "ModelUnavailable",
    "OpenAIModel",
    "from_env",
]

log = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)


class ModelUnavailable(ServiceUnavailable):
    """The language model did not answer (rate limited or failing); retrying later may help."""


class MalformedAnswer(RescoreError):
    """The language model's answer is not the JSON that was asked for."""

    http_status = 502


class _Transient(Exception):
    """A failure worth retrying: ``wait`` seconds first (None: the backoff decides)."""

    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.wait = wait


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a prompt (a lesson's video, its subtitles)."""

    name: str
    mime: str
    data: bytes

    @classmethod
    def of(cls, path: Path, mime: str) -> Attachment:
        return cls(name=path.name, mime=mime, data=path.read_bytes())

    def data_uri(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode()}"


class LanguageModel(ABC):
    """A model that answers prompts; subclasses implement :meth:`_answer` (one call)."""

    name: str
    #: whether the model takes a video attachment (Gemini does; OpenAI's chat API does not)
    accepts_video: bool = False

    def __init__(
        self,
        *,
        attempts: int = 4,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.attempts = attempts
        self.backoff = backoff
        self._sleep = sleep

    @abstractmethod
    def _answer(self, prompt: str, files: Sequence[Attachment], *, json: bool) -> str:
        """One call to the service; raise :class:`_Transient` for a 429, a 5xx, no connection."""

    def __repr__(self) -> str:  # never the key
        return f"{type(self).__name__}(name={self.name!r})"

    def close(self) -> None:  # noqa: B027 (a model without connections has nothing to do)
        """Release the client's connections."""

    def generate_text(self, prompt: str, files: Sequence[Attachment] = ()) -> str:
        """The model's answer to ``prompt`` (transient failures retried)."""
        return self._call(prompt, files, json=False)

    def generate_json(self, prompt: str, schema: type[T], files: Sequence[Attachment] = ()) -> T:
        """The model's answer as an instance of ``schema``; a malformed answer is asked again,
        up to ``attempts`` times, then refused with :class:`MalformedAnswer`."""
        reason = ""
        for attempt in range(1, self.attempts + 1):
            text = self._call(prompt, files, json=True)
            try:
                return schema.model_validate_json(_unfenced(text))
            except ValidationError as exc:
                reason = _reason(exc)
                log.warning("%s: malformed answer (attempt %d): %s", self.name, attempt, reason)
        raise MalformedAnswer(
            f"{self.name} answered malformed JSON {self.attempts} times: {reason}"
        )

    def _call(self, prompt: str, files: Sequence[Attachment], *, json: bool) -> str:
        reason = ""
        for attempt in range(1, self.attempts + 1):
            try:
                return self._answer(prompt, files, json=json)
            except _Transient as exc:
                reason = str(exc)
                if attempt < self.attempts:
                    self._sleep(exc.wait if exc.wait is not None else self._delay(attempt))
        raise ModelUnavailable(f"{self.name}: {reason} after {self.attempts} attempts")

    def _delay(self, attempt: int) -> float:
        return min(60.0, self.backoff * 2.0 ** (attempt - 1))


def _unfenced(text: str) -> str:
    """The JSON inside a Markdown code fence, which models add despite being told not to."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[-1].rsplit("```", 1)[0]
    return stripped


def _reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "answer"
    return f"{where}: {first['msg']} ({exc.error_count()} problem(s))"


def _retry_after(headers: Any) -> float | None:
    value = headers.get("retry-after") if headers is not None else None
    try:
        return min(60.0, float(value)) if value else None
    except ValueError:
        return None


# -- Gemini (google-genai) ---------------------------------------------------------------------


class GeminiModel(LanguageModel):
    """Gemini through ``google-genai``; attachments go inline (up to 20 MB in all, Gemini's
    limit for inline data)."""

    INLINE_LIMIT = 20 * 1024 * 1024
    accepts_video = True

    def __init__(
        self, *, api_key: str, model: str, base_url: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        from google import genai
        from google.genai import types

        options = types.HttpOptions(base_url=base_url) if base_url else None
        self._client = genai.Client(api_key=api_key, http_options=options)
        self._types = types
        self.model = model
        self.name = f"gemini:{model}"

    def close(self) -> None:
        self._client.close()

    def _answer(self, prompt: str, files: Sequence[Attachment], *, json: bool) -> str:
        from google.genai import errors

        if sum(len(f.data) for f in files) > self.INLINE_LIMIT:
            raise MalformedAnswer("attachments over Gemini's 20 MB inline limit")
        parts: list[Any] = [
            self._types.Part.from_bytes(data=f.data, mime_type=f.mime) for f in files
        ]
        config = self._types.GenerateContentConfig(
            temperature=0.1, response_mime_type="application/json" if json else None
        )
        try:
            response = self._client.models.generate_content(
                model=self.model, contents=[*parts, prompt], config=config
            )
        except errors.APIError as exc:
            raise _gemini_error(exc) from None
        except Exception as exc:  # a dropped connection, whatever the HTTP library
            if _is_transport(exc):
                raise _Transient(f"no connection ({type(exc).__name__})") from None
            raise
        return response.text or ""


def _gemini_error(exc: Any) -> Exception:
    code = int(getattr(exc, "code", 0) or 0)
    if code == 429 or code >= 500:
        headers = getattr(getattr(exc, "response", None), "headers", None)
        return _Transient(f"HTTP {code}", _retry_after(headers))
    return ModelUnavailable(f"gemini refused the request: HTTP {code} {getattr(exc, 'status', '')}")


def _is_transport(exc: Exception) -> bool:
    import httpx

    return isinstance(exc, httpx.TransportError | ConnectionError)


# -- OpenAI ------------------------------------------------------------------------------------


class OpenAIModel(LanguageModel):
    """OpenAI chat completions through ``openai`` (JSON mode for :meth:`generate_json`).
    Text attachments are sent as text, images as images, other files as file parts; the chat
    API takes no video, so a video attachment is refused with a clear error."""

    def __init__(
        self, *, api_key: str, model: str, base_url: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        import openai

        self._client = openai.OpenAI(api_key=api_key, base_url=base_url, max_retries=0)
        self.model = model
        self.name = f"openai:{model}"

    def close(self) -> None:
        self._client.close()

    def _answer(self, prompt: str, files: Sequence[Attachment], *, json: bool) -> str:
        import openai

        content = [{"type": "text", "text": prompt}, *(_openai_part(f) for f in files)]
        extra: dict[str, Any] = {"response_format": {"type": "json_object"}} if json else {}
        try:
            response = self._client.chat.completions.create(
                model=self.model,
                messages=[{"role": "user", "content": content}],  # type: ignore[misc,list-item]
                temperature=0.1,
                **extra,
            )
        except (openai.RateLimitError, openai.InternalServerError) as exc:
            raise _Transient(
                f"HTTP {exc.status_code}", _retry_after(exc.response.headers)
            ) from None
        except openai.APIConnectionError as exc:
            raise _Transient(f"no connection ({type(exc).__name__})") from None
        except openai.APIStatusError as exc:
            raise ModelUnavailable(f"openai refused the request: HTTP {exc.status_code}") from None
        return response.choices[0].message.content or ""


def _openai_part(f: Attachment) -> dict[str, Any]:
    if f.mime.startswith("text/"):
        return {"type": "text", "text": f.data.decode("utf-8", errors="replace")}
    if f.mime.startswith("image/"):
        return {"type": "image_url", "image_url": {"url": f.data_uri()}}
    if f.mime.startswith("video/"):
        raise MalformedAnswer("OpenAI's chat API takes no video; analyse with Gemini")
    return {"type": "file", "file": {"filename": f.name, "file_data": f.data_uri()}}


# -- configuration -----------------------------------------------------------------------------

#: provider -> (key variables in order, base URL variable, model variable, default model)
PROVIDERS = {
    "gemini": (
        ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
        "RESCORE_GEMINI_BASE_URL",
        "RESCORE_GEMINI_MODEL",
        "gemini-2.0-flash",
    ),
    "openai": (
        ("OPENAI_API_KEY",),
        "RESCORE_OPENAI_BASE_URL",
        "RESCORE_OPENAI_MODEL",
        "gpt-4o-mini",
    ),
}


def from_env(provider: str, **kwargs: Any) -> LanguageModel:
    """The ``gemini`` or ``openai`` model configured by the environment (its key, and
    optionally its base URL and model name); :class:`ConfigurationError` without a key."""
    if provider not in PROVIDERS:
        raise ConfigurationError(f"no language model {provider!r}; known: gemini, openai")
    keys, url_var, model_var, default = PROVIDERS[provider]
    key = next((os.environ[k] for k in keys if os.environ.get(k)), None)
    if key is None:
        raise ConfigurationError(f"{provider} needs {' or '.join(keys)} in the environment")
    cls = GeminiModel if provider == "gemini" else OpenAIModel
    return cls(
        api_key=key,
        model=os.environ.get(model_var) or default,
        base_url=os.environ.get(url_var) or None,
        **kwargs,
    )
