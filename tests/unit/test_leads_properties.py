"""The vectorized lead score equals the per-contact one, bit for bit, on random populations:
duplicate and invalid rows, truncation edges, blank fields, future timestamps, both settings."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from rescore import population
from rescore.db.engine import json_dumps
from rescore.packs.leads import PLATFORMS, record_of, score_contact, score_frame
from rescore.packs.leads.frame import CONTACT_SCHEMA, RECORD_COLUMNS, VALIDATION_SCHEMA
from rescore.packs.leads.ladas import reference_pairs
from rescore.packs.leads.scorers import result_frames, results_of, scorers
from rescore.scoring import ScorerGraph

AS_OF = datetime(2026, 1, 23, 12)
LADAS = reference_pairs()

texts = st.one_of(st.none(), st.text(alphabet=" \tAb", max_size=3))
times = st.one_of(
    st.none(),
    st.integers(-5 * 86_400, 800 * 86_400).map(lambda s: AS_OF - timedelta(seconds=s)),
)
confidences = st.one_of(
    st.floats(0.0, 1.0, allow_nan=False),
    st.sampled_from([0.0, 0.066, 1 / 15, 0.5, 0.7, 0.999, 1.0]),
)


@st.composite
def populations(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    ids = draw(st.lists(st.integers(1, 40), unique=True, max_size=12))
    contacts = [
        {
            "id": i,
            "phone_e164": f"+52{i:010d}",
            "full_name": draw(texts),
            "address": draw(texts),
            "state_name": draw(st.sampled_from([None, "", " ", "SINALOA", "sinaloa", "CDMX"])),
            "municipality": draw(texts),
            "lada": draw(st.sampled_from([None, "", "667", "55", "999"])),
            "operator": draw(texts),
            "created_at": draw(times),
            "last_platform_validation": draw(times),
        }
        for i in ids
    ]
    validation = st.fixed_dictionaries(
        {
            "contact_id": st.sampled_from([*ids, 99]) if ids else st.just(99),
            "platform": st.sampled_from(PLATFORMS),
            "is_valid": st.booleans(),
            "is_business": st.booleans(),
            "is_premium": st.booleans(),
            "confidence_score": confidences,
            "validation_method": st.just("api"),
        }
    )
    return contacts, draw(st.lists(validation, max_size=40))


def frames(
    contacts: list[dict[str, Any]], validations: list[dict[str, Any]]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    people = pl.DataFrame(contacts, schema=CONTACT_SCHEMA)
    checks = pl.DataFrame(
        validations, schema={**VALIDATION_SCHEMA, "validation_method": pl.String()}
    )
    return people, checks


@settings(max_examples=150, deadline=None)
@given(populations(), st.booleans())
def test_vectorized_equals_per_contact(
    population: tuple[list[dict[str, Any]], list[dict[str, Any]]], quality_factors: bool
) -> None:
    contacts, validations = population
    scored = score_frame(
        *frames(contacts, validations), as_of=AS_OF, quality_factors=quality_factors, ladas=LADAS
    )
    assert scored.height == len(contacts)
    for contact, row in zip(contacts, scored.iter_rows(named=True), strict=True):
        mine = [v for v in validations if v["contact_id"] == contact["id"]]
        expected = record_of(
            score_contact(contact, mine, quality_factors=quality_factors, as_of=AS_OF, ladas=LADAS)
        )
        got = {k: row[k] for k in RECORD_COLUMNS}
        assert got == expected  # == on floats: exactly the same numbers
        assert results_of(got) == results_of(expected)
    _check_result_frames(scored, quality_factors)


def _check_result_frames(scored: pl.DataFrame, quality_factors: bool) -> None:
    """The bulk store's form of the results (``result_frames``, JSON written by Polars) is
    the per-contact results, texts included, so both paths store the same bytes."""
    scored = scored.with_columns(pl.col("contact_id").cast(pl.String).alias("entity"))
    frames = result_frames(scored)
    expected = [results_of(row) for row in scored.iter_rows(named=True)]
    read_back = [found for _, found in population.results_of(frames)]
    assert read_back == expected
    graph = ScorerGraph("leads", scorers(quality_factors=quality_factors))
    rows = population.encoded(graph, frames, dict.fromkeys(graph.order, "1.0.0"))
    texts = {(r["entity"], r["scorer"]): r for r in rows.iter_rows(named=True)}
    for entity, found in zip(scored.get_column("entity"), expected, strict=True):
        for name, result in found.items():
            text = texts[(entity, name)]
            assert text["components"] == json_dumps(dict(result.components))
            assert text["reasons"] == json_dumps(list(result.reasons))
            assert text["features"] == json_dumps(dict(result.features))


def test_scored_columns_are_stable() -> None:
    contacts = [{"id": 1, "phone_e164": "+520000000001", "created_at": AS_OF}]
    scored = score_frame(*frames(contacts, []), as_of=AS_OF, ladas=LADAS)
    assert scored.columns == ["contact_id", "phone_e164", *RECORD_COLUMNS[1:]]
    row = scored.row(0, named=True)
    assert (row["total_score"], row["quality_tier"], row["confidence_level"]) == (0, "UNKNOWN", 0.0)
