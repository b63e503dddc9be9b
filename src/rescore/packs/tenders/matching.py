"""Matching a tender to what subscribers sell: by keyword, and by meaning.

Seed 001's alerts matched by exact keyword and missed tenders written in other words
("renovación tecnológica equipamiento informático" for a seller of "laptops HP"). Two kinds of
alert profile live side by side here:

* **keyword**: the subscriber's words. A keyword (one word or a phrase) matches when its words
  appear in the tender's text, consecutively, after folding case and accents and a light
  Spanish plural stemming (``impresoras`` matches ``impresora``, ``buses`` matches ``bus``):
  the generous form of what the seed had, so the comparison with semantic alerts is fair.
* **semantic**: the subscriber's own sentence ("Vendo laptops HP"), embedded once; a tender's
  text is embedded when it is published, and every profile whose cosine similarity reaches
  the threshold matches. The vectors are unit length, so cosine is a dot product, and a whole
  batch of tenders against every profile is one matrix product (:func:`similarities`); the
  pack's HNSW index serves the same question for large profile counts.

Example::

    keyword_matches("Adquisición de impresoras láser", ["impresoras", "tóner"])   # True
    scores = similarities(embed(["Compra de notebooks"]), embed(["Vendo laptops HP"]))
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "Embedder",
    "KeywordIndex",
    "fold",
    "keyword_matches",
    "similarities",
    "stem",
    "tokens",
    "unit_rows",
]

Matrix = npt.NDArray[np.float32]
_WORD = re.compile(r"[a-z0-9ñ]+")
_VOWELS = frozenset("aeiou")


class Embedder(Protocol):
    """What the matcher needs of an embedder: texts in, one row per text out."""

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.floating]: ...


def fold(text: str) -> str:
    """Lower case without accents (``ñ`` kept: ``año`` is not ``ano``)."""
    lowered = text.lower().replace("ñ", "\0")
    plain = unicodedata.normalize("NFKD", lowered)
    kept = "".join(c for c in plain if not unicodedata.combining(c))
    return kept.replace("\0", "ñ")


def stem(word: str) -> str:
    """A Spanish plural folded to its singular, well enough for keywords: ``-es`` after a
    consonant (``redes``, ``buses``, ``camiones``), else a final ``-s`` (``impresoras``)."""
    if len(word) > 4 and word.endswith("es") and word[-3] not in _VOWELS:
        return word[:-2]
    if len(word) > 3 and word.endswith("s"):
        return word[:-1]
    return word


def tokens(text: str) -> list[str]:
    """The stemmed words of ``text``."""
    return [stem(w) for w in _WORD.findall(fold(text))]


def _contains(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    width = len(needle)
    if width == 0:
        return False
    return any(list(haystack[i : i + width]) == list(needle) for i in range(len(haystack)))


def keyword_matches(text: str, keywords: Iterable[str]) -> list[str]:
    """The keywords found in ``text`` (folded, stemmed, whole consecutive words)."""
    words = tokens(text)
    return [k for k in keywords if _contains(words, tokens(k))]


@dataclass(frozen=True, slots=True)
class KeywordIndex:
    """Keyword profiles by their first word, so a tender is checked only against the profiles
    that share at least one of its words (10,000 profiles cost a few lookups per tender)."""

    by_first: dict[str, list[tuple[str, tuple[str, ...], str]]]

    @classmethod
    def of(cls, profiles: Iterable[tuple[str, Sequence[str]]]) -> KeywordIndex:
        """From ``(profile id, keywords)`` pairs."""
        by_first: dict[str, list[tuple[str, tuple[str, ...], str]]] = {}
        for profile, keywords in profiles:
            for keyword in keywords:
                words = tuple(tokens(keyword))
                if words:
                    by_first.setdefault(words[0], []).append((profile, words, keyword))
        return cls(by_first)

    def matches(self, text: str) -> dict[str, list[str]]:
        """Profile id -> the keywords of that profile found in ``text``."""
        words = tokens(text)
        found: dict[str, list[str]] = {}
        for i, word in enumerate(words):
            for profile, phrase, keyword in self.by_first.get(word, ()):
                if tuple(words[i : i + len(phrase)]) == phrase:
                    hits = found.setdefault(profile, [])
                    if keyword not in hits:
                        hits.append(keyword)
        return found


def unit_rows(vectors: npt.ArrayLike) -> Matrix:
    """Rows scaled to unit length (a zero row stays zero), as float32."""
    rows = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.asarray(rows / np.where(norms == 0, 1.0, norms), dtype=np.float32)


def similarities(tenders: npt.ArrayLike, profiles: npt.ArrayLike) -> Matrix:
    """Cosine similarity of every tender (rows) with every profile (columns)."""
    return np.asarray(unit_rows(tenders) @ unit_rows(profiles).T, dtype=np.float32)
