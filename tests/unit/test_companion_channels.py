"""The companion's two channels without a second process: the relay's pipe and the shared
flag (the processes themselves: tests/e2e/test_serve_companion.py)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from rescore.reports import Cause, Observer, Outcome
from rescore.routing import Lane
from rescore.runtime.companion import RELAYED, Companion, Relay, SharedFlag
from rescore.settings import Settings
from rescore.store import Change

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


class Recorder(Observer):
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def recomputed(self, outcomes: Sequence[Outcome]) -> None:
        self.calls.append(("recomputed", tuple(outcomes)))

    def delivered(self, rule: str, kind: str, status: str) -> None:
        self.calls.append(("delivered", (rule, kind, status)))


class Broken(Observer):
    def recomputed(self, outcomes: Sequence[Outcome]) -> None:
        raise RuntimeError("broken observer")


def _outcome() -> Outcome:
    change = Change(scorer="hybrid", version="1", before=500.0, after=480.0, deltas={"pd": -20.0})
    cause = Cause(
        event_id="e1",
        type="payment_made",
        lane=Lane.NORMAL,
        seq=7,
        occurred_at=NOW,
        received_at=NOW,
        payload={"amount": 10},
    )
    return Outcome(
        tenant="default",
        pack="credit",
        entity="1001",
        lane=Lane.NORMAL,
        changes=(change,),
        causes=(cause,),
        stale=False,
        committed_at=NOW,
        values={"hybrid": 480.0},
    )


def test_relayed_hooks_are_replayed_whole_and_a_failing_observer_is_isolated(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ours, theirs = multiprocessing.Pipe()
    relay = Relay(theirs)
    recorder = Recorder()
    companion = Companion(Settings(), replay_to=[Broken(), recorder])
    relay.recomputed([_outcome()])
    relay.delivered("rule-1", "webhook", "sent")
    for _ in range(2):
        hook, args = ours.recv()
        companion._replay(hook, args)
    assert recorder.calls == [
        ("recomputed", (_outcome(),)),
        ("delivered", ("rule-1", "webhook", "sent")),
    ]
    assert "Broken.recomputed failed" in caplog.text


def test_an_unknown_hook_is_not_called() -> None:
    recorder = Recorder()
    companion = Companion(Settings(), replay_to=[recorder])
    companion._replay("writing", ())  # in-transaction hooks never cross processes
    assert recorder.calls == []
    assert "writing" not in RELAYED
    assert "ingesting" not in RELAYED


def test_relay_to_a_closed_pipe_does_not_raise() -> None:
    ours, theirs = multiprocessing.Pipe()
    ours.close()
    theirs.close()
    Relay(theirs).recomputed([_outcome()])  # the API's process is gone: nothing to tell


def test_shared_flag_waits_and_times_out() -> None:
    flag = SharedFlag()
    assert not flag.is_set()
    assert flag.wait(0.01) is False
    flag.set()
    assert flag.is_set()
    assert flag.wait(0.01) is True
    flag.clear()
    assert not flag.is_set()
