"""The ``rescore`` command tunes Polars' allocator before any command imports Polars
(:func:`rescore.heap.keep_freed_pages`), and leaves a setting the user made alone."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from rescore.cli import main
from rescore.heap import JEMALLOC_CONF, KEEP_FREED


def test_the_command_keeps_freed_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(JEMALLOC_CONF, "")  # so that teardown restores what was there
    monkeypatch.delenv(JEMALLOC_CONF)
    done = CliRunner().invoke(main, ["packs"])
    assert done.exit_code == 0, done.output
    assert os.environ[JEMALLOC_CONF] == KEEP_FREED


def test_a_setting_of_the_users_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(JEMALLOC_CONF, "dirty_decay_ms:0")
    assert CliRunner().invoke(main, ["packs"]).exit_code == 0
    assert os.environ[JEMALLOC_CONF] == "dirty_decay_ms:0"


def test_the_command_module_does_not_import_polars_before_main_runs() -> None:
    """Else jemalloc would have read its options before ``keep_freed_pages`` set them."""
    probe = "import sys, rescore.cli; print('polars' in sys.modules)"
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert found.stdout.strip() == "False", found.stderr
