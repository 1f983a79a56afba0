"""Body (33 points) and hand (2 × 21 points) keypoints from mediapipe's legacy solutions, and shot types.

Both models ship inside the mediapipe 0.10.14 wheel (pose at model complexity 1 only: 0 and 2 download).
They run in tracking mode, so one instance follows one clip; ``reset`` before the next clip.
"""
from __future__ import annotations

from typing import Any

import numpy as np

# mediapipe pose landmark indices
SHOULDERS, ELBOWS, WRISTS, HIPS, KNEES, ANKLES = (11, 12), (13, 14), (15, 16), (23, 24), (25, 26), (27, 28)
SHOT_TYPES = ("close-up", "half-body", "full-body")


class BodyPoser:
    """mediapipe Pose: (33, 4) points per frame — x, y in pixels of the frame, z (pixels, as x), visibility."""

    def __init__(self, min_confidence: float = 0.5):
        self.min_confidence = min_confidence
        self._model: Any | None = None  # a mediapipe solution (mediapipe is untyped)

    def __call__(self, rgb: np.ndarray) -> np.ndarray | None:
        if self._model is None:
            import mediapipe as mp

            self._model = mp.solutions.pose.Pose(
                static_image_mode=False, model_complexity=1, enable_segmentation=False,
                min_detection_confidence=self.min_confidence, min_tracking_confidence=self.min_confidence)
        h, w = rgb.shape[:2]
        result = self._model.process(rgb)
        if not result.pose_landmarks:
            return None
        return np.array([(p.x * w, p.y * h, p.z * w, p.visibility) for p in result.pose_landmarks.landmark],
                        dtype=np.float32)

    def reset(self) -> None:
        if self._model is not None:
            self._model.close()
            self._model = None


class HandPoser:
    """mediapipe Hands: ((2, 21, 3) points, (2,) scores); slot 0 is the person's left hand, 1 the right."""

    def __init__(self, min_confidence: float = 0.5):
        self.min_confidence = min_confidence
        self._model: Any | None = None  # a mediapipe solution (mediapipe is untyped)

    def __call__(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._model is None:
            import mediapipe as mp

            self._model = mp.solutions.hands.Hands(
                static_image_mode=False, max_num_hands=2, model_complexity=1,
                min_detection_confidence=self.min_confidence, min_tracking_confidence=self.min_confidence)
        h, w = rgb.shape[:2]
        points = np.full((2, 21, 3), np.nan, np.float32)
        scores = np.zeros(2, np.float32)
        result = self._model.process(rgb)
        for lms, handed in zip(result.multi_hand_landmarks or [], result.multi_handedness or []):
            label = handed.classification[0]
            # mediapipe labels handedness as seen in a mirrored (selfie) image: its "Left" is the person's right.
            slot = 1 if label.label == "Left" else 0
            if label.score <= scores[slot]:
                continue
            scores[slot] = label.score
            points[slot] = [(p.x * w, p.y * h, p.z * w) for p in lms.landmark]
        return points, scores

    def reset(self) -> None:
        if self._model is not None:
            self._model.close()
            self._model = None


def _visible(body: np.ndarray, idx: tuple[int, ...], width: int, height: int, min_visibility: float) -> bool:
    """All points ``idx`` visible and inside the frame."""
    p = body[list(idx)]
    inside = (p[:, 0] >= 0) & (p[:, 0] < width) & (p[:, 1] >= 0) & (p[:, 1] < height)
    return bool(np.all((p[:, 3] >= min_visibility) & inside))


def frame_shot_type(body: np.ndarray | None, width: int, height: int, min_visibility: float = 0.5) -> str | None:
    """TalkCuts' shot types from which body parts are in view: knees → full-body; hips → half-body (waist
    up); otherwise close-up (head and shoulders). None when no body was found.

    Args:
        body: (33, 4) pose points in pixels with visibility, or None.
        width, height: frame size in pixels.
    """
    if body is None or not np.all(np.isfinite(body[:, :2])):
        return None
    if _visible(body, KNEES, width, height, min_visibility):
        return "full-body"
    if any(_visible(body, (i,), width, height, min_visibility) for i in HIPS):
        return "half-body"
    return "close-up"


def clip_shot_type(per_frame: list[str | None], face_found: int) -> str | None:
    """The most common frame shot type (ties go to the tighter shot); a clip with faces but no body found is a
    close-up (a frame-filling face leaves the pose model nothing to find)."""
    counts = {s: per_frame.count(s) for s in SHOT_TYPES}
    if not any(counts.values()):
        return "close-up" if face_found else None
    return max(SHOT_TYPES, key=lambda s: (counts[s], -SHOT_TYPES.index(s)))
