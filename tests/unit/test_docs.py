"""Every setting is documented in the README, under the variable users set; every pack hook
and every name a pack may use is documented in docs/writing-a-pack.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from rescore import testing
from rescore.packs import sdk
from rescore.plugins import Pack
from rescore.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_in_the_readme(name: str) -> None:
    assert f"RESCORE_{name.upper()}" in README, f"document RESCORE_{name.upper()} in README.md"


WRITING_A_PACK = (Path(__file__).resolve().parents[2] / "docs" / "writing-a-pack.md").read_text()


def _public(names: list[str]) -> list[str]:
    return sorted(n for n in names if not n.startswith("_"))


@pytest.mark.parametrize("hook", _public([n for n in vars(Pack) if callable(getattr(Pack, n))]))
def test_every_pack_hook_is_documented(hook: str) -> None:
    assert f"`{hook}(" in WRITING_A_PACK, f"document Pack.{hook} in docs/writing-a-pack.md"


@pytest.mark.parametrize(
    "name", [f"sdk.{n}" for n in sdk.__all__] + [f"testing.{n}" for n in testing.__all__]
)
def test_every_name_a_pack_may_use_is_documented(name: str) -> None:
    assert f"`{name.split('.', 1)[1]}" in WRITING_A_PACK, f"document {name} in writing-a-pack.md"
