"""Subtitles to the seed's transcription, and what the offline analyser gives (and leaves
empty) for a lesson with and without subtitles."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rescore.embeddings import HashingEmbedder
from rescore.packs.content.analysis import Analysis, LessonContext
from rescore.packs.content.config import SAMPLE
from rescore.packs.content.offline import OfflineAnalyzer, language_of
from rescore.packs.content.subtitles import parse, segments

SRT = """1
00:00:01,000 --> 00:00:04,500
Hola a <i>todos</i>

2
00:00:29,900 --> 00:00:33,000
Las funciones
reciben parámetros

3
01:00:31,250 --> 01:00:35,000
Fin
"""
VTT = "WEBVTT\n\nNOTE a comment\n\n00:01.000 --> 00:04.000 align:start\nOlá, pessoal\n"


def test_srt_and_vtt_become_cues_and_thirty_second_segments() -> None:
    cues = parse(SRT)
    assert [(c.start, c.end, c.text) for c in cues] == [
        (1.0, 4.5, "Hola a todos"),
        (29.9, 33.0, "Las funciones reciben parámetros"),
        (3631.25, 3635.0, "Fin"),
    ]
    assert segments(cues) == [
        {"start_time": 0.0, "text": "Hola a todos Las funciones reciben parámetros"},
        {"start_time": 3630.0, "text": "Fin"},
    ]
    assert [(c.start, c.text) for c in parse(VTT)] == [(1.0, "Olá, pessoal")]
    assert parse("no subtitles here") == []


def test_the_offline_analyser_classifies_from_subtitles_and_leaves_vision_empty() -> None:
    analyzer = OfflineAnalyzer(HashingEmbedder())
    lesson = LessonContext(
        course="Marketing digital para infoprodutores",
        module="Tráfego pago",
        lesson="Campanhas de anúncios no Instagram",
        video=None,
        subtitles=(SAMPLE / "marketing-digital" / "m1" / "l1.vtt").read_text(),
    )
    found = analyzer.analyze(lesson)
    assert found.classification.school == "marketing"
    assert 5 <= len(found.classification.keywords) <= 10
    assert found.visual_analysis.model_dump() == {
        "diagrams": [],
        "code_snippets": [],
        "slides": [],
        "demonstrations": [],
    }
    assert found.learning_objectives[0].startswith("Olá, nesta aula você vai aprender")
    assert found.prerequisites[0].startswith("Antes de começar você já deve")
    bare = analyzer.analyze(
        LessonContext(
            course="Python",
            module="Funciones",
            lesson="Funciones con parámetros",
            video=None,
            subtitles=None,
        )
    )
    assert bare.transcription.segments == []
    assert bare.classification.school == "programación"


def test_language_and_the_schema_refuse_what_the_seed_does_not_allow() -> None:
    assert language_of("Olá, você vai aprender muito nesta aula") == "pt"
    assert language_of("Hola, en esta clase vamos a aprender") == "es"
    with pytest.raises(ValidationError, match="level"):
        Analysis.model_validate(
            {
                "transcription": {"segments": []},
                "visual_analysis": {},
                "classification": {
                    "school": "x",
                    "topics": [],
                    "level": "experto",
                    "keywords": ["a"],
                },
                "key_concepts": [],
            }
        )
