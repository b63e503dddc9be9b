"""A worker process for the kill test: the embedded runtime on the toy pack, run until killed.

Usage: python kill_worker.py DATABASE_URL LEASE_SECONDS
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conftest import ToyPack
from rescore.db.engine import Database
from rescore.engine import Engine
from rescore.plugins import PackRegistry
from rescore.runtime.embedded import EmbeddedRuntime
from rescore.settings import Settings


def main() -> None:
    url, lease = sys.argv[1], float(sys.argv[2])
    settings = Settings(
        database_url=url,
        lease_seconds=lease,
        poll_interval=0.2,
        flush_interval=0.3,
        batch_size=200,
        snapshot_interval=0,
    )
    engine = Engine(Database(url), PackRegistry([ToyPack()]), settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with EmbeddedRuntime(engine):
        print("ready", flush=True)
        stop.wait()
    engine.close()


if __name__ == "__main__":
    main()
