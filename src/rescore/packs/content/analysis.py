"""Analysing a lesson: the seed's JSON schema, validated, from a multimodal model or offline.

:class:`Analysis` is the seed's answer shape (transcription with timestamps, visual analysis,
classification into school, level and keywords, key concepts, learning objectives,
prerequisites) as a pydantic model: a model's answer that does not fit is refused with the
reason (``rescore.llm`` retries it, then the lesson fails with that reason).

An :class:`Analyzer` turns a :class:`LessonContext` into an :class:`Analysis`:

- :class:`rescore.packs.content.offline.OfflineAnalyzer` needs no key and no network: it reads
  the lesson's subtitles, classifies with the offline embeddings and extracts keywords with
  YAKE;
- :class:`ModelAnalyzer` sends the video and the seed's prompt to Gemini or OpenAI through
  :mod:`rescore.llm`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from rescore.llm import Attachment, LanguageModel

__all__ = [
    "LEVELS",
    "Analysis",
    "Analyzer",
    "Classification",
    "LessonContext",
    "ModelAnalyzer",
    "Segment",
    "Transcription",
    "VisualAnalysis",
    "prompt_for",
]

LEVELS = ("básico", "intermedio", "avanzado")


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Segment(_Model):
    start_time: float = Field(ge=0)
    text: str


class Transcription(_Model):
    segments: list[Segment]


class VisualAnalysis(_Model):
    diagrams: list[str] = []
    code_snippets: list[str] = []
    slides: list[str] = []
    demonstrations: list[str] = []


class Classification(_Model):
    school: str = Field(min_length=1, max_length=80)
    topics: list[str]
    level: Literal["básico", "intermedio", "avanzado"]
    keywords: list[str] = Field(min_length=1, max_length=10)
    #: 0-100: how sure the classifier is (the offline one measures it; a model's is 80)
    confidence: int = Field(default=80, ge=0, le=100)


class Analysis(_Model):
    """The seed's analysis of one lesson (what Gemini is asked to answer)."""

    transcription: Transcription
    visual_analysis: VisualAnalysis
    classification: Classification
    key_concepts: list[str]
    learning_objectives: list[str] = []
    prerequisites: list[str] = []


@dataclass(frozen=True, kw_only=True, slots=True)
class LessonContext:
    """What an analyser gets: the titles, the downloaded video, the subtitles if any."""

    course: str
    module: str
    lesson: str
    video: Path | None
    subtitles: str | None


class Analyzer(Protocol):
    """Analyse one lesson; raise a :class:`rescore.exceptions.RescoreError` with the reason."""

    name: str

    def analyze(self, lesson: LessonContext) -> Analysis: ...


def prompt_for(lesson: LessonContext) -> str:
    """The seed's prompt (its six parts), with the lesson's context."""
    return f"""Analiza este video educativo y extrae la siguiente información en formato JSON:

CONTEXTO:
- Curso: {lesson.course}
- Módulo: {lesson.module}
- Lección: {lesson.lesson}

EXTRAE:
1. transcription: transcripción completa del audio con timestamps cada 30 segundos,
   formato {{"segments": [{{"start_time": 0, "text": "..."}}]}}
2. visual_analysis: diagrams, code_snippets (el código exacto), slides (OCR), demonstrations
3. classification: school (programación, marketing, diseño, negocios, datos, ...), topics,
   level (básico, intermedio o avanzado), keywords (5-10)
4. key_concepts: conceptos clave explicados
5. learning_objectives: objetivos de aprendizaje
6. prerequisites: conocimientos previos necesarios

RESPONDE ÚNICAMENTE CON JSON VÁLIDO, sin texto adicional."""


class ModelAnalyzer:
    """The seed's multimodal analysis through a :class:`rescore.llm.LanguageModel` (Gemini or
    OpenAI): the video goes as an attachment to a model that takes video (Gemini), the
    subtitles as text to any; the answer is validated as :class:`Analysis`."""

    def __init__(self, model: LanguageModel) -> None:
        self.model = model
        self.name = f"model:{model.name}"

    def analyze(self, lesson: LessonContext) -> Analysis:
        files: list[Attachment] = []
        if lesson.video is not None and self.model.accepts_video:
            files.append(Attachment.of(lesson.video, "video/mp4"))
        if lesson.subtitles:
            files.append(
                Attachment(name="subtitles.txt", mime="text/plain", data=lesson.subtitles.encode())
            )
        return self.model.generate_json(prompt_for(lesson), Analysis, files=files)
