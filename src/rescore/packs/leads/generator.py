"""Synthetic Mexican contacts and platform validations, of any size, reproducibly.

Contacts get a LADA drawn by each area's share of the phones (:mod:`.ladas`), a phone
``+52`` + LADA + local number (10 digits in all), mostly the LADA's own state and city (4%
another state, the seed's "geographic inconsistency"), some missing profile fields, a creation
time in the last three years and, for 78% of them, a last validation in the last months. Each
validated contact has validations on the platforms it was checked on (WhatsApp nearly always,
Apple least), valid with the platform's rate, some business or premium accounts, and a
confidence rounded to 3 decimals as a validator API reports it.

Chunk ``i`` of a seed is always the same data, whatever the chunk size of other runs, so a
31.8M-contact population is written chunk by chunk (:func:`write_parquet`) in bounded memory.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl
from sqlalchemy import Connection, func, insert, select

from rescore.packs.leads.algorithm import PLATFORMS
from rescore.packs.leads.ladas import LADAS, OPERATORS, STATES
from rescore.packs.leads.schema import contacts, ladas_reference, platform_validations

__all__ = ["GENERATOR_CHUNK", "Profile", "generate_chunk", "insert_demo", "write_parquet"]

GENERATOR_CHUNK = 1_000_000

FIRST = (  # noqa: SIM905
    "JOSE MARIA JUAN GUADALUPE FRANCISCO ANA LUIS ROSA CARLOS MARGARITA JESUS VERONICA "
    "MIGUEL LETICIA PEDRO ALEJANDRA ANTONIO PATRICIA FERNANDO GABRIELA RICARDO DANIELA "
    "JORGE SOFIA EDUARDO FERNANDA ALEJANDRO VALERIA ROBERTO XIMENA"
).split()
LAST = (  # noqa: SIM905
    "HERNANDEZ GARCIA MARTINEZ LOPEZ GONZALEZ RODRIGUEZ PEREZ SANCHEZ RAMIREZ CRUZ FLORES "
    "GOMEZ MORALES VAZQUEZ REYES JIMENEZ TORRES DIAZ GUTIERREZ RUIZ MENDOZA AGUILAR ORTIZ "
    "MORENO CASTILLO ROMERO ALVAREZ MENDEZ CHAVEZ RIVERA"
).split()
STREETS = ("JUAREZ", "HIDALGO", "MORELOS", "ZARAGOZA", "ALLENDE", "REFORMA", "MADERO", "OBREGON")
METHODS = ("api", "web_check", "sms_probe")


@dataclass(frozen=True, slots=True)
class Profile:
    """How each platform is checked and how often it is valid, business or premium."""

    attempted: float
    valid: float
    business: float
    premium: float


PROFILES: dict[str, Profile] = {
    "whatsapp": Profile(0.95, 0.82, 0.12, 0.03),
    "instagram": Profile(0.60, 0.45, 0.06, 0.05),
    "facebook": Profile(0.75, 0.60, 0.08, 0.04),
    "google": Profile(0.55, 0.50, 0.03, 0.02),
    "apple": Profile(0.35, 0.30, 0.01, 0.06),
}


def _weights(shares: list[int]) -> npt.NDArray[np.float64]:
    w = np.asarray(shares, dtype=np.float64)
    out: npt.NDArray[np.float64] = w / w.sum()
    return out


def generate_chunk(
    seed: int, index: int, *, start_id: int, size: int, as_of: datetime
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Contacts ``start_id .. start_id + size - 1`` and their validations."""
    rng = np.random.default_rng([seed, index])
    people = _contacts(rng, start_id, size, as_of)
    return people, _validations(rng, people)


def _contacts(rng: np.random.Generator, start: int, n: int, as_of: datetime) -> pl.DataFrame:
    codes = list(LADAS)
    lada_ix = rng.choice(len(codes), size=n, p=_weights([LADAS[c][2] for c in codes]))
    ids = np.arange(start, start + n, dtype=np.int64)
    local = (ids * 7_919 + 1_234_567) % 10_000_000  # a bijection on [0, 10^7): unique phones
    states = pl.Series([LADAS[c][0] for c in codes]).gather(lada_ix)
    cities = pl.Series([LADAS[c][1] for c in codes]).gather(lada_ix)
    other = pl.Series(STATES).gather(rng.integers(0, len(STATES), n))
    state_draw = rng.random(n)
    created = rng.integers(0, 3 * 365 * 86_400, n)
    validated = np.minimum(rng.exponential(20 * 86_400, n), 120 * 86_400).astype(np.int64)
    operators = list(OPERATORS)
    frame = pl.DataFrame(
        {
            "id": ids,
            "lada": pl.Series(codes).gather(lada_ix),
            "local": local,
            "first": pl.Series(FIRST).gather(rng.integers(0, len(FIRST), n)),
            "last1": pl.Series(LAST).gather(rng.integers(0, len(LAST), n)),
            "last2": pl.Series(LAST).gather(rng.integers(0, len(LAST), n)),
            "street": pl.Series(STREETS).gather(rng.integers(0, len(STREETS), n)),
            "number": rng.integers(1, 3000, n),
            "state": np.where(state_draw < 0.90, states.to_numpy(), other.to_numpy()),
            "has_state": state_draw < 0.94,
            "city": cities,
            "has_city": rng.random(n) < 0.92,
            "has_name": rng.random(n) < 0.85,
            "has_address": rng.random(n) < 0.55,
            "operator": pl.Series(operators).gather(
                rng.choice(len(operators), size=n, p=_weights(list(OPERATORS.values())))
            ),
            "has_operator": rng.random(n) < 0.92,
            "created_s": created,
            "validated_s": validated,
            "is_validated": rng.random(n) < 0.78,
        }
    )
    return _shape_contacts(frame, as_of)


def _shape_contacts(frame: pl.DataFrame, as_of: datetime) -> pl.DataFrame:
    def maybe(flag: str, value: pl.Expr) -> pl.Expr:
        return pl.when(pl.col(flag)).then(value).otherwise(None)

    digits = 10 - pl.col("lada").str.len_chars()
    local = pl.col("local").cast(pl.String).str.zfill(8)
    at = pl.lit(as_of, pl.Datetime("us"))
    return frame.select(
        "id",
        pl.concat_str(pl.lit("+52"), "lada", local.str.slice(8 - digits)).alias("phone_e164"),
        maybe("has_name", pl.concat_str("first", "last1", "last2", separator=" ")).alias(
            "full_name"
        ),
        maybe(
            "has_address", pl.format("CALLE {} #{}, CENTRO", pl.col("street"), pl.col("number"))
        ).alias("address"),
        maybe("has_state", pl.col("state")).alias("state_name"),
        maybe("has_city", pl.col("city")).alias("municipality"),
        "lada",
        maybe("has_operator", pl.col("operator")).alias("operator"),
        (at - pl.duration(seconds=pl.col("created_s"))).alias("created_at"),
        maybe("is_validated", at - pl.duration(seconds=pl.col("validated_s"))).alias(
            "last_platform_validation"
        ),
    )


def _validations(rng: np.random.Generator, people: pl.DataFrame) -> pl.DataFrame:
    checked = people.filter(pl.col("last_platform_validation").is_not_null()).select(
        "id", "last_platform_validation"
    )
    parts = []
    for order, platform in enumerate(PLATFORMS):
        p = PROFILES[platform]
        n = checked.height
        tried = rng.random(n) < p.attempted
        valid = rng.random(n) < p.valid / p.attempted
        confidence = np.where(valid, rng.beta(8, 2, n), rng.beta(2, 5, n)).round(3)
        lag = rng.integers(0, 5 * 86_400, n)
        parts.append(
            checked.with_columns(
                pl.lit(order).alias("_order"),
                pl.lit(platform).alias("platform"),
                pl.Series("is_valid", valid),
                pl.Series("is_business", rng.random(n) < p.business),
                pl.Series("is_premium", rng.random(n) < p.premium),
                pl.Series("confidence_score", confidence),
                pl.Series(
                    "validation_method", np.asarray(METHODS)[rng.choice(3, n, p=[0.6, 0.3, 0.1])]
                ),
                pl.Series("response_time_ms", rng.lognormal(6.5, 0.6, n).astype(np.int32)),
                pl.Series("_lag", lag),
            ).filter(pl.Series(tried))
        )
    rows = pl.concat(parts).sort("id", "_order")
    return rows.select(
        pl.col("id").alias("contact_id"),
        "platform",
        "is_valid",
        "is_business",
        "is_premium",
        "confidence_score",
        "validation_method",
        "response_time_ms",
        (pl.col("last_platform_validation") - pl.duration(seconds=pl.col("_lag"))).alias(
            "validated_at"
        ),
    )


def write_parquet(
    out: Path,
    *,
    contacts_total: int,
    seed: int,
    as_of: datetime,
    chunk_size: int = GENERATOR_CHUNK,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write a population to ``out/contacts``, ``out/validations`` (one file per chunk) and
    ``out/ladas_reference.parquet``; return the row counts."""
    (out / "contacts").mkdir(parents=True, exist_ok=True)
    (out / "validations").mkdir(parents=True, exist_ok=True)
    _ladas_frame().write_parquet(out / "ladas_reference.parquet")
    counts = {"contacts": 0, "validations": 0}
    for index, start in enumerate(range(0, contacts_total, chunk_size)):
        size = min(chunk_size, contacts_total - start)
        people, checks = generate_chunk(seed, index, start_id=start + 1, size=size, as_of=as_of)
        people.write_parquet(out / "contacts" / f"part-{index:05d}.parquet")
        checks.write_parquet(out / "validations" / f"part-{index:05d}.parquet")
        counts["contacts"] += people.height
        counts["validations"] += checks.height
        if progress is not None:
            progress(size)
    meta = {"seed": seed, "as_of": as_of.isoformat(), "chunk_size": chunk_size, **counts}
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    return counts


def _ladas_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "lada": list(LADAS),
            "state_name": [s for s, _, _ in LADAS.values()],
            "city": [c for _, c, _ in LADAS.values()],
        }
    )


def insert_demo(conn: Connection, *, seed: int, size: int, as_of: datetime) -> int:
    """Fill the source tables (a small population, for SQLite demos and tests)."""
    if not conn.execute(select(func.count()).select_from(ladas_reference)).scalar_one():
        conn.execute(insert(ladas_reference), _ladas_frame().to_dicts())
    start = (conn.execute(select(func.max(contacts.c.id))).scalar_one() or 0) + 1
    people, checks = generate_chunk(seed, 0, start_id=start, size=size, as_of=as_of)
    if size:
        conn.execute(insert(contacts), people.to_dicts())
    if checks.height:
        conn.execute(insert(platform_validations), checks.to_dicts())
    return people.height
