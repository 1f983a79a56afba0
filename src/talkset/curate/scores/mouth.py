"""Whether the mouth moves at all: a frozen frame, a still photo slowly zoomed or a silent listener cannot be speaking.

The measure is the spread of the inner-lip gap over the clip (90th minus 10th percentile, in inter-ocular
distances): robust to a few mesh glitches, zero for a face that never opens its mouth whatever the audio does.
"""
from __future__ import annotations

import numpy as np

MIN_FRAMES = 10


def mouth_score(mouth_t: np.ndarray, mouth: np.ndarray, start_s: float, end_s: float) -> dict[str, float | None]:
    """``{"opening_range": p90 - p10 of the inner-lip gap / inter-ocular distance}`` over [start_s, end_s).

    Args:
        mouth_t: times of the mouth measurements, seconds.
        mouth: (n, 5) ``vision.face.mouth_measures`` rows (NaN where no face was meshed).
        start_s: clip start, seconds.
        end_s: clip end, seconds.
    """
    mouth = np.asarray(mouth, float).reshape(len(mouth_t), -1)
    sel = (mouth_t >= start_s) & (mouth_t < end_s) & np.isfinite(mouth[:, 1])
    if sel.sum() < MIN_FRAMES:
        return {"opening_range": None}
    gap = mouth[sel, 1]
    return {"opening_range": round(float(np.percentile(gap, 90) - np.percentile(gap, 10)), 4)}
