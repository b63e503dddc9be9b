"""``rescore automations`` as a user drives it: bad rules are refused in one line naming the
field, with nothing stored; rules are listed, switched off, tested and removed; dead deliveries
are requeued."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import run

pytestmark = pytest.mark.e2e


@pytest.fixture
def where(tmp_path: Path) -> Path:
    run("init", cwd=tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("rule", "said"),
    [
        (
            "name: r\ntrigger: {kind: schedule, cron: '0 9 * * *', timezone: Bogota}\n"
            "actions: [{notify: {channel: x, body: hi}}]\n",
            "trigger.timezone: 'Bogota' is not an IANA time zone",
        ),
        (
            "name: r\ntrigger: {kind: event, type: payment_mad}\n"
            "actions: [{notify: {channel: x, body: hi}}]\n",
            "trigger.type: unknown event type 'payment_mad'",
        ),
        (
            "name: r\ntrigger: {kind: score, scorer: hybrid, crosses: {below: 500}}\n"
            "actions: [{ingest: {type: noted}}]\n",
            "actions.0.ingest.type: unknown event type 'noted'",
        ),
        ("- just text\n", "rule: a rule must be a mapping"),
    ],
)
def test_a_bad_rule_file_is_refused_in_one_line(where: Path, rule: str, said: str) -> None:
    (where / "rules.yaml").write_text(rule)
    done = run("automations", "add", "rules.yaml", cwd=where, check=False)
    assert done.returncode == 1
    assert said in done.stderr
    assert "Traceback" not in done.stderr
    listed = run("automations", "list", cwd=where).stdout
    assert " r " not in listed  # nothing was stored


def test_rules_are_listed_switched_off_tested_and_removed(where: Path) -> None:
    (where / "rules.yaml").write_text(
        "name: paid\npack: credit\ntrigger: {kind: event, type: payment_made}\n"
        "actions: [{notify: {channel: treasury, body: '{{ entity }} paid'}}]\n"
    )
    assert "added 1 rule: paid" in run("automations", "add", "rules.yaml", cwd=where).stdout
    listed = run("automations", "list", cwd=where).stdout
    assert "credit.default_alert" in listed  # shipped by the credit pack
    assert "paid" in listed
    run("automations", "disable", "credit.default_alert", cwd=where)
    assert "no  │ tenant" in run("automations", "list", cwd=where).stdout
    tested = run("automations", "test", "paid", "1001257568", cwd=where).stdout
    assert "paid would not fire for 1001257568: '1001257568' has no 'payment_made' event" in tested
    run("automations", "remove", "paid", cwd=where)
    gone = run("automations", "remove", "paid", cwd=where, check=False)
    assert gone.returncode == 1
    assert "tenant 'default' has no rule 'paid' of its own" in gone.stderr
    assert "requeued 0 dead deliveries" in run("automations", "requeue", cwd=where).stdout
