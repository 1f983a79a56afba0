"""Run work items as Ray tasks: the same function and interface as LocalExecutor, on one machine or a cluster.

Install with ``pip install 'talkset[ray]'``. Each item is a task that declares its CPUs and memory, so Ray
places no more on a node than it can hold; results stream back as tasks finish, and at most a bounded
number of tasks is in flight, so a million items never sit in Ray's queue at once. A task whose worker
process dies is retried by Ray ``max_retries`` times; after that the item comes back as an ``ItemCrash``.
"""
from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from talkset.run.executor import ItemCrash


def _call(fn: Callable[[Any], Any], item: Any) -> Any:
    """The Ray task: any callable (a partial too, which ray.remote refuses) applied to one item."""
    return fn(item)


def _require_ray():
    try:
        import ray
    except ImportError:
        raise ImportError("the Ray executor needs Ray: pip install 'talkset[ray]'") from None
    return ray


class RayExecutor:
    """Maps a function over items as Ray tasks.

    Args:
        address: a running cluster (``auto``, ``ray://host:10001``…); None starts a local Ray instance
            for this run (no dashboard) and stops it afterwards.
        num_cpus: CPUs of the local instance (ignored with an address).
        cpus_per_task: CPUs each task declares.
        memory_per_task_mb: memory each task declares to the scheduler, in MiB (None: undeclared).
        max_retries: how often Ray reruns a task whose worker died before it is given up.
        max_in_flight: tasks submitted but not yet collected (default: four per CPU of the cluster).
    """

    def __init__(self, address: str | None = None, num_cpus: int | None = None, cpus_per_task: float = 1.0,
                 memory_per_task_mb: int | None = 2048, max_retries: int = 2, max_in_flight: int | None = None):
        _require_ray()  # fail at construction with a pip hint, not midway through a run
        self.address = address
        self.num_cpus = num_cpus
        self.cpus_per_task = cpus_per_task
        self.memory_per_task_mb = memory_per_task_mb
        self.max_retries = max_retries
        self.max_in_flight = max_in_flight

    def map_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
        """Yields (item, fn(item) or ItemCrash) in completion order."""
        ray = _require_ray()
        started_here = not ray.is_initialized()
        if started_here:
            if self.address:
                ray.init(address=self.address, logging_level=logging.WARNING, log_to_driver=False)
            else:
                ray.init(num_cpus=self.num_cpus, include_dashboard=False, logging_level=logging.WARNING,
                         log_to_driver=False)
        try:
            yield from self._run(ray, fn, items)
        finally:
            if started_here:
                ray.shutdown()

    def _run(self, ray, fn, items):
        options: dict[str, Any] = {"num_cpus": self.cpus_per_task, "max_retries": self.max_retries,
                                   "retry_exceptions": False}
        if self.memory_per_task_mb:
            options["memory"] = self.memory_per_task_mb * 1024 * 1024
        task = ray.remote(**options)(_call)
        fn_ref = ray.put(fn)  # shipped once, not with every task
        limit = self.max_in_flight or max(2, 4 * int(ray.cluster_resources().get("CPU", 1)))
        pending = deque(items)
        running: dict[Any, Any] = {}
        while pending or running:
            while pending and len(running) < limit:
                item = pending.popleft()
                running[task.remote(fn_ref, item)] = item
            done, _ = ray.wait(list(running), num_returns=1)
            for ref in done:
                item = running.pop(ref)
                try:
                    yield item, ray.get(ref)
                except ray.exceptions.RayError as e:
                    # The worker died more often than max_retries, or the task raised (fn catches its
                    # own errors, so this is a crash, a lost node or an out-of-memory kill).
                    kind = type(e).__name__
                    yield item, ItemCrash(f"Ray task failed after {self.max_retries} retries ({kind})")
