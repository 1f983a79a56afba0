"""TalkVid's six head-detail scores, from the face mesh sampled once a second (formulas in DESIGN.md).

TalkVid measures these with InsightFace on one frame per second; we use the mediapipe mesh's five keypoints
(eyes, nose, mouth corners) and the mesh's head pose on the analysed frame nearest each whole second.
"""
from __future__ import annotations

import numpy as np


def _nearest(times: np.ndarray, t: float, tol: float) -> int | None:
    if not len(times):
        return None
    i = int(np.argmin(np.abs(times - t)))
    return i if abs(times[i] - t) <= tol else None


def _avg_min(values: list[float]) -> dict[str, float]:
    if not values:
        return {"avg": 0.0, "min": 0.0}
    return {"avg": round(float(np.mean(values)), 2), "min": round(float(np.min(values)), 2)}


def head_detail(faces: dict[str, np.ndarray], detections: dict[str, np.ndarray], work_size: tuple[int, int],
                start_s: float, end_s: float) -> dict[str, dict[str, float] | float]:
    """The six scores over [start_s, end_s], each ``{"avg", "min"}`` except face_consistency (one number).

    Args:
        faces: per-frame mesh columns (t, kps, pose, completeness).
        detections: per-sample detection columns (t, n_faces, area_ratio).
        work_size: (w, h) of the frames the mesh was measured on, in pixels.
        start_s: clip start, seconds.
        end_s: clip end, seconds.
    """
    steps = np.arange(start_s, end_s - 1e-6, 1.0)
    min_side = float(min(work_size)) if min(work_size) > 0 else 1.0
    kps, poses, completeness, resolution = [], [], [], []
    missing_one_face = 0
    meshed = np.flatnonzero(np.isfinite(faces["pose"]).all(axis=1))
    for t in steps:
        # The nearest meshed frame within a quarter second: one frame the mesh missed (a blink of the tracker
        # after a cut) must not zero a whole second's scores.
        j = _nearest(faces["t"][meshed], t, 0.25)
        i = meshed[j] if j is not None else None
        d = _nearest(detections["t"], t, 0.3)  # detection samples are at least 2 a second
        n_faces = int(detections["n_faces"][d]) if d is not None else 0
        missing_one_face += n_faces != 1
        # Uncapped, as TalkVid's formula: a face filling 12.8 % of the frame scores 383.
        resolution.append(30 * 100 * float(detections["area_ratio"][d]) if d is not None else 0.0)
        has_mesh = i is not None and np.isfinite(faces["pose"][i]).all()
        completeness.append(float(faces["completeness"][i]) if has_mesh else 0.0)
        kps.append(faces["kps"][i] if has_mesh else None)
        poses.append(faces["pose"][i] if has_mesh else None)
    # A sample without a face scores 0 on orientation, and so does each 1 s step that touches it.
    orientation = [100 - (100 / 180) * float(np.linalg.norm(p)) if p is not None else 0.0 for p in poses]
    movement, rotation = [], []
    for a, b, pa, pb in zip(kps, kps[1:], poses, poses[1:]):
        # A sample has both keypoints and a pose or neither (both come from the same meshed frame).
        if a is not None and b is not None and pa is not None and pb is not None:
            movement.append(100 - 100 * float(np.linalg.norm(b - a, axis=1).mean()) / min_side)
            rotation.append(100 - float(np.linalg.norm(pb - pa)))
        else:
            movement.append(0.0)
            rotation.append(0.0)
    if not movement and poses and poses[0] is not None:
        movement = rotation = [100.0]  # a single sample: nothing moved between samples
    return {
        "movement": _avg_min(movement),
        "orientation": _avg_min(orientation),
        "completeness": _avg_min(completeness),
        "resolution": _avg_min(resolution),
        "rotation": _avg_min(rotation),
        "face_consistency": round(max(0.0, 100.0 - 20.0 * missing_one_face), 2),
        "samples": int(len(steps)),
    }
