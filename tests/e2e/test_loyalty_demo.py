"""``rescore loyalty demo``: seed 003's shipped rules fire on a business day and a birthday
tick, and every message arrives at the local WhatsApp stand-in."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers import run

pytestmark = pytest.mark.e2e


def test_the_loyalty_demo_delivers_every_rule_to_the_local_receiver(tmp_path: Path) -> None:
    out = run("loyalty", "demo", "--customers", "2000", "--events", "120", cwd=tmp_path).stdout
    assert "customers created and scored" in out
    for rule in ("loyalty.birthday", "loyalty.points_loaded", "loyalty.missing_fields"):
        assert rule in out, out
    sent = re.search(r"deliveries: \{'sent': (\d+)\}; (\d+) arrived at the receiver", out)
    assert sent, out
    assert int(sent.group(1)) == int(sent.group(2)) > 0
    assert "to +57" in out  # the rendered recipient, from the customer's data
