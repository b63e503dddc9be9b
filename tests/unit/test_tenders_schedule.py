"""The monthly schedule imports the inbox's new files, once, and its cron comes from settings."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa

from rescore.packs.tenders import TendersPack
from rescore.packs.tenders.demodata import write_history
from rescore.packs.tenders.importer import ImportReport
from rescore.packs.tenders.schema import history, imports
from rescore.packs.tenders.settings import TendersSettings
from rescore.testing import scratch_engine


def test_the_schedule_imports_new_inbox_files_once(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    write_history(inbox, seed=2, last_month=date(2024, 12, 1), months=2, rows_per_month=300)
    settings = TendersSettings(inbox=inbox, import_cron="0 6 2 * *")
    pack = TendersPack(settings=settings)
    (job,) = [s for s in pack.register_schedules() if s.name == "tenders.import-inbox"]
    assert (job.name, job.cron, job.timezone) == (
        "tenders.import-inbox",
        "0 6 2 * *",
        "America/Santiago",
    )
    with scratch_engine([pack], tmp_path / "t.db") as engine:
        due = datetime(2025, 1, 2, 9, 0, tzinfo=UTC)
        first = job.run(engine, due)
        again = job.run(engine, due)
        write_history(inbox, seed=2, last_month=date(2025, 1, 1), months=1, rows_per_month=300)
        later = job.run(engine, due)
        with engine.source.read() as conn:
            rows = conn.execute(sa.select(sa.func.count()).select_from(history)).scalar_one()
            stamps = set(conn.execute(sa.select(imports.c.importado_en)).scalars())
    assert [r.file for r in first] == ["COT_2024-11.zip", "COT_2024-12.zip"]  # type: ignore[attr-defined]
    assert again == []
    assert [r.file for r in later] == ["COT_2025-01.zip"]  # type: ignore[attr-defined]
    assert rows == sum(r.new for r in first + later if isinstance(r, ImportReport))  # type: ignore[operator]
    assert stamps == {datetime(2025, 1, 2, 9, 0)}
