"""The vector index: string keys, replacement, thresholds, saving whole, refusing to mix
embedders or a key file that does not match its index."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rescore.embeddings import HashingEmbedder
from rescore.exceptions import ConfigurationError
from rescore.vectors import VectorIndex

EMBEDDER = HashingEmbedder()
PROFILES = {
    "laptops": "Vendo laptops y notebooks HP",
    "aseo": "Servicio de aseo y limpieza industrial",
    "ascensores": "Mantención de ascensores",
}


def _filled(path: Path | None = None) -> VectorIndex:
    index = VectorIndex(embedder=EMBEDDER.name, path=path)
    index.add(list(PROFILES), EMBEDDER.embed(list(PROFILES.values())))
    return index


def test_search_finds_the_closest_key_first_and_applies_the_threshold() -> None:
    index = _filled()
    found = index.search(EMBEDDER.embed_one("Compra de 30 notebooks HP"), k=3)
    assert found[0].key == "laptops"
    assert [m.similarity for m in found] == sorted((m.similarity for m in found), reverse=True)
    strict = index.search(EMBEDDER.embed_one("Compra de 30 notebooks HP"), min_similarity=0.3)
    assert [m.key for m in strict] == ["laptops"]


def test_adding_a_key_again_replaces_its_vector() -> None:
    index = _filled()
    index.add(["laptops"], EMBEDDER.embed(["Mantención de ascensores Schindler"]))
    assert len(index) == 3
    found = index.search(EMBEDDER.embed_one("Vendo laptops y notebooks HP"), k=3)
    assert "laptops" not in [m.key for m in found if m.similarity > 0.5]


def test_remove_counts_only_what_was_there() -> None:
    index = _filled()
    assert index.remove(["aseo", "nunca"]) == 1
    assert "aseo" not in index
    assert "laptops" in index
    assert len(index) == 2
    assert all(m.key != "aseo" for m in index.search(EMBEDDER.embed_one("aseo"), k=5))


def test_search_many_answers_each_row_and_an_empty_index_answers_nothing() -> None:
    queries = EMBEDDER.embed(["notebooks HP", "limpieza industrial"])
    assert VectorIndex(embedder=EMBEDDER.name).search_many(queries) == [[], []]
    first, second = _filled().search_many(queries, k=1)
    assert [first[0].key, second[0].key] == ["laptops", "aseo"]


def test_mismatched_keys_and_vectors_are_refused() -> None:
    with pytest.raises(ValueError, match="2 keys for 1 vectors"):
        VectorIndex(embedder=EMBEDDER.name).add(["a", "b"], EMBEDDER.embed(["x"]))


def test_saved_index_reopens_with_its_keys(tmp_path: Path) -> None:
    path = tmp_path / "profiles.usearch"
    _filled(path).save()
    reopened = VectorIndex.open(path, embedder=EMBEDDER.name)
    assert len(reopened) == 3
    assert [m.key for m in reopened.search(EMBEDDER.embed_one("ascensores"), k=1)] == ["ascensores"]
    assert not list(tmp_path.glob("*.tmp")), "nothing half-written is left behind"


def test_a_new_path_opens_empty_and_a_pathless_index_cannot_save(tmp_path: Path) -> None:
    assert len(VectorIndex.open(tmp_path / "none.usearch", embedder=EMBEDDER.name)) == 0
    with pytest.raises(ConfigurationError, match="no path"):
        VectorIndex(embedder=EMBEDDER.name).save()


def test_an_index_of_another_embedder_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "profiles.usearch"
    _filled(path).save()
    with pytest.raises(ConfigurationError, match="rebuild it from the database"):
        VectorIndex.open(path, embedder="all-MiniLM-L6-v2")


def test_a_key_file_that_does_not_match_the_index_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "profiles.usearch"
    _filled(path).save()
    meta = path.with_name(path.name + ".json")
    data = json.loads(meta.read_text())
    data["keys"] = data["keys"][:1]
    meta.write_text(json.dumps(data))
    with pytest.raises(ConfigurationError, match="holds 3 vectors but its key file 1"):
        VectorIndex.open(path, embedder=EMBEDDER.name)


def test_vectors_are_stored_as_given() -> None:
    index = VectorIndex(embedder=EMBEDDER.name)
    vector = EMBEDDER.embed_one("Vendo laptops HP")
    index.add(["p"], np.asarray([vector], dtype=np.float64))
    assert index.search(vector, k=1)[0].similarity == pytest.approx(1.0, abs=1e-5)
