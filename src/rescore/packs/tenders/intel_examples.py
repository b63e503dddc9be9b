"""The documented examples of the win-probability and alert-profile routes: they work on the
demo data (``rescore init --demo-data``, seed 7), and a test sends each one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

#: A demo tender (the demo's codes end with the year it was made: the current one).
TENDER = f"2003-4-COT{datetime.now(UTC).year % 100:02d}"
SUBSCRIBER = "b03da701-c632-976a-1036-3c5f972651da"  # MedicoSur Ltda. (PROFESIONAL)
PROFILE = "7f2a75ec-92ae-b20c-15b7-d95f8034a6a7"  # Café Patagonia's keyword profile
SUPPLIER = "77037867-2"

QUOTE: dict[str, Any] = {
    "codigo_licitacion": TENDER,
    "rut_proveedor": SUPPLIER,
    "precio_unitario": 92000,
}
PREDICTION: dict[str, Any] = {
    "codigo_licitacion": TENDER,
    "rut_proveedor": SUPPLIER,
    "features": {
        "precio_ratio": 0.9225,
        "experiencia": 11.0,
        "local": 0.0,
        "tamano": 3.0,
        "dia_semana": 5.0,
        "competidores": 3.4,
    },
    "probability": 0.4312,
    "baseline": 0.2391,
    "factors": [
        {
            "feature": "experiencia",
            "label": "awards in the category",
            "value": 11.0,
            "contribution": 0.1533,
            "direction": "up",
        }
    ],
    "recommendations": [
        {
            "target": 0.5,
            "precio_ratio": 0.88,
            "probability": 0.5061,
            "text": "lower your price ratio to 0.88 or below to reach 50% (now 0.92)",
        }
    ],
    "model_version": "1.0.0",
}
NEW_PROFILE: dict[str, Any] = {
    "suscriptor_id": SUBSCRIBER,
    "tipo": "semantic",
    "texto": "Renovación tecnológica: equipamiento informático y computadores portátiles",
}
PROFILE_VIEW: dict[str, Any] = {
    "id": "5b7e3c1a-2f0d-4c3e-9a51-0c7d2b8e6f14",
    "suscriptor_id": SUBSCRIBER,
    "tipo": "semantic",
    "texto": NEW_PROFILE["texto"],
    "umbral": None,
    "creado_en": "2026-11-30T12:00:00",
}
PROFILE_MADE: dict[str, Any] = PROFILE_VIEW | {"licitaciones_abiertas": 12}
PROFILES: dict[str, Any] = {"perfiles": [PROFILE_VIEW], "count": 1}
DELETED: dict[str, Any] = {"perfil_id": PROFILE, "deleted": True}
MATCHES: dict[str, Any] = {
    "texto": "Adquisición de notebooks para docentes",
    "embedder": "all-MiniLM-L6-v2",
    "umbral": 0.5,
    "suscriptores": [
        {
            "suscriptor_id": SUBSCRIBER,
            "perfil_id": "e5f6db1d-76b6-7451-80b6-5386569c8036",
            "tipo": "keyword",
            "texto": "notebook",
            "similitud": None,
            "palabras": ["notebook"],
        }
    ],
}
