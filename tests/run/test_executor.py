"""LocalExecutor: a worker killed by one item is reported as ItemCrash for that item only; one worker runs inline."""
from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from talkset.run.executor import ItemCrash, LocalExecutor

BOOM = "boom"
LATE_BOOM = "late boom"


def work(item):
    """Module level so spawned workers can unpickle it: kills its own process for BOOM, else (item, pid)."""
    if item == LATE_BOOM:
        time.sleep(0.3)
    if item in (BOOM, LATE_BOOM):
        os.kill(os.getpid(), signal.SIGKILL)
    return (item * 10, os.getpid())


@pytest.fixture(autouse=True)
def _importable_in_workers(monkeypatch):
    """Spawned workers unpickle ``work`` by importing this module under pytest's name for it (with
    --import-mode=importlib, e.g. ``tests.run.test_executor``); they inherit sys.path, so put the folder
    that name is relative to on it (a bare ``pytest`` run does not)."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[__name__.count(".")]))


def _collect(executor, items):
    return list(executor.map_unordered(work, items))


def test_killed_worker_is_an_item_crash_and_every_other_item_returns_once():
    items = [0, 1, 2, BOOM, 3, 4, 5, 6]
    got = _collect(LocalExecutor(workers=2), items)

    assert Counter(item for item, _ in got) == Counter(items), "every item must come back exactly once"
    crashed = [(item, res) for item, res in got if isinstance(res, ItemCrash)]
    assert [item for item, _ in crashed] == [BOOM]
    assert crashed[0][1].reason
    for item, res in got:
        if item == BOOM:
            continue
        value, pid = res
        assert value == item * 10
        assert pid != os.getpid(), "with two workers items run in worker processes"


def test_crash_as_first_and_last_item():
    items = [BOOM, 1, 2, 3, "x"]
    got = dict(_collect(LocalExecutor(workers=2), items))
    assert set(got) == set(items)
    assert isinstance(got[BOOM], ItemCrash)
    assert got[1][0] == 10 and got["x"][0] == "x" * 10


def test_no_crash_pool_results():
    items = list(range(7))
    got = _collect(LocalExecutor(workers=2), items)
    assert sorted(item for item, _ in got) == items
    assert all(res[0] == item * 10 for item, res in got)


def test_one_worker_runs_inline_in_order():
    calls = []
    ex = LocalExecutor(workers=1, initializer=lambda: calls.append("init"))
    got = _collect(ex, [3, 1, 2])
    assert [item for item, _ in got] == [3, 1, 2]
    assert [res[0] for _, res in got] == [30, 10, 20]
    assert all(res[1] == os.getpid() for _, res in got), "workers=1 must run in this process"
    assert calls == ["init"]


@pytest.mark.parametrize("workers", [0, -3])
def test_fewer_than_one_worker_means_one(workers):
    assert LocalExecutor(workers=workers).workers == 1


def test_worker_dies_while_the_caller_handles_a_result():
    """Deterministic form of a race the crash tests above hit now and then: a worker dies after ``wait``
    returned finished items and before the next ``submit`` (here: while the caller is busy with a result)."""
    items = [1, LATE_BOOM, 2, 3, 4, 5, 6, 7]
    got = []
    for pair in LocalExecutor(workers=2).map_unordered(work, items):
        if not got:
            time.sleep(2.0)  # the caller is slow with the first result; LATE_BOOM's worker dies meanwhile
        got.append(pair)
    assert Counter(item for item, _ in got) == Counter(items)
    assert [item for item, res in got if isinstance(res, ItemCrash)] == [LATE_BOOM]
