"""Candidates = shots ∩ speech, trimmed away from cuts, kept within [min, max] seconds, long speech split."""
from __future__ import annotations

import math

Span = tuple[float, float]


def shots_from_cuts(cut_times: list[float], start_s: float, end_s: float) -> list[Span]:
    """Shots between consecutive cuts over [start_s, end_s] (container seconds)."""
    edges = [start_s] + [t for t in sorted(cut_times) if start_s < t < end_s] + [end_s]
    return [(a, b) for a, b in zip(edges, edges[1:]) if b > a]


def join_speech(segments: list[Span], join_gap_s: float, pad_s: float) -> list[Span]:
    """Speech segments closer than ``join_gap_s`` become one utterance; each utterance padded by ``pad_s``."""
    out: list[list[float]] = []
    for a, b in sorted(segments):
        if out and a - out[-1][1] < join_gap_s:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a - pad_s, b + pad_s) for a, b in out]


def candidates(shots: list[Span], utterances: list[Span], *, min_clip_s: float, max_clip_s: float,
               boundary_trim_s: float, video_start_s: float, video_end_s: float) -> list[Span]:
    """Clip spans, in time order.

    Args:
        shots: (start, end) of each shot, seconds.
        utterances: (start, end) of each padded utterance, seconds.
        min_clip_s: shorter intersections are dropped.
        max_clip_s: longer ones are split into the fewest near-equal parts that fit.
        boundary_trim_s: removed at each side that touches a cut (not at the ends of the video).
        video_start_s: first frame time; no trim there.
        video_end_s: end of the last frame; no trim there.
    """
    spans = []
    for s0, s1 in shots:
        a0 = s0 + (boundary_trim_s if s0 > video_start_s + 1e-6 else 0.0)
        a1 = s1 - (boundary_trim_s if s1 < video_end_s - 1e-6 else 0.0)
        for u0, u1 in utterances:
            lo, hi = max(a0, u0, video_start_s), min(a1, u1, video_end_s)
            if hi - lo < min_clip_s:
                continue
            n = max(1, math.ceil((hi - lo) / max_clip_s - 1e-9))
            step = (hi - lo) / n
            spans += [(round(lo + k * step, 4), round(lo + (k + 1) * step, 4)) for k in range(n)]
    return sorted(spans)
