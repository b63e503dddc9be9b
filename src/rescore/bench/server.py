"""Run ``rescore serve`` in a subprocess on a free port (benchmarks and end-to-end tests)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

__all__ = ["RESCORE", "clean_env", "free_port", "serving"]

RESCORE = [sys.executable, "-m", "rescore"]


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any RESCORE_* setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESCORE_")}
    return env | {"COLUMNS": "200"} | dict(extra or {})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(cwd: Path, env: Mapping[str, str], *args: str) -> Iterator[str]:
    """``rescore serve`` on a free port until the block ends; yields its base URL. Logs at
    ``warning`` unless ``env`` sets ``RESCORE_LOG_LEVEL``."""
    port = free_port()
    level = env.get("RESCORE_LOG_LEVEL", "warning")
    log_path = cwd / f"serve-{port}.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [*RESCORE, "--log-level", level, "serve", "--port", str(port), *args],
            cwd=cwd,
            env=clean_env(env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, proc, log_path)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_healthy(
    url: str,
    proc: subprocess.Popen[bytes],
    log: Path,
    *,
    path: str = "/healthz",
    what: str = "rescore serve",
    timeout: float = 60,
) -> None:
    """Wait until ``GET url+path`` answers 200; raise with the server's log if it exits or
    never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}{path}", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not become healthy:\n{log.read_text()}")
