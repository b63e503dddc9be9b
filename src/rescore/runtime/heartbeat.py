"""One heartbeat per worker process: register, beat, prune the dead, hand their work back.

A process that claims pending work (the embedded runtime, a Celery worker process, the API's
``?wait=true`` path) owns one :class:`Heartbeat`. It registers the process's claimants in
``rescore_workers`` and, from a daemon thread, writes their heartbeat every
``heartbeat_interval`` seconds. Every beat also prunes workers silent for
``worker_stale_after`` seconds, so any live process gives a killed one's claims back within
seconds instead of the claim lease.

At start it takes back at once what a dead predecessor on the same host still holds: a
registration of this host whose pid no longer runs (or is this process's own pid: that process
is gone), without waiting for its heartbeat to go stale. That is what makes a restarted
``rescore serve`` rescore the work its killed predecessor had claimed within a second.

Example::

    heartbeat = Heartbeat(engine)
    worker = heartbeat.claimant("critical")   # the name to pass to engine.work
    heartbeat.start()
    ...
    heartbeat.stop()                          # after releasing the claims
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from pathlib import Path

from rescore.engine import Engine
from rescore.exceptions import STORAGE_RETRYABLE, RescoreError
from rescore.workers import Registration

__all__ = ["Heartbeat", "process_name"]

log = logging.getLogger(__name__)

#: Heartbeats running in this interpreter: a registration with this pid but another process
#: name is a dead predecessor unless it is one of these (tests run several in one process).
_RUNNING: set[str] = set()


def process_name(kind: str = "") -> str:
    """A name unique to this process: host, pid and a random part (a restarted process with
    the same pid stays apart from the dead one); short enough for ``claimed_by`` with a lane."""
    host = socket.gethostname()[:24]
    prefix = f"{kind}-" if kind else ""
    return f"{prefix}{host}-{os.getpid()}-{secrets.token_hex(2)}"


def pid_alive(pid: int) -> bool:
    """True when ``pid`` runs on this host (a zombie, killed but not yet reaped, is dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc here: trust kill(0)
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


class Heartbeat:
    """Registers this process's claimants and keeps them alive; prunes stalled workers."""

    def __init__(self, engine: Engine, *, process: str | None = None) -> None:
        self.engine = engine
        self.process = process or process_name()
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.interval = engine.settings.heartbeat_interval
        self.stale_after = engine.settings.worker_stale_after
        self._names: set[str] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_beat: float | None = None  # time.monotonic() of the last good beat
        self.taken_back = 0  # claims of dead or stalled workers this process gave back

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def claimant(self, label: str) -> str:
        """The worker name for ``label`` (a lane, a thread), registered if we are running."""
        name = f"{self.process}-{label}"
        with self._lock:
            new = name not in self._names
            self._names.add(name)
        if new and self.running:
            self._register([name])
        return name

    def start(self) -> None:
        """Register, take back dead predecessors' claims, then beat from a daemon thread."""
        if self.running:
            return
        self._stopping.clear()
        try:
            self._register(sorted(self._names))
            self.take_back()
            self.last_beat = time.monotonic()
        except STORAGE_RETRYABLE as exc:
            log.warning("heartbeat: %s; registering on the next beat", exc)
        _RUNNING.add(self.process)
        self._thread = threading.Thread(target=self._loop, name="rescore-heartbeat", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop beating and unregister (call after the claims were released)."""
        self._stopping.set()
        _RUNNING.discard(self.process)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        try:
            self.engine.unregister_workers(self.process)
        except RescoreError as exc:
            log.warning("could not unregister %s (%s); it is pruned once stale", self.process, exc)

    def take_back(self) -> int:
        """Give back the claims of dead processes of this host and of stalled workers."""
        dead = [
            r.process for r in self.engine.worker_registrations(host=self.host) if self._dead(r)
        ]
        pruned = self.engine.prune_workers(stalled_after=self.stale_after, processes=dead)
        self.taken_back += pruned.claims
        return pruned.claims

    def _dead(self, other: Registration) -> bool:
        if other.process == self.process or other.process in _RUNNING:
            return False
        return other.pid == self.pid or not pid_alive(other.pid)

    def beat(self) -> None:
        """One heartbeat and one pruning round (the thread calls this every interval)."""
        with self._lock:
            names = sorted(self._names)
        if self.engine.heartbeat(self.process) < len(names):
            # pruned while stalled (its claims went back): register again, keep what we hold
            self._register(names, fresh=False)
        pruned = self.engine.prune_workers(stalled_after=self.stale_after)
        self.taken_back += pruned.claims

    def _register(self, names: list[str], *, fresh: bool = True) -> None:
        released = self.engine.register_workers(
            process=self.process, host=self.host, pid=self.pid, names=names, fresh=fresh
        )
        self.taken_back += released.claims

    def _loop(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                self.beat()
                self.last_beat = time.monotonic()
            except RescoreError as exc:
                log.warning("heartbeat of %s failed: %s; retrying", self.process, exc)
            except Exception:
                log.exception("heartbeat of %s failed; retrying", self.process)
