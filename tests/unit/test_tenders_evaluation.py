"""The labelled alert set and how semantic and keyword alerts are judged on it (the figures
themselves are in ``rescore bench --only T2``, not asserted here: a threshold chosen on half
the set is judged on the other half)."""

from __future__ import annotations

import pytest

from helpers import need_package
from rescore.embeddings import HashingEmbedder, default_embedder, e5_installed
from rescore.packs.tenders.alerts import DEFAULT_THRESHOLDS
from rescore.packs.tenders.evaluation import compare, keyword_pairs, load_set


def test_the_set_judges_every_pair_and_holds_enough_relevant_ones() -> None:
    data = load_set()
    assert len(data.sentences) == 30
    assert len(data.tenders) == 145
    assert len(data.relevant) == 173
    assert {p for _t, p in data.relevant} == set(data.sentences)  # every profile has some
    assert set(data.keywords) == set(data.sentences)
    halves = (data.half(0), data.half(1))
    assert len(halves[0].relevant) + len(halves[1].relevant) == 173
    assert not set(halves[0].tenders) & set(halves[1].tenders)


def test_paraphrases_escape_keywords() -> None:
    data = load_set()
    found = keyword_pairs(data)
    assert ("t003", "p01") in found  # "notebooks HP ProBook": the seller's own word
    assert ("t001", "p01") not in found  # "renovación tecnológica equipamiento informático"
    assert ("t001", "p01") in data.relevant


def test_each_half_is_judged_at_the_threshold_chosen_on_the_other() -> None:
    found = compare(load_set(), HashingEmbedder())
    test, whole = found["test"], found["whole"]
    assert found["embedder"] == "hashing-v1"
    assert found["pairs"] == 4_350
    assert len(test["thresholds"]) == 2
    assert test["keyword"]["relevant"] == test["semantic"]["relevant"] == 173
    assert test["both"]["relevant_found"] >= test["keyword"]["relevant_found"]
    assert whole["keyword"]["relevant_found"] == 81  # keyword alerts are deterministic
    ratio = test["semantic"]["relevant_found"] / test["keyword"]["relevant_found"]
    assert test["relevant_ratio"] == round(ratio, 3)


@pytest.mark.parametrize("name", ["hashing", "e5"])
def test_each_embedders_default_threshold_is_the_one_chosen_on_the_whole_set(name: str) -> None:
    if name == "e5":
        need_package(e5_installed(), "the multilingual E5 model", "run `make embeddings`")
    embedder = default_embedder(name)
    found = compare(load_set(), embedder)
    assert DEFAULT_THRESHOLDS[embedder.name] == found["whole"]["threshold"]
