"""The public API is what ``rescore.__all__`` says, and every name in it resolves."""

from __future__ import annotations

import subprocess
import sys

import pytest

import rescore


def test_every_exported_name_resolves_to_its_module_object() -> None:
    for name in rescore.__all__:
        value = getattr(rescore, name)
        if name != "__version__":
            module = rescore._EXPORTS[name]
            assert value is getattr(__import__(module, fromlist=[name]), name)
            assert getattr(value, "__module__", module).startswith(module), name


def test_all_is_sorted_and_complete() -> None:
    names = [n for n in rescore.__all__ if n != "__version__"]
    assert names == sorted(names)
    assert set(names) == set(rescore._EXPORTS)
    assert dir(rescore) == sorted(rescore.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        rescore.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018


def test_importing_rescore_loads_nothing_heavy() -> None:
    code = (
        "import sys, rescore; print(sorted(m for m in sys.modules if m.startswith('sqlalchemy')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
