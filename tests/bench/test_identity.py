"""bench identity's sampling rule: a frame every interval by presentation time, whatever the frame rate."""
from __future__ import annotations

import numpy as np
import pytest

from talkset.bench.identity import EveryInterval


def picked(times, interval_s: float) -> list[float]:
    rule = EveryInterval(interval_s)
    return [t for t in times if rule.due(t)]


def test_one_frame_per_interval_at_any_frame_rate():
    for fps in (22.167, 25, 30):
        times = 3.0 + np.arange(int(2.0 * fps)) / fps  # the clock need not start at 0
        got = picked(times, 0.4)
        assert len(got) == 5  # 0, 0.4, 0.8, 1.2, 1.6 s from the first frame
        for k, t in enumerate(got):  # each the first frame at or after k * 0.4 s
            assert t - 3.0 >= k * 0.4 - 1e-6 and t - 3.0 - 1 / fps < k * 0.4


def test_a_gap_skips_the_samples_inside_it_and_zero_takes_every_frame():
    times = [0.0, 0.1, 1.3, 1.35, 1.6, 1.7]
    assert picked(times, 0.4) == [0.0, 1.3, 1.6]
    assert picked(times, 0) == times
    with pytest.raises(ValueError):
        EveryInterval(-0.1)
