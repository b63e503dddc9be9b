"""The examples the tenders pack's routes document, answered on the demo data (seed 7, generated
as of 2026-11-30, the hashing embedder); lists are cut to their first item."""

from __future__ import annotations

from typing import Any

#: ``GET /precio?producto=guantes nitrilo&organismo=Hospital Regional``.
PRECIO: dict[str, Any] = {
    "producto": "guantes nitrilo",
    "organismo": "Hospital Regional",
    "region": None,
    "as_of": "2026-11-30",
    "desde": "2024-11-30",
    "productos_similares": [
        {
            "producto": "Guantes de nitrilo caja 100",
            "similitud": 0.8421,
            "cotizaciones": 766,
            "por": "trigramas",
        }
    ],
    "muestra": {
        "cotizaciones": 281,
        "adjudicaciones": 65,
        "desde": "2024-12-11",
        "limitada": False,
    },
    "precio_competitivo": 6280,
    "precio_sugerido": 6656,
    "precio_seguro": 7190,
    "ultimas_adjudicaciones": [
        {
            "fecha": "2026-10-20",
            "precio_unitario": 6693.55,
            "proveedor": "Sociedad Andes 1128 E.I.R.L.",
            "organismo": "Hospital Regional de La Florida",
        }
    ],
    "competidores_frecuentes": [
        {
            "rut": "77598314-0",
            "nombre": "Inversiones Andes 827 Ltda.",
            "cotizaciones": 4,
            "adjudicaciones": 1,
        }
    ],
    "insights": [
        {
            "tipo": "nivel_de_precios",
            "texto": "El organismo Hospital Regional suele pagar un 8.1% más que el "
            "promedio nacional",
            "datos": {"diferencia_pct": 8.1, "productos": 3},
        },
        {
            "tipo": "region_proveedores",
            "texto": "Los proveedores de Región Metropolitana de Santiago ganan el 24.4% de "
            "las veces",
            "datos": {
                "region": "Región Metropolitana de Santiago",
                "cotizaciones": 675,
                "adjudicaciones": 165,
            },
        },
        {
            "tipo": "rango_adjudicaciones",
            "texto": "Últimas 10 adjudicaciones: rango $6,015 - $8,218",
            "datos": {"minimo": 6015.0, "maximo": 8218.33, "adjudicaciones": 10},
        },
        {
            "tipo": "ventaja_local",
            "texto": "Los proveedores locales ganan el 29.1% de sus cotizaciones; los de "
            "otras regiones, el 19.1%",
            "datos": {"local_pct": 29.1, "foraneo_pct": 19.1},
        },
    ],
}

#: ``GET /search?q=guantes nitrilo``.
SEARCH: dict[str, Any] = {
    "consulta": "guantes nitrilo",
    "indice": "fts5_trigram",
    "productos": [
        {
            "producto": "Guantes de nitrilo caja 100",
            "similitud": 0.8421,
            "cotizaciones": 766,
            "por": "trigramas",
            "categoria": "Insumos médicos",
            "ultima_fecha": "2026-10-28",
        }
    ],
}

#: ``GET /imports``.
IMPORTS: dict[str, Any] = {
    "archivos": [
        {
            "archivo": "COT_2026-10.zip",
            "filas_nuevas": 522,
            "filas_duplicadas": 0,
            "filas_rechazadas": 0,
            "importado_en": "2026-11-30T09:00:00Z",
        }
    ]
}
