"""The examples the leads pack's routes document, on the demo data (seed 7)."""

from __future__ import annotations

from typing import Any

#: The seed's dashboard payload on the demo data (lists cut to their first items).
ANALYTICS: dict[str, Any] = {
    "totalContacts": 2000,
    "scoreDistribution": [722, 686],
    "scoreBands": ["0-20", "21-40"],
    "platformSuccessRates": [84.21, 73.58],
    "platforms": ["whatsapp", "instagram"],
    "premiumLeadsCount": 0,
    "averageScore": 27.03,
    "validatedContactsCount": 1524,
    "multiPlatformCount": 1327,
    "tierCounts": {
        "PREMIUM": 0,
        "HIGH": 14,
        "MEDIUM": 305,
        "LOW": 806,
        "POOR": 399,
        "UNKNOWN": 476,
    },
}
