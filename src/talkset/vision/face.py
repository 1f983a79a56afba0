"""Faces from the models that ship inside mediapipe 0.10.14: full-range detection, 478-point mesh, head pose.

Nothing is downloaded: the legacy ``mp.solutions`` graphs load their ``.tflite`` files from the wheel.
"""
from __future__ import annotations

import atexit
import os
import re
import sys
import threading
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

# Routine notices mediapipe's C++ code prints through absl/TFLite straight to file descriptor 2, from its
# own threads, whenever a graph first runs; no Python or environment setting reaches them.
_NATIVE_NOISE = re.compile(rb"inference_feedback_manager\.cc|Created TensorFlow Lite XNNPACK delegate|"
                           rb"All log messages before absl::InitializeLog")
_filter_installed = False
NATIVE_FILTER_ENV = "TALKSET_FILTER_NATIVE_LOG"  # "1": worker processes filter too (set by the CLI)


def filter_native_stderr() -> None:
    """Routes this process's file descriptor 2 through a thread that drops mediapipe's routine notices.

    Everything else (Python's stderr, real native errors) passes through unchanged. Also hides the one
    protobuf deprecation warning mediapipe 0.10.14 triggers on every model load. Idempotent; meant for
    the command-line program and its workers, not for library users' processes.
    """
    global _filter_installed
    if _filter_installed:
        return
    _filter_installed = True
    warnings.filterwarnings("ignore", message=r"SymbolDatabase\.GetPrototype\(\) is deprecated",
                            category=UserWarning)
    sys.stderr.flush()
    original = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        with os.fdopen(read_end, "rb", buffering=0) as src:
            for line in iter(src.readline, b""):
                if not _NATIVE_NOISE.search(line):
                    os.write(original, line)

    thread = threading.Thread(target=pump, name="talkset-stderr-filter", daemon=True)
    thread.start()

    def restore() -> None:
        sys.stderr.flush()
        os.dup2(original, 2)  # closes the pipe's last write end, so the pump drains and stops
        thread.join(timeout=1.0)

    atexit.register(restore)


# Face-mesh indices (image-left is the subject's right).
NOSE_TIP = 1
CHIN = 152
EYE_OUTER_R, EYE_INNER_R, EYE_INNER_L, EYE_OUTER_L = 33, 133, 362, 263
MOUTH_CORNER_R, MOUTH_CORNER_L = 61, 291
INNER_LIP_TOP, INNER_LIP_BOTTOM = 13, 14
INNER_LIP_R, INNER_LIP_L = 78, 308
# Upper and lower inner-lip contours, paired top/bottom, for the mouth-opening area.
INNER_LIP_UPPER = (191, 80, 81, 82, 13, 312, 311, 310, 415)
INNER_LIP_LOWER = (95, 88, 178, 87, 14, 317, 402, 318, 324)
# TalkVid's completeness parts: eyes .3, nose .4, mouth .3.
PARTS = {"eyes": ((EYE_OUTER_R, EYE_OUTER_L), 0.3), "nose": ((NOSE_TIP,), 0.4),
         "mouth": ((MOUTH_CORNER_R, MOUTH_CORNER_L), 0.3)}

FOREHEAD = 10


@dataclass(frozen=True)
class FaceBox:
    """A detected face in pixels of the image it was found in."""

    x0: float
    y0: float
    x1: float
    y1: float
    score: float

    @property
    def area(self) -> float:
        return max(0.0, self.x1 - self.x0) * max(0.0, self.y1 - self.y0)

    @property
    def center(self) -> tuple[float, float]:
        return (self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2


class FaceDetector:
    """mediapipe full-range BlazeFace: finds small and distant faces the short-range model misses."""

    def __init__(self, min_confidence: float = 0.5):
        self.min_confidence = min_confidence
        self._models: list[Any] | None = None  # mediapipe FaceDetection solutions (mediapipe is untyped)

    def __call__(self, rgb: np.ndarray) -> list[FaceBox]:
        """Faces in ``rgb`` (RGB uint8), largest first."""
        if self._models is None:
            import mediapipe as mp

            # Full range first; the short-range model is the fallback for a face filling the frame
            # (tight 224-pixel crops), which the full-range model misses.
            self._models = [mp.solutions.face_detection.FaceDetection(
                model_selection=m, min_detection_confidence=self.min_confidence) for m in (1, 0)]
        for model in self._models:
            boxes = self._detect(model, rgb)
            if boxes:
                return boxes
        return []

    @staticmethod
    def _detect(model, rgb: np.ndarray) -> list[FaceBox]:
        h, w = rgb.shape[:2]
        result = model.process(rgb)
        boxes = []
        for det in result.detections or []:
            b = det.location_data.relative_bounding_box
            boxes.append(FaceBox(b.xmin * w, b.ymin * h, (b.xmin + b.width) * w, (b.ymin + b.height) * h,
                                 float(det.score[0])))
        return sorted(boxes, key=lambda b: -b.area)

    def close(self) -> None:
        for model in self._models or []:
            model.close()
        self._models = None


class FaceMesher:
    """Face mesh (468 points; 478 with ``refine``) on a crop around a known face box.

    ``refine`` runs the attention model that also sharpens the lips (not only the irises): the inner-lip
    signal the sync scorer needs is measurably worse without it.

    Running the mesh on a crop lets the full-range detector's small faces be meshed, and tracking mode skips
    the mesh's own detector while the face stays in the crop.
    """

    def __init__(self, tracking: bool = True, crop_scale: float = 2.0, refine: bool = True):
        self.tracking = tracking
        self.refine = refine
        self.crop_scale = crop_scale
        self._model: Any | None = None  # a mediapipe FaceMesh solution (mediapipe is untyped)
        self._crop: tuple[int, int, int, int] | None = None

    def __call__(self, rgb: np.ndarray, box: FaceBox | None) -> np.ndarray | None:
        """Returns (468 or 478, 3) landmarks in pixels of ``rgb`` (z in the same scale as x), or None.

        Args:
            rgb: the frame, RGB uint8.
            box: the face to mesh; None reuses the previous crop (for frames between detections).
        """
        if self._model is None:
            import mediapipe as mp

            self._model = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=not self.tracking, max_num_faces=1, refine_landmarks=self.refine,
                min_detection_confidence=0.5, min_tracking_confidence=0.5)
        if box is not None:
            self._update_crop(box, rgb.shape[1], rgb.shape[0])
        if self._crop is None:
            return None
        x0, y0, x1, y1 = self._crop
        crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
        result = self._model.process(crop)
        if not result.multi_face_landmarks:
            return None
        w, h = x1 - x0, y1 - y0
        xyz = landmark_xyz(result.multi_face_landmarks[0])
        return (xyz * (w, h, w) + (x0, y0, 0)).astype(np.float32)

    def _update_crop(self, box: FaceBox, width: int, height: int) -> None:
        cx, cy = box.center
        side = max(box.x1 - box.x0, box.y1 - box.y0) * self.crop_scale
        new = (int(max(0, cx - side / 2)), int(max(0, cy - side / 2)),
               int(min(width, cx + side / 2)), int(min(height, cy + side / 2)))
        if self._crop is not None:
            # Keep the crop while the face stays well inside it, so tracking is not disturbed.
            ox0, oy0, ox1, oy1 = self._crop
            old_side = max(ox1 - ox0, oy1 - oy0)
            inside = ox0 <= box.x0 and oy0 <= box.y0 and box.x1 <= ox1 and box.y1 <= oy1
            if inside and 0.7 < side / max(old_side, 1) < 1.4:
                return
        self._crop = new

    def reset(self) -> None:
        self._crop = None
        if self._model is not None:
            self._model.close()
            self._model = None


# A NormalizedLandmark holding only x, y, z on the wire: field tag, length 15, then tag + float32 for each.
_LANDMARK_WIRE = 17
_LANDMARK_TAGS = ((0, 0x0A), (1, 0x0F), (2, 0x0D), (7, 0x15), (12, 0x1D))


def landmark_xyz(landmark_list) -> np.ndarray:
    """(n, 3) normalised x, y, z of a mediapipe ``NormalizedLandmarkList`` in float64.

    Read from the serialised message in one go when every landmark has exactly x, y, z (the mesh's case):
    reading 478 landmarks attribute by attribute costs half a millisecond a frame. Any other layout is read
    attribute by attribute.
    """
    points = landmark_list.landmark
    n = len(points)
    wire = np.frombuffer(landmark_list.SerializeToString(), np.uint8)
    if wire.size == n * _LANDMARK_WIRE:
        records = wire.reshape(n, _LANDMARK_WIRE)
        if all((records[:, i] == tag).all() for i, tag in _LANDMARK_TAGS):
            floats = records[:, [3, 4, 5, 6, 8, 9, 10, 11, 13, 14, 15, 16]]
            return np.ascontiguousarray(floats).view("<f4").reshape(n, 3).astype(np.float64)
    return np.array([(p.x, p.y, p.z) for p in points], np.float64).reshape(n, 3)


def head_pose(landmarks: np.ndarray) -> tuple[float, float, float]:
    """(pitch, yaw, roll) in degrees from the mesh's own 3D points.

    The face's axes are taken from the mesh (eye to eye, forehead to chin) in camera coordinates (x right,
    y down, z away from the camera); a face looking straight at the camera gives about (0, 0, 0) (checked on
    the frontal talking heads in shared/media: all within 10 degrees).

    Args:
        landmarks: (478, 3) mesh points, z in the same units as x and y.
    """
    ex = landmarks[EYE_OUTER_L] - landmarks[EYE_OUTER_R]
    ey = landmarks[CHIN] - landmarks[FOREHEAD]
    ex = ex / (np.linalg.norm(ex) + 1e-9)
    ey = ey - np.dot(ey, ex) * ex
    ey = ey / (np.linalg.norm(ey) + 1e-9)
    ez = np.cross(ex, ey)
    pitch = np.degrees(np.arctan2(ey[2], ez[2]))
    yaw = np.degrees(np.arcsin(np.clip(-ex[2], -1.0, 1.0)))
    roll = np.degrees(np.arctan2(ex[1], ex[0]))
    return float(pitch), float(yaw), float(roll)


def interocular(landmarks: np.ndarray) -> float:
    """Distance between the outer eye corners, in pixels: a face size that ignores the mouth."""
    return float(np.linalg.norm(landmarks[EYE_OUTER_L, :2] - landmarks[EYE_OUTER_R, :2]))


OUTER_LIP_TOP, OUTER_LIP_BOTTOM = 0, 17
MOUTH_MEASURES = ("inner_area", "inner_gap", "inner_width", "outer_gap", "jaw")


def mouth_measures(landmarks: np.ndarray) -> np.ndarray:
    """Five measures of mouth opening, normalised by the inter-ocular distance (``MOUTH_MEASURES``).

    Inner-lip area (divided by the distance squared), inner-lip gap and width, outer-lip gap, and the jaw
    (nose tip to chin). All are dimensionless and independent of face size; 0 area and gap mean a closed mouth.
    """
    io = interocular(landmarks)
    if io <= 0:
        return np.full(len(MOUTH_MEASURES), np.nan)
    upper = landmarks[list(INNER_LIP_UPPER), :2]
    lower = landmarks[list(INNER_LIP_LOWER), :2]
    poly = np.concatenate([upper, lower[::-1]])
    x, y = poly[:, 0], poly[:, 1]
    area = 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))
    gap = landmarks[INNER_LIP_BOTTOM, 1] - landmarks[INNER_LIP_TOP, 1]
    width = np.linalg.norm(landmarks[INNER_LIP_L, :2] - landmarks[INNER_LIP_R, :2])
    outer = np.linalg.norm(landmarks[OUTER_LIP_BOTTOM, :2] - landmarks[OUTER_LIP_TOP, :2])
    jaw = np.linalg.norm(landmarks[CHIN, :2] - landmarks[NOSE_TIP, :2])
    return np.array([area / io**2, gap / io, width / io, outer / io, jaw / io])


def mouth_shape(landmarks: np.ndarray) -> tuple[float, float, float]:
    """(inner-lip area, inner-lip gap, inner-lip width): the first three of :func:`mouth_measures`."""
    area, gap, width = mouth_measures(landmarks)[:3]
    return float(area), float(gap), float(width)
