"""The Telegram bot end to end against a local fake Bot API server (python-telegram-bot's
``base_url`` pointed at it): users link their chat, ask for prices, scorings, proposals and
exports; the bot answers at once and the workers' results arrive later; tier limits apply;
failures are told plainly and the quota unit comes back; alerts of the ``tenders.alerta``
rule reach the subscriber through the same bot."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from fakes import FakeTelegram
from rescore.automations.dispatcher import DeliveryDispatcher
from rescore.engine import Engine
from rescore.packs.tenders import TendersPack
from rescore.packs.tenders.bot import TendersBot
from rescore.packs.tenders.schema import history, quota_usage, subscribers, tenders
from rescore.packs.tenders.settings import TendersSettings
from rescore.testing import drain, scratch_engine

pytestmark = pytest.mark.e2e
pytest.importorskip("sklearn")

AS_OF = datetime(2026, 11, 30, 12, 0)
FREE_CHAT, PYME_CHAT, NOBODY_CHAT, THRIFTY_CHAT = 1001, 2002, 3003, 4004
ACK_SECONDS = 1.0  # "at once" on a shared test machine; T5 measures the 200 ms goal


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    where = tmp_path_factory.mktemp("bot")
    pay = "https://pagos.example/checkout?ref={suscriptor}&plan={tier}"
    settings = TendersSettings(
        models_dir=where / "m", exports_dir=where / "exports", upgrade_url=pay
    )
    pack = TendersPack(as_of=lambda: AS_OF, settings=settings)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RESCORE_EMBEDDER", "hashing")
        with scratch_engine([pack], where / "t.db") as engine, FakeTelegram().serving() as fake:
            patch.setenv("RESCORE_TENDERS_TELEGRAM_TOKEN", FakeTelegram.TOKEN)
            patch.setenv("RESCORE_TENDERS_TELEGRAM_BASE_URL", fake.base_url)
            with engine.source.begin() as conn:
                pack.generate_demo_data(conn, seed=7, size=6)
                people = _tiers(conn)
            bot = TendersBot(pack, engine, token=FakeTelegram.TOKEN, base_url=fake.base_url,
                             workers=2, poll_timeout=1.0, deliver_every=0.05)  # fmt: skip
            stop = threading.Event()
            runner = threading.Thread(target=bot.run, args=(stop,), daemon=True)
            runner.start()
            assert bot.ready.wait(30), "the bot did not start polling"
            yield {"engine": engine, "fake": fake, "pack": pack, "bot": bot, **people}
            stop.set()
            runner.join(30)


def _tiers(conn: sa.Connection) -> dict[str, Any]:
    """The demo's first and third subscribers are FREE, the second PYME; none linked yet."""
    s = subscribers.c
    rows = conn.execute(sa.select(s.id, s.rut).order_by(s.id).limit(3)).all()
    conn.execute(sa.update(subscribers).values(telegram_chat_id=None))
    for (who, _), tier in zip(rows, ("free", "pyme", "free"), strict=True):
        conn.execute(sa.update(subscribers).where(s.id == who).values(tier=tier))
    h = history.c
    winner = conn.execute(
        sa.select(h.rut_proveedor, h.region_proveedor).where(h.es_ganador)
        .group_by(h.rut_proveedor, h.region_proveedor)
        .order_by(sa.func.count().desc(), h.rut_proveedor).limit(1)
    ).one()  # fmt: skip
    pyme = {"rut": winner.rut_proveedor, "region": winner.region_proveedor}
    conn.execute(sa.update(subscribers).where(s.id == rows[1].id).values(**pyme))
    return {"free": rows[0], "pyme": (rows[1].id, winner.rut_proveedor), "thrifty": rows[2]}


def _ask(fake: FakeTelegram, chat: int, text: str, expect: str) -> Any:
    """Send ``text``; the first reply to it (checked to hold ``expect``) and its latency."""
    asked = fake.say(chat, text)
    reply = fake.wait_for(chat, lambda s: s.reply_to == asked, timeout=30)
    assert expect in reply.text, reply.text
    return reply, reply.at - fake.asked_at[asked]


def _link(world: dict[str, Any], chat: int, who: str) -> None:
    _ask(world["fake"], chat, f"/start {world[who][1]}", "quedó vinculado")


def test_an_unlinked_chat_is_told_how_to_link(world: dict[str, Any]) -> None:
    _ask(world["fake"], NOBODY_CHAT, "/precio notebook", "/start <su RUT>")
    _ask(world["fake"], NOBODY_CHAT, "/start 1-2", "no es un RUT")
    _ask(world["fake"], NOBODY_CHAT, "/help", "/generar_propuesta <codigo>")


def test_precio_answers_at_once_then_the_result_arrives(world: dict[str, Any]) -> None:
    fake = world["fake"]
    _link(world, FREE_CHAT, "free")
    reply, took = _ask(fake, FREE_CHAT, "/precio notebook", "Analizando precios de «notebook»")
    assert took < ACK_SECONDS
    result = fake.wait_for(FREE_CHAT, lambda s: s.at > reply.at and "Precio para" in s.text)
    assert "Sugerido: $" in result.text
    assert "«notebook»" in result.text


def test_a_free_users_third_price_analysis_in_a_day_is_refused(world: dict[str, Any]) -> None:
    fake = world["fake"]
    _link(world, THRIFTY_CHAT, "thrifty")
    texts = [_ask(fake, THRIFTY_CHAT, "/precio guantes nitrilo", "")[0].text for _ in range(3)]
    assert ["Analizando" in t for t in texts] == [True, True, False]
    refused = texts[-1]
    assert "Ya usó 2 de 2" in refused
    assert "plan FREE" in refused
    assert "El plan EMPRENDEDOR lo permite" in refused
    assert "/upgrade" in refused


def test_a_feature_outside_the_tier_names_the_tier_that_has_it(world: dict[str, Any]) -> None:
    _link(world, FREE_CHAT, "free")
    code = _a_tender(world["engine"])
    reply, took = _ask(world["fake"], FREE_CHAT, f"/generar_propuesta {code}", "plan FREE")
    assert "El plan PYME lo permite" in reply.text
    assert took < ACK_SECONDS


def test_generar_propuesta_delivers_a_pdf(world: dict[str, Any]) -> None:
    fake = world["fake"]
    _link(world, PYME_CHAT, "pyme")
    code = _a_tender(world["engine"])
    reply, took = _ask(fake, PYME_CHAT, f"/generar_propuesta {code}", "Generando la propuesta")
    assert took < ACK_SECONDS
    document = fake.wait_for(PYME_CHAT, lambda s: s.method == "sendDocument" and s.at > reply.at)
    assert document.filename == f"propuesta_{code}.pdf"
    assert document.data.startswith(b"%PDF")
    assert "Revísala" in document.text


def test_scoring_and_an_export_arrive(world: dict[str, Any]) -> None:
    fake = world["fake"]
    _link(world, PYME_CHAT, "pyme")
    code = _a_tender(world["engine"])
    reply, _ = _ask(fake, PYME_CHAT, f"/scoring {code} 15000", "Calculando la probabilidad")
    scored = fake.wait_for(
        PYME_CHAT, lambda s: s.at > reply.at and "Probabilidad de ganar" in s.text
    )
    assert code in scored.text
    assert "%" in scored.text
    reply, _ = _ask(fake, PYME_CHAT, "/exportar busqueda guantes", "Preparando la exportación")
    sheet = fake.wait_for(PYME_CHAT, lambda s: s.method == "sendDocument" and s.at > reply.at
                          and (s.filename or "").endswith(".xlsx"))  # fmt: skip
    assert sheet.data[:2] == b"PK"
    assert "filas" in sheet.text


def test_a_failed_job_is_reported_and_its_unit_given_back(world: dict[str, Any]) -> None:
    fake = world["fake"]
    _link(world, PYME_CHAT, "pyme")
    before = _used(world["engine"], world["pyme"][0], "proposals")
    reply, _ = _ask(fake, PYME_CHAT, "/generar_propuesta NO-EXISTE-1", "Generando")
    failed = fake.wait_for(PYME_CHAT, lambda s: s.at > reply.at and "No pude completar" in s.text)
    assert "no tender 'NO-EXISTE-1'" in failed.text
    assert "No se descontó" in failed.text
    deadline = time.monotonic() + 10
    while _used(world["engine"], world["pyme"][0], "proposals") != before:
        assert time.monotonic() < deadline, "the proposals unit was not given back"
        time.sleep(0.05)


def test_an_internal_error_is_answered_plainly(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*args: Any) -> Any:
        raise ConnectionError("database unreachable")

    _link(world, PYME_CHAT, "pyme")
    monkeypatch.setattr(world["bot"].replies, "admit", down)
    _ask(world["fake"], PYME_CHAT, "/precio notebook", "error interno; intente de nuevo")


def test_upgrade_mine_and_a_semantic_alert(world: dict[str, Any]) -> None:
    fake = world["fake"]
    _link(world, FREE_CHAT, "free")
    _link(world, PYME_CHAT, "pyme")
    upgrade, _ = _ask(fake, FREE_CHAT, "/upgrade", "Su plan: FREE")
    assert f"ref={world['free'][0]}&plan=pyme" in upgrade.text
    _ask(fake, FREE_CHAT, "/alertas_ia Vendo notebooks", "no está incluido en su plan FREE")
    _ask(fake, PYME_CHAT, "/alertas_ia Vendo notebooks y computadores portátiles", "Alerta creada")
    mine, _ = _ask(fake, PYME_CHAT, "/mis_suscripciones", "Plan PYME")
    assert "computadores portátiles" in mine.text


def test_a_matching_tender_alert_reaches_the_subscriber_through_the_bot(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, engine = world["fake"], world["engine"]
    _link(world, PYME_CHAT, "pyme")
    _ask(fake, PYME_CHAT, "/alertas_ia computadores portátiles para colegios", "Alerta creada")
    with engine.source.begin() as conn:
        conn.execute(sa.insert(tenders).values(
            codigo="7777-1-COT26", nombre="Adquisición de computadores portátiles", descripcion="",
            organismo="Municipalidad de Talca", region="Región del Maule", categoria="Computación",
            producto="Computador portátil 14", cantidad=10, monto_estimado=5_000_000,
            fecha_publicacion=AS_OF, fecha_cierre=datetime(2026, 12, 7, 15), estado="publicada",
            actualizado_en=AS_OF))  # fmt: skip
    monkeypatch.setenv("RESCORE_CHANNEL_TELEGRAM", "tgbot://{to}")
    event = {"event_id": "pub-7777", "type": "tender_published", "entity": "7777-1-COT26",
             "occurred_at": "2026-11-30T12:00:00Z", "payload": {}}  # fmt: skip
    engine.ingest([event])
    drain(engine)
    dispatcher = DeliveryDispatcher(engine, worker="test")
    while dispatcher.run_once().handled:
        pass
    alert = fake.wait_for(PYME_CHAT, lambda s: "Nueva licitación 7777-1-COT26" in s.text)
    assert "computadores portátiles para colegios" in alert.text


def _a_tender(engine: Engine) -> str:
    with engine.source.read() as conn:
        code = (
            conn.execute(sa.select(tenders.c.codigo).order_by(tenders.c.codigo)).scalars().first()
        )
    assert code is not None
    return str(code)


def _used(engine: Engine, who: str, feature: str) -> int:
    q = quota_usage.c
    with engine.source.read() as conn:
        found = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(q.usados), 0)).where(
                q.suscriptor_id == who, q.feature == feature
            )
        ).scalar_one()
    return int(found)


def test_the_readme_command_runs_the_bot_from_the_environment(tmp_path: Path) -> None:
    """The README's one-line command, as written, with the fake server's token and base URL."""
    import os
    import signal
    import subprocess

    from test_readme import readme_block

    from helpers import clean_env, run

    env = {"RESCORE_DATABASE_URL": "sqlite:///b.db", "RESCORE_PACKS": "tenders",
           "RESCORE_EMBEDDER": "hashing"}  # fmt: skip
    run("init", cwd=tmp_path, env=env)
    refused = run("tenders", "bot", cwd=tmp_path, env=env, check=False)
    assert refused.returncode != 0
    assert "RESCORE_TENDERS_TELEGRAM_TOKEN" in refused.stderr + refused.stdout
    line = readme_block("telegram-bot").strip()
    assert line == "RESCORE_TENDERS_TELEGRAM_TOKEN=123456:ABC-your-token rescore tenders bot"
    with FakeTelegram().serving() as fake:
        script = line.replace("123456:ABC-your-token", FakeTelegram.TOKEN)
        path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
        full = clean_env(env | {"RESCORE_TENDERS_TELEGRAM_BASE_URL": fake.base_url, "PATH": path})
        process = subprocess.Popen(["bash", "-c", script], cwd=tmp_path, env=full,
                                   start_new_session=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        try:
            asked = fake.say(55, "/help")
            reply = fake.wait_for(55, lambda s: s.reply_to == asked, timeout=60)
            assert "/precio <producto>" in reply.text
        finally:
            os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the bot stops gracefully
            out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()
    assert FakeTelegram.TOKEN not in (out + err).decode()


def test_the_docs_proposal_and_export_commands_run_as_written(tmp_path: Path) -> None:
    import docx
    from test_readme import ROOT, readme_block, run_block, scratch

    from helpers import run

    env = {"RESCORE_DATABASE_URL": "sqlite:///d.db", "RESCORE_PACKS": "tenders",
           "RESCORE_EMBEDDER": "hashing"}  # fmt: skip
    where = scratch(tmp_path)
    run("init", "--demo-data", cwd=where, env=env)
    block = readme_block("tenders-proposals", doc=ROOT / "docs/packs/tenders.md")
    out = run_block(f"export PATH={Path(sys.executable).parent}:$PATH\n{block}", where, env=env)
    assert "for 2000-1-COT26 written by offline" in out
    assert (where / "propuesta.pdf").read_bytes().startswith(b"%PDF")
    assert docx.Document(str(where / "propuesta.docx")).paragraphs
    import re

    assert re.search(r"export listo: ([0-9,]+)/\1 rows", out), out
    assert "export pendiente: 0 rows" in out


def test_the_help_examples_of_the_subscriber_commands_work(tmp_path: Path) -> None:
    """`rescore tenders propuesta|exportar|enlace --help` examples, on the demo data."""
    from helpers import run

    env = {"RESCORE_DATABASE_URL": "sqlite:///d.db", "RESCORE_PACKS": "tenders",
           "RESCORE_EMBEDDER": "hashing", "RESCORE_TENDERS_LINK_SECRET": "s"}  # fmt: skip
    run("init", "--demo-data", cwd=tmp_path, env=env)
    for command in ("propuesta", "exportar", "enlace"):
        shown = run("tenders", command, "--help", cwd=tmp_path, env=env).stdout
        example = shown.split("Example:", 1)[1].strip().splitlines()[0].split()
        assert example[:3] == ["rescore", "tenders", command], example
        out = run(*example[1:], cwd=tmp_path, env=env).stdout
        assert out.strip(), f"{command}: printed nothing"
    assert (tmp_path / "p.pdf").read_bytes().startswith(b"%PDF")
    assert "https://t.me/CompraAgilBot?start=" in out


def test_the_bot_and_separate_worker_processes_share_the_queue(tmp_path: Path) -> None:
    """`rescore tenders bot --workers 0` answers; a `rescore tenders workers` process runs the
    analysis; the bot delivers it (the deployment with workers on other processes)."""
    import signal
    import subprocess

    import httpx

    from helpers import RESCORE, clean_env, free_port, run

    env = {"RESCORE_DATABASE_URL": "sqlite:///d.db", "RESCORE_PACKS": "tenders",
           "RESCORE_EMBEDDER": "hashing"}  # fmt: skip
    run("init", "--demo-data", cwd=tmp_path, env=env)
    chat = 100_000_003  # the demo's PROFESIONAL subscriber, linked to this chat
    port = free_port()
    with FakeTelegram().serving() as fake:
        full = clean_env(env | {"RESCORE_TENDERS_TELEGRAM_TOKEN": FakeTelegram.TOKEN,
                                "RESCORE_TENDERS_TELEGRAM_BASE_URL": fake.base_url})  # fmt: skip
        bot_env = full | {"RESCORE_METRICS_PORT": str(port)}
        runs = ((["bot", "--workers", "0"], bot_env), (["workers", "--threads", "1"], full))
        started = [
            subprocess.Popen(
                [*RESCORE, "tenders", *args],
                cwd=tmp_path,
                env=where,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for args, where in runs
        ]
        try:
            asked = fake.say(chat, "/precio guantes nitrilo")
            fake.wait_for(chat, lambda s: s.reply_to == asked and "Analizando" in s.text, 60)
            result = fake.wait_for(chat, lambda s: s.reply_to == asked and "Precio" in s.text, 60)
            assert "Sugerido: $" in result.text
            metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
            counted = 'command="precio",status="ok",tier="profesional"'
            assert f"rescore_tenders_commands_total{{{counted}}} 1.0" in metrics
        finally:
            for process in started:
                process.send_signal(signal.SIGINT)
            said = [p.communicate(timeout=60)[1].decode() for p in started]
    assert [p.returncode for p in started] == [0, 0], said
    assert not any(FakeTelegram.TOKEN in text for text in said)
