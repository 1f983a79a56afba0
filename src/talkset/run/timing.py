"""Stage timing: one helper for every per-stage figure that lands in curate's summary."""
from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Iterator


class StageTimer:
    """Wall seconds per stage name, summed over calls: ``with timer("vad"): ...`` or ``timer.add("faces", s)``."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        tic = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - tic

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] += seconds

    def as_dict(self) -> dict[str, float]:
        return dict(self.seconds)
