"""Linking a chat to a subscriber: with a link secret only a signed code links (a RUT, public
in Chile, does not; a tampered code does not; a linked subscriber is not taken by another
chat); the code round-trips."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from rescore.engine import Engine
from rescore.packs.tenders import TendersPack
from rescore.packs.tenders.bot.links import link_code, subscriber_of
from rescore.packs.tenders.bot.replies import Replies
from rescore.packs.tenders.schema import subscribers
from rescore.packs.tenders.service import Service
from rescore.packs.tenders.settings import TendersSettings
from rescore.testing import scratch_engine

SECRET = "un-secreto-de-prueba"
WHO = "283b73a6-6c2e-a417-b99d-e255f3868254"


def test_a_code_round_trips_and_a_changed_one_is_refused() -> None:
    code = link_code(SECRET, WHO)
    assert len(code) <= 64
    assert code.isalnum()
    assert subscriber_of(SECRET, code) == WHO
    assert subscriber_of(SECRET, code.lower()) == WHO
    assert subscriber_of("otro-secreto", code) is None
    flipped = code[:-1] + ("A" if code[-1] != "A" else "B")
    assert subscriber_of(SECRET, flipped) is None
    assert subscriber_of(SECRET, "77015838-9") is None
    assert subscriber_of(SECRET, "") is None


@pytest.fixture
def replies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Replies, Engine]]:
    where = tmp_path_factory.mktemp("links")
    settings = TendersSettings(models_dir=where / "m", link_secret=SecretStr(SECRET))
    pack = TendersPack(as_of=lambda: datetime(2026, 11, 30, 12), settings=settings)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RESCORE_EMBEDDER", "hashing")
        with scratch_engine([pack], where / "t.db") as engine:
            with engine.source.begin() as conn:
                pack.generate_demo_data(conn, seed=7, size=2)
                conn.execute(sa.update(subscribers).values(telegram_chat_id=None))
            yield Replies(Service(pack, engine)), engine


def test_with_a_secret_only_the_code_links_a_chat(replies: tuple[Replies, Engine]) -> None:
    bot, engine = replies
    with engine.source.read() as conn:
        who, rut = conn.execute(sa.select(subscribers.c.id, subscribers.c.rut).limit(1)).one()
    assert "no es válido" in bot.start(10, [rut])
    assert bot.subscriber(10) is None
    code = link_code(SECRET, who)
    assert "quedó vinculado" in bot.start(10, [code])
    assert bot.subscriber(10)["id"] == who
    assert "ya está vinculada a otro chat" in bot.start(11, [code])
    assert bot.subscriber(11) is None
    assert "enlace de vinculación" in bot.start(12, [])


def test_refusals_and_usage_lines_speak_plainly() -> None:
    from rescore.packs.tenders.bot.replies import _params, refusal
    from rescore.packs.tenders.tiers import FeatureNotInTier, QuotaExhausted

    spent = QuotaExhausted("x", feature="proposals", tier="pyme", retry_after=20 * 86400,
                           upgrade="profesional")  # fmt: skip
    said = refusal(spent)
    assert "Ya usó 5 de 5" in said
    assert "este mes" in said
    assert "se renueva en 20 días" in said
    assert "El plan PROFESIONAL lo permite" in said
    today = QuotaExhausted("x", feature="price_analysis", tier="free", retry_after=3 * 3600 + 120,
                           upgrade="emprendedor")  # fmt: skip
    assert "hoy" in refusal(today)
    assert "3 h 2 min" in refusal(today)
    lacking = FeatureNotInTier("x", feature="win_probability", tier="free", upgrade="pyme")
    assert "no está incluido en su plan FREE" in refusal(lacking)
    assert (
        _params("precio", ["x" * 201])[1] == "El texto es demasiado largo (máximo 200 caracteres)."
    )
    assert _params("scoring", ["2000-1-COT26", "abc"])[1] == "«abc» no es un precio (ej. 15990)."
    assert _params("scoring", ["2000-1-COT26", "15.990"])[0] == {"codigo": "2000-1-COT26",
                                                                "precio": 15990.0}  # fmt: skip
    assert _params("export", ["busqueda"])[1] == "Uso: /exportar busqueda <texto>"
    assert _params("export", ["alertas", "pdf"])[0] == {"fuente": "alertas", "producto": "",
                                                        "formato": "pdf"}  # fmt: skip
