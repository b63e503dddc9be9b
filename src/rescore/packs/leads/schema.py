"""The leads pack's source schema: the SMS platform's own tables, with the seed's names.

``contacts`` (31.8M rows in the seed), ``platform_validations`` (one row per contact and
platform, upserted by the validators) and ``ladas_reference`` (LADA -> state, the seed's
geographic consistency check). None clashes with the core (``rescore_*``) or the credit pack.
Times are naive UTC, as in the seed (``datetime.utcnow()``).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

from rescore.packs.leads.algorithm import PLATFORMS

__all__ = ["contacts", "ladas_reference", "metadata", "platform_validations"]

metadata = MetaData()

contacts = Table(
    "contacts",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("phone_e164", String(16), nullable=False, unique=True, comment="+52 and 10 digits"),
    Column("full_name", String(120)),
    Column("address", String(200)),
    Column("state_name", String(40)),
    Column("municipality", String(60)),
    Column("lada", String(3), comment="area code: 2 digits (55, 33, 81) or 3"),
    Column("operator", String(20)),
    Column("created_at", DateTime, nullable=False),
    Column("last_platform_validation", DateTime),
)

_platforms = ", ".join(f"'{p}'" for p in PLATFORMS)
platform_validations = Table(
    "platform_validations",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("contact_id", BigInteger, ForeignKey("contacts.id"), nullable=False),
    Column("platform", String(10), nullable=False),
    Column("is_valid", Boolean, nullable=False),
    Column("is_business", Boolean, nullable=False, default=False),
    Column("is_premium", Boolean, nullable=False, default=False),
    Column("confidence_score", Float, nullable=False, comment="0.0-1.0"),
    Column("validation_method", String(20), nullable=False),
    Column("response_time_ms", Integer),
    Column("validated_at", DateTime, nullable=False),
    CheckConstraint(f"platform IN ({_platforms})", name="ck_platform_validations_platform"),
    CheckConstraint(
        "confidence_score >= 0 AND confidence_score <= 1", name="ck_platform_validations_conf"
    ),
    UniqueConstraint("contact_id", "platform", name="uq_platform_validations_contact_platform"),
    Index("ix_platform_validations_contact", "contact_id"),
)

ladas_reference = Table(
    "ladas_reference",
    metadata,
    Column("lada", String(3), primary_key=True),
    Column("state_name", String(40), primary_key=True),
    Column("city", String(60)),
)
