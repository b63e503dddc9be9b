"""Trigram similarity as PostgreSQL's ``pg_trgm`` computes it, in Python.

PostgreSQL ranks similar product names with ``word_similarity``; SQLite (FTS5 ``trigram``) and
MariaDB (a trigram table) only find candidates, so this module ranks them the same way there:
``word_similarity("laptop hp", "Laptop HP ProBook 14")`` is 1.0 on every database.

Trigrams follow ``pg_trgm``: lower case, words are runs of letters and digits, each padded
with two spaces before and one after. ``word_similarity(a, b)`` is the best
``|A ∩ E| / |A ∪ E|`` over the contiguous extents ``E`` of ``b``'s ordered trigrams.
"""

from __future__ import annotations

import re

__all__ = ["similarity", "trigrams", "word_similarity"]

_WORD = re.compile(r"[^\W_]+")


def _ordered(text: str) -> list[str]:
    grams: list[str] = []
    for word in _WORD.findall(text.lower()):
        padded = f"  {word} "
        grams.extend(padded[i : i + 3] for i in range(len(padded) - 2))
    return grams


def trigrams(text: str) -> frozenset[str]:
    """The set of ``text``'s trigrams (``pg_trgm``'s ``show_trgm``)."""
    return frozenset(_ordered(text))


def similarity(a: str, b: str) -> float:
    """Shared trigrams over all trigrams of both (``pg_trgm``'s ``similarity``)."""
    left, right = trigrams(a), trigrams(b)
    union = len(left | right)
    return len(left & right) / union if union else 0.0


def word_similarity(a: str, b: str) -> float:
    """How well ``a`` matches some run of ``b`` (``pg_trgm``'s ``word_similarity``).

    Only extents that begin and end on a trigram shared with ``a`` can be best (an unshared
    edge only grows the union), so only those are tried."""
    wanted = trigrams(a)
    if not wanted:
        return 0.0
    grams = _ordered(b)
    shared = [i for i, g in enumerate(grams) if g in wanted]
    best = 0.0
    for n, start in enumerate(shared):
        extent: set[str] = set(grams[start : start + 1])
        last = start
        for stop in shared[n:]:
            extent.update(grams[last + 1 : stop + 1])
            last = stop
            common = len(wanted & extent)
            best = max(best, common / (len(wanted) + len(extent) - common))
    return best
