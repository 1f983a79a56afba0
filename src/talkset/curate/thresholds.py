"""Judging: stored scores against the ``[thresholds]`` config → status and human-readable reasons.

A pure function of a record's scores, so re-thresholding a manifest needs no decoding.
"""
from __future__ import annotations

from typing import Any

from talkset.dataset.manifest import CLIP, KEPT, REJECTED

HEAD_SCORES = ("movement", "orientation", "completeness", "resolution", "rotation")
# talkset 0.1's sync confidence was a peak-minus-median correlation, not a z-score: its records keep its threshold.
LEGACY_SYNC_MIN_CONFIDENCE = 0.1


def judge(scores: dict[str, Any], thresholds: dict[str, dict[str, float]]) -> list[str]:
    """Reasons a clip fails; an empty list means it is kept.

    Args:
        scores: the record's ``scores``.
        thresholds: the ``[thresholds]`` config table.
    """
    reasons: list[str] = []
    head, th = scores.get("head_detail") or {}, thresholds["head"]
    for name in HEAD_SCORES:
        value = head.get(name) or {"avg": 0.0, "min": 0.0}
        for stat in ("avg", "min"):
            limit = th[f"{name}_{stat}"]
            if value[stat] < limit:
                reasons.append(f"head {name}: {stat} {value[stat]:.1f} < {limit:g}")
    consistency = head.get("face_consistency", 0.0)
    if consistency < th["face_consistency"]:
        reasons.append(f"head face_consistency: {consistency:.0f} < {th['face_consistency']:g} "
                       "(samples without exactly one face)")
    opening = (scores.get("mouth") or {}).get("opening_range")
    th = thresholds["mouth"]
    if opening is not None and opening < th["min_opening_range"]:
        reasons.append(f"mouth: still (opening range {opening:.3f} < {th['min_opening_range']:g})")
    sync, th = scores.get("sync") or {}, thresholds["sync"]
    if sync.get("offset_frames") is None:
        reasons.append("sync: no measurement (too little face or audio)")
    elif "scorer" not in sync:
        if abs(sync["offset_frames"]) > th["max_abs_offset_frames"]:
            reasons.append(f"sync: offset {sync['offset_frames']:+d} frames, |offset| > {th['max_abs_offset_frames']:g}")
        if sync["confidence"] < LEGACY_SYNC_MIN_CONFIDENCE:
            reasons.append(f"sync: confidence {sync['confidence']:.2f} < {LEGACY_SYNC_MIN_CONFIDENCE:g} (talkset 0.1 score)")
    elif sync.get("at_edge") or sync["confidence"] < th["min_confidence"]:
        # Where the correlation has no clear peak, its position means nothing: say so instead of an offset.
        why = "peak at the edge of the search" if sync.get("at_edge") else (
            f"confidence {sync['confidence']:.2f} < {th['min_confidence']:g}")
        reasons.append(f"sync: no clear peak ({why})")
    elif abs(sync["offset_frames"]) > th["max_abs_offset_frames"]:
        reasons.append(f"sync: offset {sync['offset_frames']:+d} frames, |offset| > {th['max_abs_offset_frames']:g}")
    quality = (scores.get("quality") or {}).get("score")
    if quality is None or quality < thresholds["quality"]["min_quality"]:
        shown = "none" if quality is None else f"{quality:.1f}"
        reasons.append(f"quality: {shown} < {thresholds['quality']['min_quality']:g}")
    motion, th = scores.get("motion") or {}, thresholds["motion"]
    if motion.get("track_survival") is not None and motion["track_survival"] < th["min_track_survival"]:
        reasons.append(f"motion: track survival {motion['track_survival']:.0f}% < {th['min_track_survival']:g}%")
    if motion.get("camera_motion") is not None and motion["camera_motion"] > th["max_camera_motion"]:
        reasons.append(f"motion: camera {motion['camera_motion']:.1f}%/s > {th['max_camera_motion']:g}%/s")
    return reasons


def apply(record: dict[str, Any], thresholds: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Returns a copy of a manifest record with status and reasons from ``thresholds`` (sources unchanged)."""
    if record.get("type", CLIP) != CLIP:
        return dict(record)
    reasons = judge(record["scores"], thresholds)
    return {**record, "status": REJECTED if reasons else KEPT, "reasons": reasons}


def reason_key(record: dict[str, Any], reason: str) -> str:
    """What a summary counts a reason by: its check (``sync``, ``head movement``…), or ``unusable input``."""
    if record.get("status") == "failed":
        return "unusable input"
    return reason.split(":")[0]


def reason_keys(record: dict[str, Any]) -> list[str]:
    """The keys a summary counts a record under, each once (none for a kept record), sorted."""
    if record.get("status") == "kept":
        return []
    return sorted({reason_key(record, r) for r in record.get("reasons") or []})
