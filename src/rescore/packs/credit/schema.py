"""The credit pack's source schema: the lender's own tables, read by the loader.

These tables belong to the business system (PLATAM's MySQL in the seed), not to rescore: the
core's tables all start with ``rescore_``. ``rescore init`` can create them for a demo.

``credit_outcomes`` holds the labels the probability-of-default model learns from: whether a
client defaulted within ``horizon_months`` after ``observed_from``, known on ``labelled_at``.

Amounts are whole Colombian pesos (``BigInteger``), so no driver ever sees a ``Decimal``.
Every table that belongs to a client carries the ``cedula`` and an index on it, because the
loader reads many clients at once with ``cedula IN (...)``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)

__all__ = [
    "CLIENT_STATUSES",
    "LOAN_STATUSES",
    "PAYMENT_STATUSES",
    "PLAN_STATUSES",
    "clients",
    "loans",
    "metadata",
    "outcomes",
    "payment_plans",
    "payments",
]

CLIENT_STATUSES = ("active", "blocked", "defaulted")
LOAN_STATUSES = ("active", "paid", "defaulted")
PAYMENT_STATUSES = ("pending", "paid", "late", "defaulted")
PLAN_STATUSES = ("active", "pending", "defaulted", "cancelled", "completed")

metadata = MetaData()

clients = Table(
    "clients",
    metadata,
    Column("cedula", String(10), primary_key=True, comment="Colombian national id, 8-10 digits"),
    Column("full_name", String(120), nullable=False),
    Column("client_since", Date, nullable=False, comment="months_as_client is derived from it"),
    Column("bureau_score", Integer, nullable=True, comment="Experian/HCPN score, 150-950"),
    Column("credit_limit", BigInteger, nullable=False, comment="COP"),
    Column("status", String(16), nullable=False, default="active"),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

loans = Table(
    "loans",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cedula", String(10), ForeignKey("clients.cedula"), nullable=False),
    Column("amount", BigInteger, nullable=False, comment="COP"),
    Column("opened_at", Date, nullable=False),
    Column("term_months", Integer, nullable=False),
    Column("status", String(16), nullable=False, default="active"),
    Column("closed_at", Date, nullable=True, comment="when it was paid off or defaulted"),
    Index("ix_loans_cedula", "cedula"),
)

payments = Table(
    "payments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("loan_id", Integer, ForeignKey("loans.id"), nullable=False),
    Column("cedula", String(10), ForeignKey("clients.cedula"), nullable=False),
    Column("due_date", Date, nullable=False),
    Column("paid_date", Date, nullable=True),
    Column("amount", BigInteger, nullable=False, comment="COP"),
    Column("status", String(16), nullable=False, default="pending"),
    Index("ix_payments_cedula", "cedula"),
    Index("ix_payments_loan_id", "loan_id"),
    Index("ix_payments_status_due", "status", "due_date"),
)

payment_plans = Table(
    "payment_plans",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cedula", String(10), ForeignKey("clients.cedula"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("amount", BigInteger, nullable=False, comment="COP"),
    Column("created_at", Date, nullable=False),
    Column("ended_at", Date, nullable=True),
    Index("ix_payment_plans_cedula", "cedula"),
)

outcomes = Table(
    "credit_outcomes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cedula", String(10), ForeignKey("clients.cedula"), nullable=False),
    Column("observed_from", Date, nullable=False, comment="the snapshot the label describes"),
    Column("horizon_months", Integer, nullable=False, comment="how long the client was watched"),
    Column("defaulted", Boolean, nullable=False, comment="defaulted within the horizon"),
    Column("labelled_at", Date, nullable=False, comment="when the outcome became known"),
    Index("ix_credit_outcomes_cedula", "cedula"),
    Index("ix_credit_outcomes_labelled_at", "labelled_at"),
)
