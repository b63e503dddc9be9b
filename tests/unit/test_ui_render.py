"""The dashboard's formatting and safety helpers: numbers and times for people, chart data that
cannot close its script element, redirects that stay on the dashboard."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from rescore.ui.render import ago, chart_json, number, percent, when
from rescore.ui.session import csrf_token, safe_next


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1234567.891, "1,234,567.89"),
        (1870, "1,870"),
        (512.0, "512"),
        (0.5, "0.5"),
        (-0.001, "0"),
        (None, "–"),
        (float("nan"), "–"),
    ],
)
def test_numbers_for_people(value: float | None, shown: str) -> None:
    assert number(value) == shown


def test_percent_time_and_age() -> None:
    assert percent(0.8312) == "83.1%"
    assert when(datetime(2026, 11, 30, 6, 24, 59, tzinfo=UTC)) == "2026-11-30 06:24 UTC"
    assert when("2026-11-30T01:00:00-05:00") == "2026-11-30 06:00 UTC"
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert ago(now - timedelta(seconds=42), now) == "42 s ago"
    assert ago(now - timedelta(hours=3), now) == "3 h ago"
    assert ago(now - timedelta(days=2), now) == "2 days ago"


def test_chart_data_cannot_close_its_script_element() -> None:
    figure = {"layout": {"title": "</script><script>alert(1)</script> & more"}}
    text = str(chart_json(figure))
    assert "<" not in text
    assert ">" not in text
    assert json.loads(text) == figure


@pytest.mark.parametrize(
    ("target", "goes"),
    [
        ("/ui/queue?page=2", "/ui/queue?page=2"),
        ("https://evil.example/ui", "/ui"),
        ("//evil.example/ui", "/ui"),
        ("/v1/scores/credit/1", "/ui"),
        (None, "/ui"),
    ],
)
def test_redirects_stay_on_the_dashboard(target: str | None, goes: str) -> None:
    assert safe_next(target) == goes


def test_the_csrf_token_is_bound_to_the_key() -> None:
    assert csrf_token("rsk_a_one") == csrf_token("rsk_a_one")
    assert csrf_token("rsk_a_one") != csrf_token("rsk_a_two")
