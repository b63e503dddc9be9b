"""Where courses come from: a Hotmart-style API or a local folder, both as :class:`LessonRef`\\ s.

A source lists every lesson it has with a **fingerprint** (a hash of what the lesson is: its
video, subtitles and titles), so detection can tell new, changed and unchanged lessons apart
without downloading anything twice.

:class:`HotmartSource` speaks the seed's API shape: an OAuth client-credentials token (cached
until it expires, renewed once on a 401), then ``GET /courses``, ``/courses/{id}/modules`` and
``/modules/{id}/lessons``, each paged (``items`` and ``page_info.next_page_token``, Hotmart's
paging). A 429 waits for ``Retry-After``; a 5xx or a dropped connection backs off and retries;
past the last attempt it raises :class:`SourceUnavailable`. The base URL is configurable, so the
tests point it at a local fake that speaks the same wire format.

:class:`FolderSource` reads a folder of courses (``<course>/course.json`` listing modules and
lessons, with a video file and optional ``.srt``/``.vtt`` subtitles beside it), for the demo and
for users without the API::

    for lesson in FolderSource(Path("courses")).lessons():
        print(lesson.lesson_id, lesson.fingerprint)
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
import orjson

from rescore.exceptions import ConfigurationError, ServiceUnavailable

__all__ = [
    "FolderSource",
    "HotmartSource",
    "LessonRef",
    "Source",
    "SourceUnavailable",
    "fingerprint_of",
]


class SourceUnavailable(ServiceUnavailable):
    """The course source did not answer usefully; the next run retries."""


@dataclass(frozen=True, kw_only=True, slots=True)
class LessonRef:
    """One lesson as its source describes it (what detection compares and stores)."""

    source: str
    course_id: str
    course_title: str
    module_id: str
    module_title: str
    lesson: str
    title: str
    position: int
    video_url: str
    subtitles_url: str | None
    fingerprint: str

    @property
    def lesson_id(self) -> str:
        """The seed's document id: ``{course}_{module}_{lesson}``."""
        return f"{self.course_id}_{self.module_id}_{self.lesson}"


class Source(Protocol):
    """What detection reads: every lesson the source has now."""

    name: str

    def lessons(self) -> Iterator[LessonRef]: ...

    def close(self) -> None: ...


def fingerprint_of(*parts: str | bytes | None) -> str:
    """A SHA-256 over ``parts`` (None counts as empty), hex."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else (part or b"")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


# -- local folder ------------------------------------------------------------------------------


class FolderSource:
    """Courses in a folder: each ``<dir>/course.json`` is ``{"id", "title", "modules": [{"id",
    "title", "lessons": [{"id", "title", "video", "subtitles"?}]}]}`` with file paths relative
    to the course folder. The fingerprint hashes the video and subtitle bytes and the titles."""

    name = "folder"

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise ConfigurationError(f"the course folder {root} does not exist")
        self.root = root

    def close(self) -> None:
        """Nothing to release (the protocol's)."""

    def lessons(self) -> Iterator[LessonRef]:
        for manifest in sorted(self.root.glob("*/course.json")):
            yield from self._course(manifest.parent, orjson.loads(manifest.read_bytes()))

    def _course(self, folder: Path, course: Mapping[str, Any]) -> Iterator[LessonRef]:
        for module in course["modules"]:
            for position, lesson in enumerate(module["lessons"], start=1):
                yield self._lesson(folder, course, module, lesson, position)

    def _lesson(
        self,
        folder: Path,
        course: Mapping[str, Any],
        module: Mapping[str, Any],
        lesson: Mapping[str, Any],
        position: int,
    ) -> LessonRef:
        video = (folder / lesson["video"]).resolve()
        subtitles = (folder / lesson["subtitles"]).resolve() if lesson.get("subtitles") else None
        return LessonRef(
            source=self.name,
            course_id=str(course["id"]),
            course_title=course["title"],
            module_id=str(module["id"]),
            module_title=module["title"],
            lesson=str(lesson["id"]),
            title=lesson["title"],
            position=position,
            video_url=video.as_uri(),
            subtitles_url=subtitles.as_uri() if subtitles else None,
            fingerprint=fingerprint_of(
                course["title"],
                module["title"],
                lesson["title"],
                video.read_bytes(),
                subtitles.read_bytes() if subtitles else None,
            ),
        )


# -- Hotmart-style API -------------------------------------------------------------------------


@dataclass(slots=True)
class _Token:
    value: str
    expires: float


class HotmartSource:
    """The seed's Hotmart client, done: token cache, paging, rate limits and retries.

    ``sleep`` and ``clock`` are injectable so tests need not wait for a ``Retry-After``."""

    name = "hotmart"

    def __init__(
        self,
        *,
        base_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        attempts: int = 4,
        page_size: int = 50,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(base_url=base_url, timeout=30.0, transport=transport)
        self._token_url = token_url
        self._credentials = (client_id, client_secret)
        self._attempts = attempts
        self._page_size = page_size
        self._sleep = sleep
        self._clock = clock
        self._token: _Token | None = None
        #: How many tokens were fetched (tests check the cache).
        self.tokens_fetched = 0

    def close(self) -> None:
        self._http.close()

    def lessons(self) -> Iterator[LessonRef]:
        for course in self._pages("/courses"):
            for module in self._pages(f"/courses/{course['id']}/modules"):
                lessons = self._pages(f"/modules/{module['id']}/lessons")
                for position, lesson in enumerate(lessons, start=1):
                    yield _hotmart_lesson(course, module, lesson, position)

    # paging, auth and retries ------------------------------------------------------------

    def _pages(self, path: str) -> Iterator[Mapping[str, Any]]:
        token: str | None = None
        while True:
            params: dict[str, str | int] = {"max_results": self._page_size}
            if token:
                params["page_token"] = token
            body = self._get(path, params)
            yield from body.get("items", [])
            token = (body.get("page_info") or {}).get("next_page_token")
            if not token:
                return

    def _get(self, path: str, params: Mapping[str, str | int]) -> dict[str, Any]:
        for attempt in range(1, self._attempts + 1):
            response = self._request(path, params)
            if response is not None and response.status_code == 401:
                self._token = None
                response = self._request(path, params)
            wait = _retry_wait(response, attempt)
            if wait is None and response is not None:
                return _json(response, path)
            if attempt < self._attempts:
                self._sleep(wait or 0.0)
        raise SourceUnavailable(f"Hotmart GET {path}: {_status(response)} after retries")

    def _request(self, path: str, params: Mapping[str, str | int]) -> httpx.Response | None:
        try:
            headers = {"Authorization": f"Bearer {self._bearer()}"}
            return self._http.get(path, params=params, headers=headers)
        except httpx.TransportError:
            return None

    def _bearer(self) -> str:
        if self._token is None or self._clock() >= self._token.expires:
            self._token = self._fetch_token()
        return self._token.value

    def _fetch_token(self) -> _Token:
        client_id, secret = self._credentials
        response = self._http.post(
            self._token_url,
            params={"grant_type": "client_credentials", "client_id": client_id},
            data={"client_secret": secret},
            auth=(client_id, secret),
        )
        if response.status_code != 200:
            raise SourceUnavailable(f"Hotmart token: HTTP {response.status_code}")
        body = response.json()
        self.tokens_fetched += 1
        # renew a minute early so a token never expires between the check and the call
        expires = self._clock() + max(0.0, float(body.get("expires_in", 3600)) - 60.0)
        return _Token(value=str(body["access_token"]), expires=expires)


def _retry_wait(response: httpx.Response | None, attempt: int) -> float | None:
    """How long to wait before retrying, or None when the answer is final."""
    if response is None or response.status_code >= 500:
        return min(30.0, 0.5 * 2.0 ** (attempt - 1))
    if response.status_code == 429:
        return min(60.0, float(response.headers.get("Retry-After", "1") or 1))
    return None


def _status(response: httpx.Response | None) -> str:
    return "no connection" if response is None else f"HTTP {response.status_code}"


def _json(response: httpx.Response, path: str) -> dict[str, Any]:
    if response.status_code != 200:
        raise SourceUnavailable(f"Hotmart GET {path}: HTTP {response.status_code}")
    body: dict[str, Any] = response.json()
    return body


def _hotmart_lesson(
    course: Mapping[str, Any], module: Mapping[str, Any], lesson: Mapping[str, Any], position: int
) -> LessonRef:
    return LessonRef(
        source="hotmart",
        course_id=str(course["id"]),
        course_title=str(course.get("title") or course.get("name") or course["id"]),
        module_id=str(module["id"]),
        module_title=str(module.get("title") or module.get("name") or module["id"]),
        lesson=str(lesson["id"]),
        title=str(lesson.get("title") or lesson.get("name") or lesson["id"]),
        position=int(lesson.get("position") or position),
        video_url=str(lesson["video_url"]),
        subtitles_url=lesson.get("subtitles_url"),
        fingerprint=fingerprint_of(
            str(course.get("title")),
            str(module.get("title")),
            str(lesson.get("title")),
            str(lesson["video_url"]),
            str(lesson.get("updated_at") or ""),
            str(lesson.get("video_checksum") or ""),
            lesson.get("subtitles_url"),
        ),
    )
