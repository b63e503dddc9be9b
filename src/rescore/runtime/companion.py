"""The embedded runtime in two processes: critical work beside the API, the rest in a companion.

Why: in one process, the normal lane's flushes hold the interpreter (the GIL) that a critical
rescore needs. Under 500 normal events/s, a default's score reached the lookup API in p50
25 ms / p99 75 ms with the normal lane in the API's process, and in p50 11 ms / p99 24 ms
with its flushes held back (issue 11, P1). So ``rescore serve`` (``RESCORE_SPLIT_WORKERS``,
on by default) keeps the critical lane (and, on PostgreSQL, the LISTEN loop) in the API's
process and starts a **companion** process for the normal lane, the scheduler and the
delivery dispatcher. It is still one command: the companion starts and stops with the API.

Between the two processes:

- a shared flag (:class:`SharedFlag`, a byte of shared memory) is clear while critical work
  is in hand in the API's process; the companion's normal lane yields while it is clear, as
  it does in one process (:meth:`EmbeddedRuntime._yield_to_critical`);
- a pipe carries, one way, how many entities ingest queued in the normal lane (so
  ``flush_size`` still flushes early) and a stop request; the other way, every after-commit
  hook call of the companion's engine (``recomputed``, ``failed``, ``fired``, ``delivered``,
  ...), which the API's process replays to its lookup cache (invalidation stays exact) and
  its metrics (one ``/metrics`` for both processes);
- both write the same database. On SQLite, SQLite's own lock orders the two processes
  (``BEGIN IMMEDIATE``, the busy timeout); within each, writers still take turns
  (:class:`rescore.db.engine.TurnLock`).

The companion ignores Ctrl-C (the terminal sends it to both processes; the API's process stops
it after its requests finish), stops cleanly on SIGTERM, and stops by itself when the API's
process dies (its end of the pipe closes). A companion that dies is started again after a
second; until then :attr:`Companion.alive` is false, so ``/readyz`` says so, and its claims
come back through the heartbeat like any dead worker's.

Example (what ``rescore serve`` does through :func:`rescore.api.create_app`)::

    companion = Companion(settings, replay_to=[lookup, metrics])
    runtime = EmbeddedRuntime(engine, companion=companion)
    runtime.start()   # critical lane here, the companion process beside it
    runtime.stop()    # the companion finishes its batch and hands back its claims
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from typing import Any

from rescore.reports import BulkOutcomes, Failure, IngestResult, Observer, Outcome
from rescore.settings import Settings

__all__ = ["BACKGROUND_LOOPS", "Companion", "Relay", "SharedFlag"]

log = logging.getLogger(__name__)

#: What the companion process runs.
BACKGROUND_LOOPS = frozenset({"normal", "schedule", "dispatch"})
#: Seconds before a companion that died is started again.
RESTART_DELAY = 1.0

_SPAWN = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited connections


class Relay(Observer):
    """In the companion: sends each after-commit hook call to the API's process."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()  # the normal lane, scheduler and dispatcher all send

    def _send(self, hook: str, *args: Any) -> None:
        with self._lock:
            try:
                self._conn.send((hook, args))
            except (OSError, ValueError):
                log.debug("the API's process is gone; %s not relayed", hook)

    def ingested(self, result: IngestResult) -> None:
        self._send("ingested", result)

    def recomputed(self, outcomes: Sequence[Outcome]) -> None:
        relayed = outcomes if isinstance(outcomes, BulkOutcomes) else tuple(outcomes)
        self._send("recomputed", relayed)

    def failed(self, failure: Failure) -> None:
        self._send("failed", failure)

    def requeued(self, queued: Mapping[str, int]) -> None:
        self._send("requeued", dict(queued))

    def fired(self, firings: Sequence[tuple[str, str]]) -> None:
        self._send("fired", tuple(firings))

    def delivered(self, rule: str, kind: str, status: str) -> None:
        self._send("delivered", rule, kind, status)

    def reconciled(self, report: Any) -> None:
        self._send("reconciled", report)


class SharedFlag:
    """A flag both processes see: one byte of shared memory. Not a ``multiprocessing.Event``:
    its named semaphores outlive a process killed by a signal (uvicorn re-raises SIGTERM
    after its shutdown, so ``rescore serve`` ends that way) and the resource tracker then
    warns of them. ``wait`` polls, which is all the normal lane's yield does."""

    def __init__(self) -> None:
        self._value = _SPAWN.RawValue(ctypes.c_bool, False)

    def set(self) -> None:
        self._value.value = True

    def clear(self) -> None:
        self._value.value = False

    def is_set(self) -> bool:
        return bool(self._value.value)

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            left = 0.001 if deadline is None else min(0.001, deadline - time.monotonic())
            if left <= 0:
                return False
            time.sleep(left)
        return True


#: The hooks a :class:`Relay` sends (its public methods); nothing else is replayed.
RELAYED = frozenset(name for name in vars(Relay) if not name.startswith("_"))


class Companion:
    """The companion process, seen from the API's process: start, stop, alive, and the two
    things the API's runtime tells it (normal work queued, critical work in hand)."""

    def __init__(self, settings: Settings, *, replay_to: Sequence[Observer]) -> None:
        """``replay_to``: the observers of the API's process that must hear of the
        companion's work (its lookup cache and metrics)."""
        self.settings = settings
        self.replay_to = list(replay_to)
        self.critical_idle = SharedFlag()
        self._process: SpawnProcess | None = None
        self._conn: Connection | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._reader: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def start(self) -> None:
        if self._reader is not None:
            return
        self._stopping.clear()
        self._spawn()
        self._reader = threading.Thread(
            target=self._read_loop, name="rescore-companion", daemon=True
        )
        self._reader.start()

    def _spawn(self) -> None:
        ours, theirs = _SPAWN.Pipe()
        process = _SPAWN.Process(
            target=run_companion,
            args=(self.settings, theirs, self.critical_idle),
            name="rescore-companion",
            daemon=True,  # ended at our exit; after a kill -9, the closed pipe stops it
        )
        process.start()
        theirs.close()  # the child holds its end; ours sees EOF when the child exits
        with self._lock:
            if self._conn is not None:
                self._conn.close()  # a dead companion's end, on a restart
            self._conn, self._process = ours, process
        log.info("companion process %d runs the normal lane, schedules and deliveries", process.pid)

    def note_normal(self, count: int) -> None:
        """Ingest queued ``count`` entities in the normal lane (toward ``flush_size``)."""
        self._tell(("normal", count))

    def _tell(self, message: tuple[str, int]) -> None:
        with self._lock:
            if self._conn is None:
                return
            # it may be restarting: its flush interval still runs the lane
            with contextlib.suppress(OSError, ValueError):
                self._conn.send(message)

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the companion to finish its batch and hand back its claims; wait for it."""
        if self._reader is None:
            return
        self._stopping.set()
        self._tell(("stop", 0))
        process = self._process
        if process is not None:
            process.join(timeout)
            if process.is_alive():
                log.warning(
                    "companion process %d did not stop in %ss; terminating", process.pid, timeout
                )
                process.terminate()
                process.join(5.0)
        self._reader.join(timeout)
        self._reader = None
        with self._lock:
            if self._conn is not None:
                self._conn.close()
            self._conn = None

    def _read_loop(self) -> None:
        while True:
            conn = self._conn
            try:
                assert conn is not None
                hook, args = conn.recv()
            except (EOFError, OSError, AssertionError):
                if self._stopping.is_set() or not self._restart():
                    return
                continue
            self._replay(hook, args)

    def _restart(self) -> bool:
        """The companion exited while we run: start another after a pause."""
        process = self._process
        if process is not None:
            process.join(1.0)
        code = process.exitcode if process is not None else None
        log.error(
            "the companion process exited (code %s); starting another in %ss", code, RESTART_DELAY
        )
        if self._stopping.wait(RESTART_DELAY):
            return False
        self._spawn()
        return True

    def _replay(self, hook: str, args: tuple[Any, ...]) -> None:
        if hook not in RELAYED:
            log.warning("companion sent an unknown hook %r; ignored", hook)
            return
        for observer in self.replay_to:
            try:
                getattr(observer, hook)(*args)
            except Exception:
                log.exception(
                    "%s.%s failed on the companion's report", type(observer).__name__, hook
                )


def run_companion(settings: Settings, conn: Connection, critical_idle: SharedFlag) -> None:
    """The companion process: the normal lane, the scheduler and the dispatcher, until the
    API's process says stop or goes away."""
    from rescore.bootstrap import open_engine
    from rescore.logs import configure
    from rescore.runtime.embedded import EmbeddedRuntime

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit)
    configure(fmt=settings.log_format, level=settings.log_level)
    engine = open_engine(settings, observers=[Relay(conn)], metrics=False)
    runtime = EmbeddedRuntime(engine, loops=BACKGROUND_LOOPS, critical_idle=critical_idle)
    runtime.start()
    try:
        _obey(conn, runtime)
    except SystemExit:
        pass
    finally:
        runtime.stop()
        engine.close()
        conn.close()


def _exit(_signum: int, _frame: Any) -> None:
    sys.exit(0)  # unwinds run_companion's finally: the batch in hand ends, claims go back


def _obey(conn: Connection, runtime: Any) -> None:
    while True:
        try:
            kind, count = conn.recv()
        except (EOFError, OSError):
            return  # the API's process is gone
        if kind == "stop":
            return
        if kind == "normal":
            runtime.note_normal(count)
