"""Motion of a clip from the KLT windows: track survival (≈ TalkVid's cotracker_ratio) and camera motion."""
from __future__ import annotations

import numpy as np


def motion_score(motion: dict[str, np.ndarray], start_s: float, end_s: float) -> dict[str, float | None]:
    """Mean over the 1 s tracking windows that lie inside [start_s, end_s] (or overlap it, for short clips).

    Args:
        motion: columns t0, t1, survival (percent), camera (percent of the diagonal per second).
        start_s: clip start, seconds.
        end_s: clip end, seconds.
    """
    t0, t1 = motion["t0"], motion["t1"]
    inside = (t0 >= start_s - 1e-6) & (t1 <= end_s + 1e-6)
    if not inside.any():
        inside = (t1 > start_s) & (t0 < end_s)
    if not inside.any():
        return {"track_survival": None, "camera_motion": None}
    return {"track_survival": round(float(np.mean(motion["survival"][inside])), 2),
            "camera_motion": round(float(np.median(motion["camera"][inside])), 3)}
