"""Win probability and alert profiles as a user meets them on the command line, on the demo
data: ``rescore tenders probabilidad``, ``rescore tenders alertas ...``, the alerts the demo's
tenders sent to the offline Telegram inbox, and one-line errors with a non-zero exit."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from helpers import run

pytestmark = pytest.mark.e2e

ENV = {
    "RESCORE_DATABASE_URL": "sqlite:///t.db",
    "RESCORE_PACKS": "tenders",
    "RESCORE_EMBEDDER": "hashing",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("tenders-cli")
    run("init", "--demo-data", cwd=where, env=ENV)
    return where


def _supplier(where: Path) -> tuple[str, str]:
    """A demo tender and a supplier with history in its category."""
    import sqlite3

    with sqlite3.connect(where / "t.db") as db:
        code, category = db.execute(
            "SELECT codigo, categoria FROM licitaciones ORDER BY codigo LIMIT 1"
        ).fetchone()
        (rut,) = db.execute(
            "SELECT rut_proveedor FROM historico_licitaciones WHERE categoria = ? "
            "GROUP BY rut_proveedor ORDER BY count(*) DESC, rut_proveedor LIMIT 1",
            (category,),
        ).fetchone()
    return code, rut


def test_a_quote_is_scored_explained_and_advised(demo: Path) -> None:
    code, rut = _supplier(demo)
    found = json.loads(
        run("tenders", "probabilidad", code, rut, "1", "--json", cwd=demo, env=ENV).stdout
    )
    assert 0 < found["probability"] < 1
    assert found["features"]["precio_ratio"] < 0.01  # one peso: far below any average
    text = run("tenders", "probabilidad", code, rut, "99999999", cwd=demo, env=ENV).stdout
    assert f"{code} / {rut}:" in text
    assert "to win" in text


def test_an_unknown_tender_is_one_line_and_a_non_zero_exit(demo: Path) -> None:
    bad = run(
        "tenders", "probabilidad", "0-0-COT00", "77037867-2", "5", cwd=demo, env=ENV, check=False
    )
    assert bad.returncode != 0
    assert bad.stderr.strip().splitlines() == ["error: codigo_licitacion: no tender '0-0-COT00'"]


def test_profiles_are_added_listed_probed_and_removed(demo: Path) -> None:
    listed = run("tenders", "alertas", "list", cwd=demo, env=ENV).stdout.splitlines()
    subscriber = listed[0].split()[1]
    added = run(
        "tenders",
        "alertas",
        "add",
        subscriber,
        "motosierra, desbrozadora",
        "--tipo",
        "keyword",
        cwd=demo,
        env=ENV,
    ).stdout
    made = re.fullmatch(r"added keyword profile (\S+); (\d+) open tenders to match again\n", added)
    assert made, added
    profile = made[1]
    assert int(made[2]) > 0  # the demo has open tenders; each is matched against it again
    assert (
        profile
        in run("tenders", "alertas", "list", "--suscriptor", subscriber, cwd=demo, env=ENV).stdout
    )
    probe = run("tenders", "alertas", "probar", "Compra de motosierras", cwd=demo, env=ENV).stdout
    assert subscriber in probe
    assert "motosierra" in probe
    run("tenders", "alertas", "remove", profile, cwd=demo, env=ENV)
    again = run("tenders", "alertas", "remove", profile, cwd=demo, env=ENV, check=False)
    assert again.returncode != 0
    assert "perfil_id" in again.stderr


def test_the_demo_tenders_alerted_their_subscribers_once_each(demo: Path) -> None:
    run("automations", "deliver", cwd=demo, env=ENV)
    inbox = demo / ".rescore" / "inbox" / "telegram.jsonl"
    sent = [json.loads(line) for line in inbox.read_text().splitlines()]
    assert sent, "the demo's tenders match some demo subscribers"
    pairs = [(m["title"], m["to"]) for m in sent]
    assert len(pairs) == len(set(pairs))  # each subscriber once per tender
    assert all(m["to"].startswith("1000000") for m in sent)  # the demo's Telegram chat ids
    run("automations", "deliver", cwd=demo, env=ENV)
    assert len(inbox.read_text().splitlines()) == len(sent)  # nothing sent twice
