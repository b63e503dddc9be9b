"""Mexican LADAs (long-distance area codes) and the state each one belongs to.

The seed checks a contact's geographic consistency against a ``ladas_reference`` table
(``lada -> state_name``). This is that table's content for the demo and the generator: the
main LADA of every state capital plus the large cities, 70 codes over all 32 states. State
names are upper case without accents, as the seed writes them (``'NUEVO LEON'``, ``'CDMX'``).
The comparison is case-insensitive (the seed compares ``UPPER(state_name)``).
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["LADAS", "OPERATORS", "STATES", "reference_pairs"]

#: lada -> (state, the city it serves, share of the population's phones, in per mille)
LADAS: Mapping[str, tuple[str, str, int]] = {
    "55": ("CDMX", "CIUDAD DE MEXICO", 140),
    "56": ("CDMX", "CIUDAD DE MEXICO", 30),
    "33": ("JALISCO", "GUADALAJARA", 60),
    "322": ("JALISCO", "PUERTO VALLARTA", 6),
    "374": ("JALISCO", "AMECA", 2),
    "81": ("NUEVO LEON", "MONTERREY", 50),
    "826": ("NUEVO LEON", "LINARES", 2),
    "828": ("NUEVO LEON", "CADEREYTA", 2),
    "667": ("SINALOA", "CULIACAN", 12),
    "668": ("SINALOA", "LOS MOCHIS", 6),
    "669": ("SINALOA", "MAZATLAN", 6),
    "664": ("BAJA CALIFORNIA", "TIJUANA", 22),
    "686": ("BAJA CALIFORNIA", "MEXICALI", 12),
    "646": ("BAJA CALIFORNIA", "ENSENADA", 5),
    "612": ("BAJA CALIFORNIA SUR", "LA PAZ", 4),
    "624": ("BAJA CALIFORNIA SUR", "LOS CABOS", 4),
    "656": ("CHIHUAHUA", "CIUDAD JUAREZ", 17),
    "614": ("CHIHUAHUA", "CHIHUAHUA", 10),
    "662": ("SONORA", "HERMOSILLO", 10),
    "644": ("SONORA", "CIUDAD OBREGON", 5),
    "631": ("SONORA", "NOGALES", 3),
    "871": ("COAHUILA", "TORREON", 8),
    "844": ("COAHUILA", "SALTILLO", 9),
    "899": ("TAMAULIPAS", "REYNOSA", 8),
    "868": ("TAMAULIPAS", "MATAMOROS", 5),
    "833": ("TAMAULIPAS", "TAMPICO", 6),
    "834": ("TAMAULIPAS", "CIUDAD VICTORIA", 3),
    "867": ("TAMAULIPAS", "NUEVO LAREDO", 4),
    "618": ("DURANGO", "DURANGO", 6),
    "492": ("ZACATECAS", "ZACATECAS", 5),
    "444": ("SAN LUIS POTOSI", "SAN LUIS POTOSI", 9),
    "449": ("AGUASCALIENTES", "AGUASCALIENTES", 10),
    "477": ("GUANAJUATO", "LEON", 15),
    "473": ("GUANAJUATO", "GUANAJUATO", 3),
    "461": ("GUANAJUATO", "CELAYA", 5),
    "462": ("GUANAJUATO", "IRAPUATO", 5),
    "442": ("QUERETARO", "QUERETARO", 13),
    "771": ("HIDALGO", "PACHUCA", 8),
    "722": ("ESTADO DE MEXICO", "TOLUCA", 20),
    "595": ("ESTADO DE MEXICO", "TEXCOCO", 6),
    "222": ("PUEBLA", "PUEBLA", 22),
    "238": ("PUEBLA", "TEHUACAN", 4),
    "246": ("TLAXCALA", "TLAXCALA", 6),
    "777": ("MORELOS", "CUERNAVACA", 10),
    "443": ("MICHOACAN", "MORELIA", 10),
    "452": ("MICHOACAN", "URUAPAN", 5),
    "351": ("MICHOACAN", "ZAMORA", 3),
    "311": ("NAYARIT", "TEPIC", 6),
    "312": ("COLIMA", "COLIMA", 4),
    "314": ("COLIMA", "MANZANILLO", 2),
    "744": ("GUERRERO", "ACAPULCO", 8),
    "747": ("GUERRERO", "CHILPANCINGO", 4),
    "951": ("OAXACA", "OAXACA", 9),
    "971": ("OAXACA", "JUCHITAN", 3),
    "229": ("VERACRUZ", "VERACRUZ", 10),
    "228": ("VERACRUZ", "XALAPA", 7),
    "921": ("VERACRUZ", "COATZACOALCOS", 4),
    "271": ("VERACRUZ", "CORDOBA", 3),
    "993": ("TABASCO", "VILLAHERMOSA", 9),
    "961": ("CHIAPAS", "TUXTLA GUTIERREZ", 8),
    "962": ("CHIAPAS", "TAPACHULA", 4),
    "981": ("CAMPECHE", "CAMPECHE", 3),
    "938": ("CAMPECHE", "CIUDAD DEL CARMEN", 2),
    "999": ("YUCATAN", "MERIDA", 12),
    "998": ("QUINTANA ROO", "CANCUN", 10),
    "983": ("QUINTANA ROO", "CHETUMAL", 2),
    "984": ("QUINTANA ROO", "PLAYA DEL CARMEN", 3),
    "415": ("GUANAJUATO", "SAN MIGUEL DE ALLENDE", 1),
    "341": ("JALISCO", "CIUDAD GUZMAN", 2),
    "653": ("SONORA", "SAN LUIS RIO COLORADO", 2),
}

STATES: tuple[str, ...] = tuple(sorted({state for state, _, _ in LADAS.values()}))

#: Mobile operators and their share of the lines (per mille).
OPERATORS: Mapping[str, int] = {
    "TELCEL": 620,
    "MOVISTAR": 150,
    "AT&T": 160,
    "BAIT": 40,
    "ALTAN": 30,
}


def reference_pairs() -> frozenset[tuple[str, str]]:
    """The built-in ``(lada, STATE)`` pairs that count as geographically consistent."""
    return frozenset((lada, state.upper()) for lada, (state, _, _) in LADAS.items())
