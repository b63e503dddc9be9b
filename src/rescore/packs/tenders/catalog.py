"""What Chilean public procurement buys, who buys it and where: the generator's world.

Sixteen regions (the names ChileCompra prints), organisations of each region with a price
effect (some pay more, some less than the national average), product categories whose products
are named several ways (``Notebook HP 14"``, ``Computador portátil HP``, ``Laptop HP 14
pulgadas``): the synonyms the similar-products search must gather. Unit prices are in Chilean
pesos at the start of 2023. Nothing here is real data; it is shaped like it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CATEGORIES",
    "REGIONS",
    "REGION_PRICE",
    "Category",
    "Organisation",
    "Product",
    "organisations",
    "rut_check_digit",
    "valid_rut",
]

REGIONS: tuple[str, ...] = (
    "Región de Arica y Parinacota",
    "Región de Tarapacá",
    "Región de Antofagasta",
    "Región de Atacama",
    "Región de Coquimbo",
    "Región de Valparaíso",
    "Región Metropolitana de Santiago",
    "Región del Libertador General Bernardo O'Higgins",
    "Región del Maule",
    "Región de Ñuble",
    "Región del Biobío",
    "Región de La Araucanía",
    "Región de Los Ríos",
    "Región de Los Lagos",
    "Región de Aysén del General Carlos Ibáñez del Campo",
    "Región de Magallanes y de la Antártica Chilena",
)

#: Regional price effect: the far north and the far south pay for freight.
REGION_PRICE: dict[str, float] = {
    REGIONS[0]: 1.10,
    REGIONS[1]: 1.07,
    REGIONS[2]: 1.08,
    REGIONS[3]: 1.04,
    REGIONS[4]: 1.01,
    REGIONS[5]: 0.99,
    REGIONS[6]: 0.95,
    REGIONS[7]: 0.99,
    REGIONS[8]: 1.00,
    REGIONS[9]: 1.01,
    REGIONS[10]: 0.98,
    REGIONS[11]: 1.02,
    REGIONS[12]: 1.03,
    REGIONS[13]: 1.04,
    REGIONS[14]: 1.18,
    REGIONS[15]: 1.15,
}

#: How many buyers each region has, relative to the capital's (weights for drawing a buyer).
REGION_WEIGHT: tuple[int, ...] = (2, 3, 4, 2, 5, 9, 30, 5, 6, 3, 8, 6, 3, 5, 1, 2)

_CITIES: tuple[tuple[str, ...], ...] = (
    ("Arica", "Putre"),
    ("Iquique", "Alto Hospicio", "Pozo Almonte"),
    ("Antofagasta", "Calama", "Tocopilla", "Mejillones"),
    ("Copiapó", "Vallenar", "Caldera"),
    ("La Serena", "Coquimbo", "Ovalle", "Illapel"),
    ("Valparaíso", "Viña del Mar", "Quilpué", "San Antonio", "Los Andes"),
    ("Santiago", "Maipú", "Puente Alto", "Ñuñoa", "La Florida", "Providencia", "Pudahuel"),
    ("Rancagua", "San Fernando", "Pichilemu"),
    ("Talca", "Curicó", "Linares", "Constitución"),
    ("Chillán", "San Carlos", "Bulnes"),
    ("Concepción", "Talcahuano", "Los Ángeles", "Coronel"),
    ("Temuco", "Angol", "Villarrica", "Pucón"),
    ("Valdivia", "La Unión", "Panguipulli"),
    ("Puerto Montt", "Osorno", "Castro", "Puerto Varas"),
    ("Coyhaique", "Puerto Aysén"),
    ("Punta Arenas", "Puerto Natales"),
)

_KINDS: tuple[tuple[str, float], ...] = (
    ("Municipalidad de {city}", 1.00),
    ("Hospital Regional de {city}", 1.04),
    ("Servicio de Salud {city}", 1.02),
    ("Liceo Bicentenario de {city}", 0.97),
    ("Prefectura de Carabineros {city}", 0.94),
    ("Dirección Regional SII {city}", 0.96),
)

_NATIONAL: tuple[tuple[str, float], ...] = (
    ("Junta Nacional de Auxilio Escolar y Becas", 0.90),
    ("Ministerio de Salud", 0.93),
    ("Ejército de Chile", 0.92),
    ("Universidad de Chile", 1.06),
    ("Ministerio de Obras Públicas", 0.97),
    ("Instituto de Previsión Social", 0.95),
    ("Servicio Nacional de Menores", 1.03),
    ("Gendarmería de Chile", 0.96),
)


@dataclass(frozen=True, slots=True)
class Organisation:
    """A buyer: its name, its region and how its prices compare with the national average."""

    name: str
    region: str
    price_effect: float


def organisations() -> tuple[Organisation, ...]:
    """Every buyer: each kind of public body in each city, plus national bodies in Santiago."""
    found: list[Organisation] = []
    for region, cities in zip(REGIONS, _CITIES, strict=True):
        for city in cities:
            for template, effect in _KINDS:
                found.append(Organisation(template.format(city=city), region, effect))
    found.extend(Organisation(name, REGIONS[6], effect) for name, effect in _NATIONAL)
    return tuple(found)


@dataclass(frozen=True, slots=True)
class Product:
    """One product and the ways buyers and sellers write its name."""

    key: str
    price: float
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Category:
    """A ChileCompra category (``Rubro``) and its products."""

    name: str
    products: tuple[Product, ...]


def _p(key: str, price: float, *names: str) -> Product:
    return Product(key, price, names)


CATEGORIES: tuple[Category, ...] = (
    Category(
        "Equipamiento informático",
        (
            _p(
                "notebook",
                520_000,
                'Notebook HP 14"',
                "Computador portátil HP 14 pulgadas",
                "Laptop HP ProBook 14",
                "Notebook Lenovo ThinkPad E14",
                "Computador portátil Dell Latitude",
            ),
            _p(
                "desktop",
                610_000,
                "Computador de escritorio HP ProDesk",
                "PC de escritorio Intel Core i5",
                "Computador All in One Lenovo 24",
            ),
            _p(
                "monitor",
                119_000,
                'Monitor LED 24"',
                "Monitor 24 pulgadas Full HD",
                "Pantalla LCD 24 pulgadas Samsung",
            ),
            _p(
                "impresora",
                189_000,
                "Impresora multifuncional láser",
                "Impresora láser monocromática Brother",
                "Multifuncional HP LaserJet",
            ),
            _p(
                "toner",
                58_000,
                "Tóner HP 85A original",
                "Cartucho de tóner negro HP CE285A",
                "Toner compatible HP 85A",
            ),
            _p(
                "teclado_mouse",
                14_500,
                "Kit teclado y mouse inalámbrico",
                "Teclado y mouse USB Logitech",
                "Combo teclado mouse",
            ),
        ),
    ),
    Category(
        "Artículos de oficina",
        (
            _p(
                "resma",
                4_300,
                "Resma papel carta 500 hojas",
                "Papel fotocopia tamaño carta",
                "Resma de papel bond carta 75 g",
            ),
            _p(
                "lapiz",
                6_900,
                "Lápiz pasta azul caja 50 unidades",
                "Bolígrafo azul caja x50",
                "Lápices de pasta BIC azul",
            ),
            _p(
                "archivador",
                2_100,
                "Archivador palanca lomo ancho",
                "Archivador oficio lomo ancho",
                "Carpeta archivadora de palanca",
            ),
            _p(
                "corchetera",
                5_400,
                "Corchetera metálica 26/6",
                "Engrapadora de escritorio",
                "Corchetera de oficina",
            ),
        ),
    ),
    Category(
        "Aseo y limpieza",
        (
            _p(
                "cloro",
                1_650,
                "Cloro gel 1 litro",
                "Hipoclorito de sodio 1 L",
                "Cloro tradicional 1 litro",
            ),
            _p(
                "papel_higienico",
                19_800,
                "Papel higiénico jumbo 6 rollos",
                "Papel higiénico institucional rollo jumbo",
                "Rollo higiénico industrial",
            ),
            _p(
                "detergente",
                9_900,
                "Detergente líquido 5 litros",
                "Detergente ropa bidón 5 L",
                "Jabón líquido para ropa 5 litros",
            ),
            _p(
                "toalla",
                21_500,
                "Toalla de papel interfoliada caja",
                "Toalla de manos desechable",
                "Papel toalla interfoliado 2000 hojas",
            ),
        ),
    ),
    Category(
        "Insumos médicos",
        (
            _p(
                "guantes",
                6_200,
                "Guantes de nitrilo caja 100",
                "Guante quirúrgico nitrilo talla M",
                "Guantes desechables de nitrilo",
            ),
            _p(
                "mascarilla",
                3_900,
                "Mascarilla quirúrgica caja 50",
                "Mascarilla desechable 3 pliegues",
                "Cubrebocas quirúrgico caja x50",
            ),
            _p(
                "jeringa",
                95,
                "Jeringa desechable 5 ml",
                "Jeringa estéril 5 cc",
                "Jeringa 5 ml con aguja",
            ),
            _p(
                "alcohol_gel",
                3_200,
                "Alcohol gel 1 litro",
                "Gel antiséptico de manos 1 L",
                "Alcohol gel 70% dispensador",
            ),
        ),
    ),
    Category(
        "Alimentos y bebidas",
        (
            _p(
                "cafe",
                12_900,
                "Café molido 1 kg",
                "Café de grano tostado 1 kilo",
                "Café instantáneo 500 g",
            ),
            _p(
                "azucar", 1_350, "Azúcar granulada 1 kg", "Azúcar blanca 1 kilo", "Azúcar en sobres"
            ),
            _p(
                "agua",
                2_900,
                "Agua purificada bidón 20 litros",
                "Recarga de agua 20 L",
                "Bidón de agua purificada",
            ),
            _p(
                "coffee_break",
                4_500,
                "Servicio de coffee break por persona",
                "Colación para reunión",
                "Servicio de cafetería para actividad",
            ),
        ),
    ),
    Category(
        "Ferretería y construcción",
        (
            _p(
                "cemento",
                6_400,
                "Cemento saco 25 kg",
                "Cemento Polpaico 25 kilos",
                "Saco de cemento corriente",
            ),
            _p(
                "pintura",
                24_900,
                "Pintura látex 1 galón",
                "Pintura látex blanca galón",
                "Esmalte al agua 1 galón",
            ),
            _p(
                "taladro",
                69_000,
                "Taladro percutor 800 W",
                "Taladro eléctrico percutor",
                "Rotomartillo taladro 13 mm",
            ),
            _p(
                "ampolleta", 2_300, "Ampolleta LED 12 W", "Foco LED E27 luz fría", "Lámpara LED 12W"
            ),
        ),
    ),
    Category(
        "Mobiliario",
        (
            _p(
                "silla",
                89_000,
                "Silla ergonómica de oficina",
                "Silla de escritorio con apoyabrazos",
                "Sillón ejecutivo giratorio",
            ),
            _p(
                "escritorio",
                149_000,
                "Escritorio modular 120 cm",
                "Mesa de trabajo para oficina",
                "Escritorio de melamina",
            ),
            _p(
                "estante",
                79_000,
                "Estante metálico 5 repisas",
                "Estantería metálica de bodega",
                "Rack metálico de almacenamiento",
            ),
        ),
    ),
    Category(
        "Vestuario y seguridad",
        (
            _p(
                "zapato",
                39_000,
                "Zapato de seguridad con puntera",
                "Calzado de seguridad dieléctrico",
                "Bototo de seguridad",
            ),
            _p(
                "chaleco",
                4_800,
                "Chaleco reflectante amarillo",
                "Chaleco geólogo reflectante",
                "Chaleco de alta visibilidad",
            ),
            _p(
                "casco",
                7_900,
                "Casco de seguridad con barbiquejo",
                "Casco minero blanco",
                "Casco de protección industrial",
            ),
        ),
    ),
)


def rut_check_digit(number: int) -> str:
    """The RUT's verification digit (module 11): ``rut_check_digit(76086428) == "5"``."""
    total, factor = 0, 2
    while number:
        total += (number % 10) * factor
        number //= 10
        factor = 2 if factor == 7 else factor + 1
    digit = 11 - total % 11
    return "0" if digit == 11 else "K" if digit == 10 else str(digit)


def valid_rut(rut: str) -> bool:
    """Whether ``rut`` is ``digits-check`` with the right check digit (dots allowed)."""
    body, _, check = rut.replace(".", "").upper().partition("-")
    return body.isdigit() and len(check) == 1 and rut_check_digit(int(body)) == check
