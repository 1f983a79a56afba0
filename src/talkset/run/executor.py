"""Executors map a function over work items; they know nothing about video.

``LocalExecutor`` runs items in a process pool (or inline with one worker) and yields results as they
finish. An item whose worker process dies is reported as an ``ItemCrash`` result and the pool is rebuilt,
so one bad item never stops the rest.
"""
from __future__ import annotations

import multiprocessing as mp
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class ItemCrash:
    """The worker running an item died (killed, out of memory, crash in native code)."""

    reason: str


class Executor(Protocol):
    def map_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
        """Yields (item, fn(item) or ItemCrash) in completion order."""
        ...


class LocalExecutor:
    """A process pool on this machine (spawned workers: safe with mediapipe and onnxruntime threads)."""

    def __init__(self, workers: int = 1, initializer: Callable[[], None] | None = None):
        self.workers = max(1, workers)
        self.initializer = initializer

    def map_unordered(self, fn, items):
        items = list(items)
        if self.workers == 1:
            if self.initializer:
                self.initializer()
            for item in items:
                yield item, fn(item)
            return
        # When a worker dies every item in flight fails with it, so those are suspects, not culprits:
        # each suspect runs again alone, and only one that kills its lone worker too is reported.
        suspects = yield from self._run_pool(fn, items, self.workers)
        for item in suspects:
            again = yield from self._run_pool(fn, [item], 1)
            for crashed in again:
                yield crashed, ItemCrash("worker process died while processing this item (twice)")

    def _run_pool(self, fn, items, workers):
        """Yields results; returns the items that were in flight when a worker died (the suspects)."""
        pending = deque(items)
        suspects = []
        while pending:
            with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"),
                                     initializer=self.initializer) as pool:
                running: dict = {}
                broken = False
                while running or (pending and not broken):
                    while pending and not broken and len(running) < workers * 2:
                        item = pending.popleft()
                        try:
                            running[pool.submit(fn, item)] = item
                        except BrokenProcessPool:  # a worker died since the last wait
                            pending.appendleft(item)
                            broken = True
                    if not running:
                        break
                    # Once the pool is broken every future finishes at once; collect them all.
                    done, _ = wait(running, return_when=ALL_COMPLETED if broken else FIRST_COMPLETED)
                    for fut in done:
                        item = running.pop(fut)
                        try:
                            result = fut.result()
                        except BrokenProcessPool:
                            suspects.append(item)
                            broken = True
                            continue
                        yield item, result
        return suspects
