"""Judging: stored scores against the ``[thresholds]`` config → status and human-readable reasons.

A pure function of a record's scores, so re-thresholding a manifest needs no decoding.
"""
from __future__ import annotations

from dataclasses import replace

from talkset.dataset.records import CLIP, KEPT, REJECTED, HeadDetail, Reason, Record, Scores, Stat

# talkset 0.1's sync confidence was a peak-minus-median correlation, not a z-score: its records keep its threshold.
LEGACY_SYNC_MIN_CONFIDENCE = 0.1


def judge(scores: Scores, thresholds: dict[str, dict[str, float]]) -> list[Reason]:
    """Reasons a clip fails; an empty list means it is kept.

    Args:
        scores: the record's scores.
        thresholds: the ``[thresholds]`` config table.
    """
    reasons: list[Reason] = []

    def fail(key: str, detail: str) -> None:
        reasons.append(Reason(key, f"{key}: {detail}"))

    head, th = scores.head_detail or HeadDetail(), thresholds["head"]
    for name in HeadDetail.NAMES:
        value = head.stat(name) or Stat(0.0, 0.0)
        for stat in ("avg", "min"):
            limit, got = th[f"{name}_{stat}"], getattr(value, stat) or 0.0
            if got < limit:
                fail(f"head {name}", f"{stat} {got:.1f} < {limit:g}")
    consistency = head.face_consistency or 0.0
    if consistency < th["face_consistency"]:
        fail("head face_consistency", f"{consistency:.0f} < {th['face_consistency']:g} "
             "(samples without exactly one face)")
    opening = scores.mouth.opening_range if scores.mouth else None
    th = thresholds["mouth"]
    if opening is not None and opening < th["min_opening_range"]:
        fail("mouth", f"still (opening range {opening:.3f} < {th['min_opening_range']:g})")
    sync, th = scores.sync, thresholds["sync"]
    if sync is None or sync.offset_frames is None:
        fail("sync", "no measurement (too little face or audio)")
    elif sync.scorer is None:
        if abs(sync.offset_frames) > th["max_abs_offset_frames"]:
            fail("sync", f"offset {sync.offset_frames:+d} frames, |offset| > {th['max_abs_offset_frames']:g}")
        if (sync.confidence or 0.0) < LEGACY_SYNC_MIN_CONFIDENCE:
            fail("sync", f"confidence {sync.confidence or 0.0:.2f} < {LEGACY_SYNC_MIN_CONFIDENCE:g} (talkset 0.1 score)")
    elif sync.at_edge or (sync.confidence or 0.0) < th["min_confidence"]:
        # Where the correlation has no clear peak, its position means nothing: say so instead of an offset.
        why = "peak at the edge of the search" if sync.at_edge else (
            f"confidence {sync.confidence or 0.0:.2f} < {th['min_confidence']:g}")
        fail("sync", f"no clear peak ({why})")
    elif abs(sync.offset_frames) > th["max_abs_offset_frames"]:
        fail("sync", f"offset {sync.offset_frames:+d} frames, |offset| > {th['max_abs_offset_frames']:g}")
    quality = scores.quality.score if scores.quality else None
    if quality is None or quality < thresholds["quality"]["min_quality"]:
        shown = "none" if quality is None else f"{quality:.1f}"
        fail("quality", f"{shown} < {thresholds['quality']['min_quality']:g}")
    motion, th = scores.motion, thresholds["motion"]
    if motion and motion.track_survival is not None and motion.track_survival < th["min_track_survival"]:
        fail("motion", f"track survival {motion.track_survival:.0f}% < {th['min_track_survival']:g}%")
    if motion and motion.camera_motion is not None and motion.camera_motion > th["max_camera_motion"]:
        fail("motion", f"camera {motion.camera_motion:.1f}%/s > {th['max_camera_motion']:g}%/s")
    return reasons


def apply(record: Record, thresholds: dict[str, dict[str, float]]) -> Record:
    """A copy of a record with status and reasons from ``thresholds`` (sources unchanged)."""
    if record.type != CLIP:
        return record
    reasons = judge(record.scores, thresholds)
    return replace(record, status=REJECTED if reasons else KEPT, reasons=reasons)
