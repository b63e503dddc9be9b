"""The tenders pack's source schema: seed 001's CompraAgil tables, with the seed's names.

- ``historico_licitaciones``: every quote line of every closed Compra Ágil request (10.6M rows
  in the seed): closing date, buying organisation and its region, the product quoted, quantity,
  total amount and unit price, the supplier (RUT, name, home region, size), whether it won.
  Its primary key is the natural key of a quote line, ``(codigo_licitacion, item,
  rut_proveedor, fecha_cierre)``: re-importing a month adds nothing, and on PostgreSQL the key
  holds the partition column, as a partitioned table's unique constraints must. The table is
  partitioned by month of ``fecha_cierre`` on PostgreSQL (``postgresql_partition_by``; the
  partitions and the dialect-specific search indexes are :mod:`.storage`'s idempotent steps).
- ``licitaciones``: current (open or recently closed) tenders; an entity of the pack is a
  tender's ``codigo``.
- ``suscriptores`` and ``perfiles_alerta``: the SaaS's subscribers and what they want to hear
  about (``semantic`` profiles match by meaning, ``keyword`` ones by words).
- ``productos_cotizados``: the catalogue of distinct product names in the history, with how
  often and until when each was quoted, kept by the importer. Similar-product search runs on
  it (tens of thousands of names) before the history is read by exact names.
- ``importaciones_historico``: one row per imported monthly file and its counts.
- ``propuestas``: proposal drafts (seed 001's ``generar_propuesta``), per subscriber, with the
  model that wrote them and the four sections as JSON.
- ``trabajos_tenders``: the pack's job queue (price analyses, scorings, proposals and exports
  asked through the bot or the API), claimed by workers with a guarded ``UPDATE`` (ADR 0017's
  pattern), with progress, attempts and the result to deliver.
- ``uso_cuotas``: units of each quota taken per subscriber, feature and period (:mod:`.tiers`).
- ``eventos_pago`` and ``pagos``: the payment provider's events seen (one row per event id, so
  a replay changes nothing) and the payments and failed renewals they recorded.

Times are naive UTC; amounts are Chilean pesos (integers), as the open-data files give them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
)

__all__ = [
    "ALERT_KINDS",
    "JOB_STATES",
    "TENDER_STATES",
    "alert_profiles",
    "history",
    "imports",
    "jobs",
    "metadata",
    "payment_events",
    "payments",
    "products",
    "proposals",
    "quota_usage",
    "subscribers",
    "tenders",
]

#: ``licitaciones.estado``: published (open), closed (no more quotes), awarded, void.
TENDER_STATES = ("publicada", "cerrada", "adjudicada", "desierta")
#: ``perfiles_alerta.tipo``.
ALERT_KINDS = ("semantic", "keyword")

metadata = MetaData()

_code = String(40)
_uuid = String(36)
_name = String(200)
_product = String(300)
_region = String(60)
_rut = String(12)
_qty = Numeric(14, 2, asdecimal=False)
_price = Numeric(16, 2, asdecimal=False)

history = Table(
    "historico_licitaciones",
    metadata,
    Column("codigo_licitacion", _code, nullable=False, comment="CodigoCotizacion"),
    Column("item", SmallInteger, nullable=False, comment="line of the request, from 1"),
    Column("rut_proveedor", _rut, nullable=False, comment="12345678-9, check digit verified"),
    Column("fecha_cierre", Date, nullable=False, comment="partition key on PostgreSQL"),
    Column("nombre_cotizacion", String(300), nullable=False),
    Column("organismo", _name, nullable=False, comment="buying organisation"),
    Column("region", _region, nullable=False, comment="the buying unit's region"),
    Column("categoria", String(120), nullable=False),
    Column("producto_cotizado", _product, nullable=False),
    Column("cantidad", _qty, nullable=False),
    Column("monto_total", BigInteger, nullable=False, comment="CLP"),
    Column("precio_unitario", _price, nullable=False, comment="monto_total / cantidad"),
    Column("nombre_proveedor", _name, nullable=False),
    Column("region_proveedor", _region, nullable=False, comment="the supplier's home region"),
    Column("tamano_proveedor", String(12), nullable=False, comment="micro|pequena|mediana|grande"),
    Column("es_ganador", Boolean, nullable=False),
    PrimaryKeyConstraint(
        "codigo_licitacion", "item", "rut_proveedor", "fecha_cierre", name="pk_historico"
    ),
    Index(
        "idx_historico_precio_lookup",
        "producto_cotizado",
        "es_ganador",
        "monto_total",
        "fecha_cierre",
    ),
    Index("idx_historico_region_fecha", "region", "fecha_cierre"),
    Index("idx_historico_producto_region_fecha", "producto_cotizado", "region", "fecha_cierre"),
    Index("idx_historico_proveedor_categoria", "rut_proveedor", "categoria", "fecha_cierre"),
    postgresql_partition_by="RANGE (fecha_cierre)",
)

products = Table(
    "productos_cotizados",
    metadata,
    Column("producto", _product, primary_key=True),
    Column("categoria", String(120), nullable=False),
    Column("cotizaciones", BigInteger, nullable=False, comment="quote lines in the history"),
    Column("ultima_fecha", Date, nullable=False, comment="latest fecha_cierre quoted"),
)

tenders = Table(
    "licitaciones",
    metadata,
    Column("codigo", _code, primary_key=True),
    Column("nombre", String(300), nullable=False),
    Column("descripcion", Text, nullable=False, default=""),
    Column("organismo", _name, nullable=False),
    Column("region", _region, nullable=False),
    Column("categoria", String(120), nullable=False),
    Column("producto", _product, nullable=False, comment="what is asked for"),
    Column("cantidad", _qty, nullable=False),
    Column("monto_estimado", BigInteger, comment="CLP, the buyer's budget; may be unknown"),
    Column("fecha_publicacion", DateTime, nullable=False),
    Column("fecha_cierre", DateTime, nullable=False),
    Column("estado", String(12), nullable=False, comment="one of TENDER_STATES"),
    Column("actualizado_en", DateTime, nullable=False),
    Index("ix_licitaciones_estado_cierre", "estado", "fecha_cierre"),
    Index("ix_licitaciones_publicacion", "fecha_publicacion"),
)

subscribers = Table(
    "suscriptores",
    metadata,
    Column("id", _uuid, primary_key=True),
    Column("nombre", _name, nullable=False),
    Column("rut", _rut, nullable=False, unique=True),
    Column("telegram_chat_id", BigInteger, unique=True),
    Column("tier", String(20), nullable=False, default="free", comment="free|emprendedor|..."),
    Column("zona_horaria", String(64), nullable=False, default="America/Santiago"),
    Column("region", _region),
    Column("descripcion_empresa", Text, nullable=False, default="", comment="what it sells"),
    Column("creado_en", DateTime, nullable=False),
    Column("vence_en", DateTime, comment="when the paid tier expires; null = never"),
)

alert_profiles = Table(
    "perfiles_alerta",
    metadata,
    Column("id", _uuid, primary_key=True),
    Column("suscriptor_id", _uuid, ForeignKey("suscriptores.id"), nullable=False),
    Column("tipo", String(10), nullable=False, comment="semantic|keyword"),
    Column("texto", Text, nullable=False),
    Column("umbral", Float, comment="similarity threshold (semantic); null = the default"),
    Column("activo", Boolean, nullable=False, default=True),
    Column("creado_en", DateTime, nullable=False),
    Index("ix_perfiles_alerta_suscriptor", "suscriptor_id", "activo"),
)

imports = Table(
    "importaciones_historico",
    metadata,
    Column("archivo", String(255), primary_key=True, comment="file name, e.g. COT_2024-12.zip"),
    Column("sha256", String(64), nullable=False),
    Column("filas_nuevas", Integer, nullable=False),
    Column("filas_duplicadas", Integer, nullable=False),
    Column("filas_rechazadas", Integer, nullable=False),
    Column("importado_en", DateTime, nullable=False),
)

proposals = Table(
    "propuestas",
    metadata,
    Column("id", _uuid, primary_key=True),
    Column("suscriptor_id", _uuid, ForeignKey("suscriptores.id"), nullable=False),
    Column("codigo_licitacion", _code, nullable=False),
    Column("creado_en", DateTime, nullable=False),
    Column("modelo", String(80), nullable=False, comment="offline, gemini:..., openai:..."),
    Column("secciones", Text, nullable=False, comment="JSON: the four sections"),
    Index("ix_propuestas_suscriptor", "suscriptor_id", "creado_en"),
)

#: ``trabajos_tenders.estado``.
JOB_STATES = ("pendiente", "en_curso", "listo", "fallido")

jobs = Table(
    "trabajos_tenders",
    metadata,
    Column("id", _uuid, primary_key=True),
    Column("tipo", String(20), nullable=False, comment="precio|scoring|propuesta|export"),
    Column("suscriptor_id", _uuid, nullable=False),
    Column("chat_id", BigInteger, comment="Telegram chat the result goes to; null: API/CLI"),
    Column("parametros", Text, nullable=False, comment="JSON"),
    Column("estado", String(12), nullable=False, comment="one of JOB_STATES"),
    Column("intentos", Integer, nullable=False, default=0),
    Column("progreso", BigInteger, nullable=False, default=0, comment="rows written"),
    Column("total", BigInteger, comment="rows to write; null: unknown yet"),
    Column("resultado", Text, comment="JSON: the text to send, the file written"),
    Column("error", Text),
    Column("reintentar_en", DateTime, nullable=False, comment="not claimed before"),
    Column("lease_hasta", DateTime, comment="a worker holds it until then"),
    Column("entregado", Boolean, nullable=False, default=False, comment="sent to the chat"),
    Column("creado_en", DateTime, nullable=False),
    Column("actualizado_en", DateTime, nullable=False),
    Index("ix_trabajos_tenders_cola", "estado", "reintentar_en"),
    Index("ix_trabajos_tenders_entrega", "entregado", "estado"),
)

# -- tiers, quotas and payments (:mod:`.tiers`, :mod:`.payments`) -----------------------------

quota_usage = Table(
    "uso_cuotas",
    metadata,
    Column("suscriptor_id", _uuid, nullable=False),
    Column("feature", String(40), nullable=False, comment="a feature of tiers.yaml"),
    Column("periodo", String(10), nullable=False, comment="YYYY-MM-DD (day) or YYYY-MM (month)"),
    Column("usados", Integer, nullable=False, default=0, comment="units taken this period"),
    PrimaryKeyConstraint("suscriptor_id", "feature", "periodo", name="pk_uso_cuotas"),
)

payment_events = Table(
    "eventos_pago",
    metadata,
    Column("id", String(255), primary_key=True, comment="the provider's event id (evt_...)"),
    Column("tipo", String(60), nullable=False, comment="e.g. invoice.paid"),
    Column("suscriptor_id", _uuid, comment="from the event's metadata; null when absent"),
    Column("resultado", String(40), nullable=False, comment="what it did: upgraded, ..."),
    Column("recibido_en", DateTime, nullable=False),
)

payments = Table(
    "pagos",
    metadata,
    Column("id", _uuid, primary_key=True),
    Column("evento_id", String(255), nullable=False, unique=True),
    Column("suscriptor_id", _uuid, ForeignKey("suscriptores.id"), nullable=False),
    Column("tier", String(20), nullable=False),
    Column("monto_clp", BigInteger, nullable=False),
    Column("estado", String(10), nullable=False, comment="pagado|fallido"),
    Column("creado_en", DateTime, nullable=False),
    Column("vence_en", DateTime, comment="the paid period's end (pagado)"),
    Index("ix_pagos_suscriptor", "suscriptor_id", "creado_en"),
)
