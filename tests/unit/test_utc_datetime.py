"""UTCDateTime on SQLite writes exactly the text SQLAlchemy's own DateTime would (so stored
rows, comparisons and ordering are unchanged), refuses naive datetimes, and reads back aware."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from rescore.db.schema import UTCDateTime

SQLITE = sa.create_engine("sqlite://").dialect
STOCK = sa.DateTime().dialect_impl(SQLITE).bind_processor(SQLITE)
OURS = UTCDateTime().dialect_impl(SQLITE).bind_processor(SQLITE)
ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))]
)
MOMENTS = st.datetimes(
    min_value=datetime(1971, 1, 2), max_value=datetime(2999, 12, 30), timezones=ZONES
)


@given(MOMENTS)
def test_the_text_is_what_sqlalchemy_would_store(moment: datetime) -> None:
    assert OURS is not None
    assert STOCK is not None
    assert OURS(moment) == STOCK(moment.astimezone(UTC).replace(tzinfo=None))


def test_none_passes_and_a_naive_datetime_is_refused() -> None:
    assert OURS is not None
    assert OURS(None) is None
    with pytest.raises(ValueError, match="naive datetime"):
        OURS(datetime(2026, 1, 23, 10, 30))


def test_a_round_trip_through_sqlite_keeps_the_moment_and_the_order() -> None:
    table = sa.Table("t", sa.MetaData(), sa.Column("at", UTCDateTime()))
    engine = sa.create_engine("sqlite://")
    table.metadata.create_all(engine)
    bogota = timezone(timedelta(hours=-5))
    moments = [
        datetime(2026, 1, 23, 10, 30, tzinfo=UTC),
        datetime(2026, 1, 23, 5, 30, 0, 1, tzinfo=bogota),  # 10:30:00.000001 UTC
        datetime(2026, 1, 23, 10, 29, 59, 999999, tzinfo=UTC),
    ]
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"at": m} for m in moments])
        read = conn.execute(sa.select(table.c.at).order_by(table.c.at)).scalars().all()
        later = conn.execute(sa.select(sa.func.count()).where(table.c.at > moments[0])).scalar()
    assert read == sorted(moments)
    assert all(m.tzinfo is UTC for m in read)
    assert later == 1
