"""The embedders' contract, the fallback's reach (forms of a word, never synonyms), and the
choice RESCORE_EMBEDDER makes."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import need_package
from rescore.embeddings import (
    DIMENSIONS,
    E5Embedder,
    Embedder,
    HashingEmbedder,
    MiniLMEmbedder,
    default_embedder,
    e5_installed,
    minilm_installed,
)
from rescore.exceptions import ConfigurationError

TEXTS = [
    "Vendo laptops HP",
    "Adquisición de 20 laptops HP EliteBook",
    "Servicio de aseo y limpieza de oficinas",
    "",
]


def _similarity(embedder: Embedder, first: str, second: str) -> float:
    a, b = embedder.embed([first, second])
    return float(a @ b)


def _check_contract(embedder: Embedder) -> None:
    vectors = embedder.embed(TEXTS)
    assert vectors.shape == (len(TEXTS), DIMENSIONS)
    assert vectors.dtype == np.float32
    norms = np.linalg.norm(vectors[:3], axis=1)
    assert np.allclose(norms, 1.0, atol=1e-5)
    assert np.array_equal(embedder.embed(TEXTS[:1])[0], embedder.embed_one(TEXTS[0]))
    assert embedder.embed([]).shape == (0, DIMENSIONS)


def test_hashing_keeps_the_contract() -> None:
    _check_contract(HashingEmbedder())
    assert not HashingEmbedder().embed([""]).any(), "an empty text is a zero row"


def test_hashing_is_the_same_in_every_process() -> None:
    # crc32, not hash(): PYTHONHASHSEED must not move vectors saved in an index
    first = HashingEmbedder().embed_one("Mantención de ascensores")
    assert first[np.argmax(np.abs(first))] != 0
    assert np.array_equal(first, HashingEmbedder().embed_one("Mantención de ascensores"))


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("computador portátil", "Computadores portátiles"),
        ("mantención de ascensores", "MANTENCION ASCENSOR"),
        ("laptops HP", "laptop hp elitebook 840"),
    ],
)
def test_hashing_matches_other_forms_of_the_same_words(first: str, second: str) -> None:
    assert _similarity(HashingEmbedder(), first, second) > 0.5


def test_hashing_keeps_unrelated_texts_apart_and_knows_no_synonyms() -> None:
    embedder = HashingEmbedder()
    assert abs(_similarity(embedder, "laptops HP", "servicio de aseo")) < 0.2
    # what the model is for: the fallback cannot see that these mean the same
    assert _similarity(embedder, "laptops", "equipamiento informático") < 0.2


def test_the_choice_of_embedder() -> None:
    assert isinstance(default_embedder("hashing"), HashingEmbedder)
    assert default_embedder("hashing") is default_embedder("hashing"), "one per process"
    expected = MiniLMEmbedder if minilm_installed() else HashingEmbedder
    assert isinstance(default_embedder("auto"), expected)
    with pytest.raises(ConfigurationError, match="auto, e5, minilm or hashing"):
        default_embedder("word2vec")


@pytest.mark.parametrize(
    ("choice", "probe", "extra"),
    [("minilm", "minilm_installed", "embeddings"), ("e5", "e5_installed", "multilingual")],
)
def test_asking_for_a_missing_model_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, choice: str, probe: str, extra: str
) -> None:
    monkeypatch.setattr(f"rescore.embeddings.{probe}", lambda: False)
    with pytest.raises(ConfigurationError, match=rf"rescore\[{extra}\]"):
        default_embedder.__wrapped__(choice)


def test_e5_keeps_the_contract_and_reads_spanish() -> None:
    need_package(e5_installed(), "the multilingual E5 model", "run `make embeddings`")
    embedder = default_embedder("e5")
    assert isinstance(embedder, E5Embedder)
    _check_contract(embedder)
    assert not embedder.embed(["", " "]).any(), "an empty text is a zero row"
    close = _similarity(embedder, "Vendo laptops HP", "Compra de computadores portátiles HP")
    far = _similarity(embedder, "Vendo laptops HP", "Servicio de aseo y limpieza de oficinas")
    assert close > far + 0.08  # E5's cosines are compressed: unrelated texts meet near 0.8


def test_minilm_keeps_the_contract_and_knows_synonyms() -> None:
    need_package(minilm_installed(), "the MiniLM sentence model", "run `make embeddings`")
    embedder = default_embedder("minilm")
    _check_contract(embedder)
    close = _similarity(embedder, "Vendo laptops HP", "Compra de computadores portátiles HP")
    far = _similarity(embedder, "Vendo laptops HP", "Servicio de aseo y limpieza de oficinas")
    assert close > far + 0.2
