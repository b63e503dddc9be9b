"""Realistic Compra Ágil history, generated month by month as the open-data files' rows.

The world (:mod:`.catalog`): buyers in sixteen regions with their own price effects, suppliers
with a home region, one to three specialities, a size and a pricing habit. Each request
(``CodigoCotizacion``) asks for one to three products of one category; two to eight suppliers
quote, mostly specialists and more often local ones; each quotes a unit price = the product's
price x inflation x the buyer's effect x the region's effect x the supplier's habit x noise,
writing the product's name its own way (the synonyms). The winner is drawn from a logit on
the price ratio to the request's mean, the supplier's wins so far in the category and whether
it is local, so win probability has something real to learn; about 6% of requests are void.

:func:`month_rows` yields a month's rows in :data:`.cotfile.COLUMNS` order; the same seed gives
the same rows. A row costs a few microseconds: 10.6M rows are a few minutes of one core.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import accumulate

from rescore.packs.tenders.catalog import (
    CATEGORIES,
    REGION_PRICE,
    REGION_WEIGHT,
    REGIONS,
    Category,
    Organisation,
    organisations,
    rut_check_digit,
)

__all__ = ["SIZES", "Supplier", "World", "month_rows", "months_back"]

SIZES = ("micro", "pequena", "mediana", "grande")
_SIZE_WEIGHTS = (35, 35, 20, 10)
_PREFIX = ("Comercial", "Distribuidora", "Importadora", "Servicios", "Inversiones", "Sociedad")
_STEM = (
    "Andes",
    "Pacífico",
    "Austral",
    "Cordillera",
    "Del Sur",
    "Norte Grande",
    "Los Robles",
    "San Martín",
    "Araucaria",
    "Quillay",
    "Atacama",
    "Bío Bío",
    "Patagonia",
    "Valle Central",
    "Santa Elena",
    "El Roble",
    "Lircay",
    "Maipo",
    "Tolhuaca",
    "Copihue",
)
_SUFFIX = ("SpA", "Ltda.", "S.A.", "E.I.R.L.")
#: Monthly inflation of unit prices (about 5% a year).
INFLATION = 0.004
#: Prices are as of this month in :mod:`.catalog`.
BASE_MONTH = date(2023, 1, 1)
VOID_SHARE = 0.06


@dataclass(frozen=True, slots=True)
class Supplier:
    """A seller: RUT, name, home region, size, specialities (category indexes), price habit."""

    rut: str
    name: str
    region: str
    size: str
    specialities: tuple[int, ...]
    habit: float


@dataclass(slots=True)
class World:
    """Buyers, suppliers and each supplier's wins so far per category (what experience is)."""

    rng: random.Random
    buyers: tuple[Organisation, ...]
    buyer_weights: list[float]
    suppliers: tuple[Supplier, ...]
    by_category: dict[int, tuple[Supplier, ...]]
    wins: dict[tuple[str, int], int] = field(default_factory=dict)
    sequence: int = 0

    @classmethod
    def build(cls, seed: int, suppliers: int = 2_000) -> World:
        """The same world for the same seed; ``suppliers`` sellers."""
        rng = random.Random(seed)
        buyers = organisations()
        per_region = {r: sum(1 for b in buyers if b.region == r) for r in REGIONS}
        weight = dict(zip(REGIONS, REGION_WEIGHT, strict=True))
        cum = list(accumulate(weight[b.region] / per_region[b.region] for b in buyers))
        people = tuple(_supplier(rng, n) for n in range(suppliers))
        by_category = {
            c: tuple(s for s in people if c in s.specialities) for c in range(len(CATEGORIES))
        }
        return cls(rng, buyers, cum, people, by_category)


def _supplier(rng: random.Random, n: int) -> Supplier:
    body = 76_000_000 + n * 1_931 + rng.randrange(1_900)
    region = rng.choices(REGIONS, weights=REGION_WEIGHT)[0]
    name = f"{rng.choice(_PREFIX)} {rng.choice(_STEM)} {n} {rng.choice(_SUFFIX)}"
    count = rng.choice((1, 1, 2, 2, 3))
    specialities = tuple(sorted(rng.sample(range(len(CATEGORIES)), count)))
    size = rng.choices(SIZES, weights=_SIZE_WEIGHTS)[0]
    habit = math.exp(rng.gauss(0.0, 0.08)) * (0.96 if size == "grande" else 1.0)
    return Supplier(f"{body}-{rut_check_digit(body)}", name, region, size, specialities, habit)


def months_back(last: date, count: int) -> list[date]:
    """The first days of the ``count`` months ending with ``last``'s month, oldest first."""
    index = last.year * 12 + last.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(index - count + 1, index + 1)]


def month_rows(world: World, month: date, rows: int) -> Iterator[tuple[object, ...]]:
    """About ``rows`` quote lines closing in ``month`` (whole requests, so a few more)."""
    made = 0
    while made < rows:
        for row in _request(world, month):
            made += 1
            yield row


def _request(world: World, month: date) -> list[tuple[object, ...]]:
    rng = world.rng
    buyer = rng.choices(world.buyers, cum_weights=world.buyer_weights)[0]
    index = rng.randrange(len(CATEGORIES))
    category = CATEGORIES[index]
    world.sequence += 1
    code = f"{1000 + world.sequence % 8999}-{world.sequence}-COT{month.year % 100:02d}"
    closes = _closing(rng, month)
    items = rng.sample(range(len(category.products)), rng.choice((1, 1, 1, 2, 2, 3)))
    bidders = _bidders(world, index, buyer.region)
    quotes = _quotes(rng, category, items, bidders, buyer, month)
    winner = _winner(world, index, buyer.region, bidders, quotes)
    title = f"Compra de {category.products[items[0]].names[0].lower()} - {buyer.name}"
    lines: list[tuple[object, ...]] = []
    for s, supplier in enumerate(bidders):
        for i, (_, name, quantity, total) in enumerate(quotes[s], start=1):
            lines.append(
                (
                    code,
                    title,
                    closes,
                    buyer.name,
                    buyer.region,
                    category.name,
                    i,
                    name,
                    quantity,
                    total,
                    supplier.rut,
                    supplier.name,
                    supplier.region,
                    supplier.size,
                    "Si" if s == winner else "No",
                )
            )
    return lines


def _closing(rng: random.Random, month: date) -> str:
    day = rng.randint(1, 28)
    at = datetime(month.year, month.month, day, rng.randint(9, 17), rng.choice((0, 30)))
    return at.strftime("%Y-%m-%d %H:%M:%S")


def _bidders(world: World, category: int, region: str) -> list[Supplier]:
    rng = world.rng
    pool = world.by_category[category] or world.suppliers
    count = min(len(pool), rng.choice((2, 3, 3, 4, 4, 5, 6, 8)))
    local = [s for s in rng.sample(pool, min(len(pool), 40)) if s.region == region]
    chosen = {s.rut: s for s in local[: rng.randint(0, 2)]}
    while len(chosen) < count:
        s = pool[rng.randrange(len(pool))]
        chosen.setdefault(s.rut, s)
    return list(chosen.values())


def _quotes(
    rng: random.Random,
    category: Category,
    items: list[int],
    bidders: list[Supplier],
    buyer: Organisation,
    month: date,
) -> list[list[tuple[int, str, int, int]]]:
    age = (month.year - BASE_MONTH.year) * 12 + month.month - BASE_MONTH.month
    level = (1 + INFLATION) ** age * buyer.price_effect * REGION_PRICE[buyer.region]
    wanted = [(i, _quantity(rng, category.products[i].price)) for i in items]
    quotes = []
    for supplier in bidders:
        lines = []
        for i, quantity in wanted:
            product = category.products[i]
            unit = product.price * level * supplier.habit * math.exp(rng.gauss(0.0, 0.11))
            name = product.names[rng.randrange(len(product.names))]
            lines.append((i, name, quantity, max(1, round(unit * quantity))))
        quotes.append(lines)
    return quotes


def _quantity(rng: random.Random, price: float) -> int:
    if price > 50_000:
        return rng.randint(1, 12)
    if price > 5_000:
        return rng.randint(2, 60)
    return rng.randint(10, 400)


def _winner(
    world: World,
    category: int,
    region: str,
    bidders: list[Supplier],
    quotes: list[list[tuple[int, str, int, int]]],
) -> int | None:
    rng = world.rng
    if rng.random() < VOID_SHARE:
        return None
    totals = [sum(line[3] for line in q) for q in quotes]
    mean = sum(totals) / len(totals)
    utility = [
        -9.0 * (total / mean - 1.0)
        + 0.45 * math.log1p(world.wins.get((s.rut, category), 0))
        + (0.6 if s.region == region else 0.0)
        - math.log(-math.log(rng.random() or 1e-12))
        for s, total in zip(bidders, totals, strict=True)
    ]
    best = max(range(len(bidders)), key=utility.__getitem__)
    key = (bidders[best].rut, category)
    world.wins[key] = world.wins.get(key, 0) + 1
    return best
