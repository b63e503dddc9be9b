"""A worker process for the kill drills: the embedded runtime on the toy pack, run until killed.

Usage: python kill_worker.py DATABASE_URL LEASE_SECONDS [--hold S] [--batch N] [--stale S]

``--hold`` makes every source read take S seconds (a slow source), so a drill can kill the
process while it certainly holds claims; ``--stale`` is ``worker_stale_after``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Connection

from conftest import ToyPack
from rescore.db.engine import Database
from rescore.engine import Engine
from rescore.plugins import PackRegistry
from rescore.runtime.embedded import EmbeddedRuntime
from rescore.settings import Settings


class SlowToyPack(ToyPack):
    """The toy pack behind a source that takes ``hold`` seconds to answer."""

    def __init__(self, hold: float) -> None:
        self.hold = hold

    def load_inputs(
        self, conn: Connection, entities: Sequence[str], parts: frozenset[str]
    ) -> dict[str, dict[str, Any]]:
        time.sleep(self.hold)
        return super().load_inputs(conn, entities, parts)


def main() -> None:
    print(f"starting {time.time()}", flush=True)  # interpreter up, imports done
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("lease", type=float)
    parser.add_argument("--hold", type=float, default=0.0)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--stale", type=float, default=10.0)
    args = parser.parse_args()
    settings = Settings(
        database_url=args.url,
        lease_seconds=args.lease,
        poll_interval=0.2,
        flush_interval=0.3,
        batch_size=args.batch,
        snapshot_cron="",
        heartbeat_interval=min(2.0, args.stale / 4),
        worker_stale_after=args.stale,
    )
    pack = SlowToyPack(args.hold) if args.hold else ToyPack()
    engine = Engine(Database(args.url), PackRegistry([pack]), settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with EmbeddedRuntime(engine) as runtime:
        print(f"ready {runtime.name}", flush=True)
        stop.wait()
    engine.close()


if __name__ == "__main__":
    main()
