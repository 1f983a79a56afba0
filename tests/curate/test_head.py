"""TalkVid's head-detail formulas on hand-made face series, where each score is known exactly."""
import numpy as np
import pytest

from talkset.curate.scores.head import head_detail


def _series(n_s=4, step_px=0.0, pose=(0.0, 0.0, 0.0), pose_step=(0.0, 0.0, 0.0), fps=5):
    t = np.arange(0, n_s, 1 / fps)
    kps = np.tile(np.array([[10, 10], [30, 10], [20, 20], [12, 30], [28, 30]], float), (len(t), 1, 1))
    kps += (t * step_px)[:, None, None]
    poses = np.array(pose) + t[:, None] * np.array(pose_step)
    faces = {"t": t, "kps": kps, "pose": poses, "completeness": np.full(len(t), 100.0),
             "mouth": np.zeros((len(t), 3))}
    det = {"t": t, "n_faces": np.ones(len(t)), "area_ratio": np.full(len(t), 0.02)}
    return faces, det


def test_still_frontal_face_scores_full_marks():
    faces, det = _series()
    h = head_detail(faces, det, (200, 100), 0.0, 4.0)
    assert h["movement"] == {"avg": 100.0, "min": 100.0}
    assert h["orientation"] == {"avg": 100.0, "min": 100.0}
    assert h["rotation"] == {"avg": 100.0, "min": 100.0}
    assert h["completeness"]["min"] == 100.0
    assert h["resolution"]["avg"] == pytest.approx(60.0)  # 30 * 100 * 0.02
    assert h["face_consistency"] == 100.0


def test_movement_and_rotation_follow_the_formulas():
    faces, det = _series(step_px=10.0, pose=(30.0, 40.0, 0.0), pose_step=(0.0, 3.0, 4.0))
    h = head_detail(faces, det, (200, 100), 0.0, 4.0)
    # keypoints move (10, 10) px per second: |Δ| = 14.14 px over min(W, H) = 100
    assert h["movement"]["avg"] == pytest.approx(100 - 100 * np.hypot(10, 10) / 100, abs=0.01)
    assert h["rotation"]["avg"] == pytest.approx(95.0, abs=0.01)  # ‖(0, 3, 4)‖ = 5 degrees per second
    assert h["orientation"]["min"] < h["orientation"]["avg"]
    first = 100 - 100 / 180 * np.linalg.norm([30, 40, 0])
    assert h["orientation"]["avg"] < first + 1e-6


def test_samples_without_exactly_one_face_cost_20_each():
    faces, det = _series()
    det["n_faces"][det["t"] == 1.0] = 2
    det["n_faces"][det["t"] == 2.0] = 0
    h = head_detail(faces, det, (200, 100), 0.0, 4.0)
    assert h["face_consistency"] == 60.0


def test_resolution_is_uncapped_as_in_talkvids_formula():
    faces, det = _series()
    det["area_ratio"][:] = 0.1277  # a face filling 12.8 % of the frame: TalkVid's README shows 383.1
    assert head_detail(faces, det, (200, 100), 0.0, 4.0)["resolution"]["avg"] == pytest.approx(383.1)
