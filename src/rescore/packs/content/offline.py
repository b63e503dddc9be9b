"""The offline analyser: no key, no network, no video understanding.

What it does, from the lesson's titles and subtitles (``.srt``/``.vtt``) only:

- **transcription**: the subtitles grouped into 30-second segments (the seed's shape); without
  subtitles the transcription is empty;
- **classification**: the school and the level whose description is nearest (cosine) to the
  lesson's text in the offline MiniLM embedding space (:mod:`rescore.embeddings`; its hashing
  fallback when the model is not installed), with a confidence from the margin over the
  runner-up; topics and 5-10 keywords from YAKE (unsupervised, language-aware, offline);
- **key concepts**: YAKE's best multi-word phrases;
- **learning objectives / prerequisites**: the subtitle sentences that announce them
  ("vamos a aprender", "você vai aprender", "necesitas saber", "pré-requisito").

What it cannot do, compared with the multimodal model: hear audio (no subtitles, no
transcript), see the screen (``visual_analysis`` stays empty: no diagrams, code or slides),
or classify into a school it has no description for (:data:`SCHOOLS` is the list).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from rescore.packs.content.analysis import (
    LEVELS,
    Analysis,
    Classification,
    LessonContext,
    Transcription,
    VisualAnalysis,
)
from rescore.packs.content.schools import LEVEL_TEXTS, SCHOOLS
from rescore.packs.content.subtitles import parse, segments

if TYPE_CHECKING:
    from rescore.embeddings import Embedder

__all__ = ["LEVEL_TEXTS", "SCHOOLS", "OfflineAnalyzer", "language_of"]

_OBJECTIVE = re.compile(
    r"\b(vamos a aprender|aprender[áa]s|al final de esta|objetivo|você vai aprender|"
    r"vamos aprender|ao final d)",
    re.IGNORECASE,
)
_PREREQUISITE = re.compile(
    r"\b(necesitas saber|necesitas conocer|requisito|antes de empezar|deberías saber|"
    r"pré-requisito|precisa saber|você já deve)",
    re.IGNORECASE,
)
_PORTUGUESE = {"você", "não", "está", "são", "também", "então", "aula", "vamos", "uma", "muito"}
_SPANISH = {"usted", "también", "está", "entonces", "clase", "vamos", "una", "muy", "es", "el"}


def language_of(text: str) -> str:
    """``pt`` or ``es`` by common function words (YAKE's stop-word list needs it)."""
    words = re.findall(r"\w+", text.lower())
    pt = sum(w in _PORTUGUESE for w in words)
    es = sum(w in _SPANISH for w in words)
    return "pt" if pt > es else "es"


class OfflineAnalyzer:
    """:class:`rescore.packs.content.analysis.Analyzer` without a model service (see the
    module's docstring for what it can and cannot do)."""

    name = "offline"

    def __init__(self, embedder: Embedder | None = None) -> None:
        if embedder is None:
            from rescore.embeddings import default_embedder

            embedder = default_embedder()
        self._embedder = embedder
        self._schools = list(SCHOOLS)
        self._school_vectors = embedder.embed(list(SCHOOLS.values()))
        self._level_vectors = embedder.embed(list(LEVEL_TEXTS.values()))

    def analyze(self, lesson: LessonContext) -> Analysis:
        cues = parse(lesson.subtitles) if lesson.subtitles else []
        spoken = " ".join(c.text for c in cues)
        text = f"{lesson.course}. {lesson.module}. {lesson.lesson}. {spoken}".strip()
        keywords = _keywords(text, n=1, top=10)
        phrases = _keywords(text, n=3, top=8)
        return Analysis(
            transcription=Transcription.model_validate({"segments": segments(cues)}),
            visual_analysis=VisualAnalysis(),
            classification=self._classify(text, keywords, phrases),
            key_concepts=[p for p in phrases if " " in p][:6] or phrases[:3],
            learning_objectives=_sentences(spoken, _OBJECTIVE),
            prerequisites=_sentences(spoken, _PREREQUISITE),
        )

    def _classify(
        self, text: str, keywords: Sequence[str], phrases: Sequence[str]
    ) -> Classification:
        vector = self._embedder.embed([text])[0]
        school_sims = self._school_vectors @ vector
        order = np.argsort(-school_sims)
        margin = float(school_sims[order[0]] - school_sims[order[1]])
        level = LEVELS[int(np.argmax(self._level_vectors @ vector))]
        return Classification(
            school=self._schools[int(order[0])],
            topics=list(phrases[:4]),
            level=level,
            keywords=list(keywords[:10]) or [self._schools[int(order[0])]],
            confidence=_confidence(margin),
        )


def _confidence(margin: float) -> int:
    """0-100 from the cosine margin between the best and second school (0.15 or more is
    certain on MiniLM; the hashing fallback's margins are smaller, so it reads as less sure)."""
    return round(100 * min(1.0, max(0.0, margin) / 0.15))


def _keywords(text: str, *, n: int, top: int) -> list[str]:
    import yake

    extractor = yake.KeywordExtractor(lan=language_of(text), n=n, top=top, dedupLim=0.7)
    return [str(k) for k, _score in extractor.extract_keywords(text)]


def _sentences(text: str, cue: re.Pattern[str], limit: int = 5) -> list[str]:
    found = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if cue.search(s)]
    return found[:limit]
