"""SubRip (``.srt``) and WebVTT (``.vtt``) subtitles as timed cues, and cues as the seed's
transcription: one segment every 30 seconds (``{"segments": [{"start_time", "text"}]}``).

Example::

    cues = parse("1\\n00:00:01,000 --> 00:00:04,000\\nHola a todos\\n")
    assert cues[0].start == 1.0 and cues[0].text == "Hola a todos"
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Cue", "parse", "segments"]

_TIME = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})[,.](\d{3})")
_ARROW = re.compile(rf"({_TIME.pattern})\s*-->\s*({_TIME.pattern})")
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True, slots=True)
class Cue:
    """One subtitle: when it starts and ends (seconds) and what is said."""

    start: float
    end: float
    text: str


def _seconds(stamp: str) -> float:
    match = _TIME.fullmatch(stamp.strip())
    if match is None:
        raise ValueError(f"{stamp!r} is not a subtitle time")
    hours, minutes, seconds, millis = (int(g) if g else 0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds + millis / 1000


def parse(text: str) -> list[Cue]:
    """Every cue of an SRT or VTT file, in order; headers, numbers and styling tags dropped."""
    cues = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()):
        lines = block.split("\n")
        timing = next((i for i, line in enumerate(lines) if "-->" in line), None)
        if timing is None:
            continue
        match = _ARROW.search(lines[timing])
        if match is None:
            continue
        words = " ".join(_TAG.sub("", line).strip() for line in lines[timing + 1 :]).strip()
        if words:
            cues.append(Cue(_seconds(match.group(1)), _seconds(match.group(6)), words))
    return cues


def segments(cues: list[Cue], every: float = 30.0) -> list[dict[str, float | str]]:
    """The cues grouped into windows of ``every`` seconds: the seed's transcription segments."""
    grouped: dict[int, list[str]] = {}
    for cue in cues:
        grouped.setdefault(int(cue.start // every), []).append(cue.text)
    return [
        {"start_time": float(window * every), "text": " ".join(texts)}
        for window, texts in sorted(grouped.items())
    ]
