"""Every setting is documented in the README, under the variable users set."""

from __future__ import annotations

from pathlib import Path

import pytest

from rescore.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_in_the_readme(name: str) -> None:
    assert f"RESCORE_{name.upper()}" in README, f"document RESCORE_{name.upper()} in README.md"
