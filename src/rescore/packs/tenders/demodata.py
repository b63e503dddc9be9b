"""Demo and benchmark data: the generator writes monthly files, the importer loads them.

:func:`write_history` streams any number of months of generated quotes into
``COT_YYYY-MM.zip`` files (10.6M rows for the benchmark, a few tens of thousands for the demo);
:func:`insert_demo` writes a small history into a temporary folder, imports it exactly as a
real month would be imported, then adds open tenders, subscribers and their alert profiles.
"""

from __future__ import annotations

import random
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, insert

from rescore.packs.tenders.catalog import CATEGORIES, REGION_PRICE, organisations, rut_check_digit
from rescore.packs.tenders.cotfile import write_month
from rescore.packs.tenders.generator import World, month_rows, months_back
from rescore.packs.tenders.importer import import_file
from rescore.packs.tenders.schema import alert_profiles, payments, subscribers, tenders

__all__ = [
    "DEMO_MONTHS",
    "DEMO_ROWS_PER_MONTH",
    "DemoCounts",
    "insert_demo",
    "tender_rows",
    "write_history",
]

DEMO_MONTHS = 24
DEMO_ROWS_PER_MONTH = 3_000

#: What each demo subscriber sells, and the keyword it would have typed.
PROFILES: tuple[tuple[str, str, str], ...] = (
    ("Tecnología Austral SpA", "Vendo laptops HP y computadores para oficinas", "notebook"),
    ("Oficina Total Ltda.", "Artículos de escritorio, papel y útiles de oficina", "resma"),
    ("Limpieza Sur SpA", "Productos de aseo institucional: cloro, detergente, papel", "cloro"),
    ("MedicoSur Ltda.", "Insumos clínicos desechables para hospitales", "guantes"),
    ("Ferretería Los Andes", "Materiales de construcción y herramientas eléctricas", "cemento"),
    ("Muebles del Maule SpA", "Sillas y escritorios para oficina", "silla"),
    ("Seguridad Norte Ltda.", "Elementos de protección personal para faenas", "casco"),
    ("Café Patagonia SpA", "Café, azúcar y servicios de coffee break", "café"),
)


@dataclass(frozen=True, slots=True)
class DemoCounts:
    """What :func:`insert_demo` created."""

    history: int
    tenders: int
    subscribers: int


def write_history(
    folder: Path,
    *,
    seed: int,
    last_month: date,
    months: int,
    rows_per_month: int,
    on_month: Callable[[date, Path], None] | None = None,
) -> list[Path]:
    """Write ``months`` monthly files ending with ``last_month``'s; return their paths."""
    world = World.build(seed)
    paths = []
    for month in months_back(last_month, months):
        path = write_month(folder, month, month_rows(world, month, rows_per_month))
        paths.append(path)
        if on_month is not None:
            on_month(month, path)
    return paths


def insert_demo(conn: Connection, *, seed: int, size: int, as_of: datetime) -> DemoCounts:
    """History (imported from generated files), ``size`` open tenders, the subscribers."""
    last = (as_of.date().replace(day=1) - timedelta(days=1)).replace(day=1)
    rows = 0
    with tempfile.TemporaryDirectory(prefix="rescore-tenders-") as folder:
        for path in write_history(
            Path(folder),
            seed=seed,
            last_month=last,
            months=DEMO_MONTHS,
            rows_per_month=DEMO_ROWS_PER_MONTH,
        ):
            rows += import_file(conn, path, now=as_of).new
    made = tender_rows(random.Random(seed + 1), size, as_of)
    conn.execute(insert(tenders), made)
    people = _subscribers(random.Random(seed + 2), as_of)
    paid = _payments(random.Random(seed + 3), [p for p, _ in people], as_of)  # sets vence_en
    conn.execute(insert(subscribers), [p for p, _ in people])
    conn.execute(insert(alert_profiles), [row for _, rows_ in people for row in rows_])
    if paid:
        conn.execute(insert(payments), paid)
    return DemoCounts(history=rows, tenders=len(made), subscribers=len(people))


def tender_rows(rng: random.Random, count: int, as_of: datetime) -> list[dict[str, object]]:
    """``count`` tenders published in the ten days before ``as_of``, closing after it."""
    buyers = organisations()
    made = []
    for n in range(count):
        buyer = buyers[rng.randrange(len(buyers))]
        category = CATEGORIES[rng.randrange(len(CATEGORIES))]
        product = category.products[rng.randrange(len(category.products))]
        quantity = rng.randint(1, 12) if product.price > 50_000 else rng.randint(10, 200)
        level = 1.09 * buyer.price_effect * REGION_PRICE[buyer.region]
        published = as_of - timedelta(days=rng.uniform(0.5, 10), hours=rng.randint(0, 8))
        budget = round(product.price * level * quantity * rng.uniform(0.85, 1.3), -2)
        name = product.names[rng.randrange(len(product.names))]
        made.append(
            {
                "codigo": f"{2000 + n}-{n + 1}-COT{as_of.year % 100:02d}",
                "nombre": f"Adquisición de {name.lower()}",
                "descripcion": f"{buyer.name} requiere {quantity} unidades de {name.lower()}.",
                "organismo": buyer.name,
                "region": buyer.region,
                "categoria": category.name,
                "producto": name,
                "cantidad": quantity,
                "monto_estimado": int(budget) if rng.random() < 0.85 else None,
                "fecha_publicacion": published.replace(microsecond=0),
                "fecha_cierre": (published + timedelta(days=rng.randint(3, 10))).replace(
                    microsecond=0
                ),
                "estado": "publicada",
                "actualizado_en": published.replace(microsecond=0),
            }
        )
    return made


def _subscribers(
    rng: random.Random, as_of: datetime
) -> list[tuple[dict[str, object], list[dict[str, object]]]]:
    people = []
    for n, (name, sells, keyword) in enumerate(PROFILES):
        key = str(uuid.UUID(int=rng.getrandbits(128)))
        body = 77_000_000 + n * 7_919
        created = as_of - timedelta(days=rng.randint(20, 400))
        person = {
            "id": key,
            "nombre": name,
            "rut": f"{body}-{rut_check_digit(body)}",
            "telegram_chat_id": 100_000_000 + n,
            "tier": ("free", "emprendedor", "pyme", "profesional")[n % 4],
            "zona_horaria": "America/Santiago",
            "region": None,
            "descripcion_empresa": sells,
            "creado_en": created.replace(microsecond=0),
            "vence_en": None,
        }
        profiles = [
            _profile(rng, key, "semantic", sells, None, created),  # the embedder's default
            _profile(rng, key, "keyword", keyword, None, created),
        ]
        people.append((person, profiles))
    return people


def _payments(
    rng: random.Random, people: list[dict[str, object]], as_of: datetime
) -> list[dict[str, object]]:
    """Each paid subscriber's last month paid (``evt_demo_NNN``, NNN its position), its
    ``vence_en`` set a month after."""
    from rescore.packs.tenders.payments import payment_id
    from rescore.packs.tenders.subscriptions import plus_month
    from rescore.packs.tenders.tiers import catalog

    made = []
    for n, person in enumerate(people):
        tier = catalog().tier(str(person["tier"]))
        if tier.price_clp <= 0:
            continue
        paid_at = as_of - timedelta(days=rng.randint(1, 27), hours=rng.randint(0, 23))
        person["vence_en"] = until = plus_month(paid_at.replace(microsecond=0))
        event = f"evt_demo_{n:03d}"
        made.append(
            {
                "id": payment_id(event),
                "evento_id": event,
                "suscriptor_id": person["id"],
                "tier": tier.name,
                "monto_clp": tier.price_clp,
                "estado": "pagado",
                "creado_en": paid_at.replace(microsecond=0),
                "vence_en": until,
            }
        )
    return made


def _profile(
    rng: random.Random, owner: str, kind: str, text: str, threshold: float | None, at: datetime
) -> dict[str, object]:
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128))),
        "suscriptor_id": owner,
        "tipo": kind,
        "texto": text,
        "umbral": threshold,
        "activo": True,
        "creado_en": at.replace(microsecond=0),
    }
