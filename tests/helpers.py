"""Test helpers shared by the end-to-end and integration suites: running the real ``rescore``
command, starting the real HTTP server, and reaching the real services."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from rescore.bench.server import RESCORE, clean_env, free_port, serving

__all__ = [
    "RESCORE",
    "clean_env",
    "free_port",
    "need_package",
    "need_service",
    "reachable",
    "run",
    "serving",
]


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``rescore ARGS`` as a user would; fail the test with its output if it fails."""
    done = subprocess.run(
        [*RESCORE, *args],
        cwd=cwd,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"rescore {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def need_service(name: str, port: int) -> None:
    """Skip when a service is down locally; under CI=true a missing service is a failure."""
    if reachable("127.0.0.1", port):
        return
    message = f"{name} is not reachable on 127.0.0.1:{port}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}, and CI=true requires it")
    pytest.skip(f"{message}; start it (see the README) to run this test")


def need_package(installed: bool, what: str, how: str) -> None:
    """Skip when an optional package is missing locally; under CI=true it is a failure
    (``make test`` installs every optional part a test exercises)."""
    if installed:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is not installed, and CI=true requires it ({how})")
    pytest.skip(f"{what} is not installed; {how} to run this test")
