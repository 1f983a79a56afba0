"""V-Express keypoints: per frame [left eye, right eye, nose] in pixels of the frame resized to 512×512.

V-Express (tencent-ailab/V-Express, ``scripts/extract_kps_sequence_and_audio.py``) runs insightface's
detector on every frame, keeps the first three of its five points (``faces[0].kps[:3]``) and writes the list
of float32 (3, 2) arrays with ``torch.save``; ``inference.py`` reads it back with ``torch.load`` and draws it
on a 512×512 canvas, and the reference image's kps come from the image stretched to 512×512 with
``cv2.resize``. So the coordinates are those of the frame stretched (not letterboxed) to ``size``×``size``.

insightface orders its points as they appear in the image: point 0 is the eye on the image's left (the
subject's right eye), point 1 the eye on the image's right, point 2 the nose tip. Here the points come from
mediapipe's face mesh, which ships in the wheel (insightface's models are a download): the centre of each eye's
16-point contour (a pupil when looking ahead, and unlike the iris not moved by gaze) and the nose tip.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from talkset.errors import TalksetError, one_line
from talkset.vision.face import NOSE_TIP

log = logging.getLogger(__name__)

# mediapipe's FACEMESH_RIGHT_EYE / FACEMESH_LEFT_EYE contours (mediapipe/python/solutions/
# face_mesh_connections.py); "right" is the subject's right eye, on the image's left.
EYE_RING_R = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
EYE_RING_L = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
KPS_SIZE = 512


class KpsError(TalksetError):
    """Keypoints that cannot be made or read; the message is one line naming the file and why."""


def kps_from_landmarks(landmarks: np.ndarray, width: int, height: int, size: int = KPS_SIZE) -> np.ndarray:
    """V-Express keypoints of one face.

    Args:
        landmarks: (468 or 478, 2+) face-mesh points in pixels of a ``width``×``height`` frame.
        width: frame width in pixels.
        height: frame height in pixels.
        size: side of the square frame the keypoints refer to, pixels (V-Express: 512).

    Returns:
        float32 (3, 2): image-left eye, image-right eye, nose tip; x, y in pixels of the frame stretched to
        ``size``×``size``.
    """
    lm = np.asarray(landmarks, np.float64)[:, :2]
    pts = np.stack([lm[list(EYE_RING_R)].mean(axis=0), lm[list(EYE_RING_L)].mean(axis=0), lm[NOSE_TIP]])
    return (pts * (size / width, size / height)).astype(np.float32)


@dataclass
class MeshTrack:
    """The face mesh on every decoded frame of a video.

    Attributes:
        times: (n,) presentation times, seconds on the container clock.
        landmarks: (n, 478, 3) mesh points in pixels of ``frame_size`` (z in x's scale); NaN without a face.
        frame_size: (width, height) of the upright frames the mesh ran on, pixels.
        path: the video.
    """

    times: np.ndarray
    landmarks: np.ndarray
    frame_size: tuple[int, int]
    path: str

    @property
    def found(self) -> np.ndarray:
        """(n,) bool: a face was meshed on the frame."""
        return np.isfinite(self.landmarks[:, 0, 0])


def mesh_video(path: str | Path, *, max_side: int = 960, redetect_every: int = 10,
               progress: Callable[[int], None] | None = None) -> MeshTrack:
    """Runs the 478-point face mesh on every frame of a video (the largest face when there are several).

    The mesh runs per image on a crop around a full-range detection, re-detected every ``redetect_every``
    frames and whenever the face is lost, so the landmarks of a frame do not depend on the frames before it
    (the pattern of ``talkset.bench.metrics.face_landmarks``).

    Args:
        path: any video PyAV reads.
        max_side: frames are scaled down so the longer side is at most this, pixels.
        redetect_every: frames between face detections.
        progress: called with 1 after each frame (e.g. ``tqdm.update``).

    Raises:
        talkset.media.probe.ProbeError: not a readable video.
    """
    from talkset.media.frames import decode_frames
    from talkset.media.probe import probe
    from talkset.vision.face import FaceDetector, FaceMesher

    info = probe(path)
    detector, mesher = FaceDetector(), FaceMesher(tracking=False, refine=True)
    times: list[float] = []
    points: list[np.ndarray] = []
    size = (0, 0)
    missing = np.full((478, 3), np.nan, np.float32)
    since_detect = redetect_every
    try:
        for view in decode_frames(path, info.rotation_deg, max_side, 64):
            rgb = view.work_rgb
            size = (rgb.shape[1], rgb.shape[0])
            lm = mesher(rgb, None) if since_detect < redetect_every else None
            if lm is None:
                boxes = detector(rgb)
                since_detect = 0
                lm = mesher(rgb, boxes[0]) if boxes else None
                if not boxes:
                    mesher.reset()
            since_detect += 1
            if lm is None or len(lm) != 478:
                lm = missing
                since_detect = redetect_every
            times.append(view.t)
            points.append(lm)
            if progress is not None:
                progress(1)
    finally:
        detector.close()
        mesher.reset()
    return MeshTrack(np.asarray(times, float), np.asarray(points, np.float32).reshape(-1, 478, 3), size, str(path))


def fill_missing(values: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Frames without a face take the last earlier valid frame's values (the next valid one at the start).

    Args:
        values: (n, ...) per-frame values.
        found: (n,) bool, True where ``values`` is valid; at least one must be True.
    """
    idx = np.where(found, np.arange(len(found)), -1)
    idx = np.maximum.accumulate(idx)
    idx[idx < 0] = int(np.argmax(found))
    return values[idx]


def kps_from_mesh(track: MeshTrack, size: int = KPS_SIZE) -> list[np.ndarray]:
    """V-Express keypoints for every frame of a meshed video, gaps filled (``fill_missing``).

    Raises:
        KpsError: no face on any frame.
    """
    found = track.found
    if not found.any():
        raise KpsError(f"{track.path}: no face found in any of its {len(found)} frames")
    w, h = track.frame_size
    kps = np.zeros((len(found), 3, 2), np.float32)
    for i in np.flatnonzero(found):
        kps[i] = kps_from_landmarks(track.landmarks[i], w, h, size)
    if not found.all():
        log.warning("%s: no face on %d of %d frames; their keypoints repeat the nearest earlier frame's",
                    track.path, int((~found).sum()), len(found))
    return list(fill_missing(kps, found))


def video_kps(path: str | Path, size: int = KPS_SIZE, progress: Callable[[int], None] | None = None
              ) -> list[np.ndarray]:
    """V-Express keypoints of every frame of a video, as ``scripts/extract_kps_sequence_and_audio.py`` makes.

    Frames without a face repeat the nearest earlier frame's keypoints (the first face's at the start) and a
    warning says how many there were.

    Args:
        path: the video.
        size: side of the square frame the keypoints refer to, pixels.
        progress: called with 1 after each decoded frame (e.g. ``tqdm.update``).

    Returns:
        One float32 (3, 2) array per decoded frame.

    Raises:
        talkset.media.probe.ProbeError: not a readable video.
        KpsError: no face in any frame.
    """
    return kps_from_mesh(mesh_video(path, progress=progress), size)


def save_kps(kps: list[np.ndarray], path: str | Path) -> Path:
    """Writes keypoints as V-Express reads them: ``torch.save`` of a list of float32 (3, 2) arrays.

    The file is written beside the target and renamed into place, so a crash never leaves half a file.
    """
    import torch

    from talkset.files import atomic_file

    path = Path(path)
    arrays = [np.ascontiguousarray(k, dtype=np.float32).reshape(3, 2) for k in kps]
    with atomic_file(path) as f:
        torch.save(arrays, f)
    return path


def _numpy_safe_globals() -> list:
    """The numpy globals a pickled float array needs, under numpy 2's and numpy 1's module names."""
    from numpy._core.multiarray import _reconstruct

    return [(_reconstruct, "numpy._core.multiarray._reconstruct"),
            (_reconstruct, "numpy.core.multiarray._reconstruct"),
            np.ndarray, np.dtype, np.dtypes.Float32DType, np.dtypes.Float64DType]


def load_kps(path: str | Path) -> list[np.ndarray]:
    """Reads a V-Express ``kps.pth`` without unpickling arbitrary objects.

    ``torch.load(weights_only=True)`` with only numpy's array reconstruction, ``ndarray``, ``dtype`` and the
    float32/float64 dtypes allow-listed; any other global in the pickle (code, other classes) is refused.
    A saved tensor of shape (n, 3, 2) is accepted too.

    Returns:
        One float32 (3, 2) array per frame.

    Raises:
        KpsError: missing, unreadable, refused or not a keypoint list.
    """
    import pickle

    import torch

    path = Path(path)
    if not path.is_file():
        raise KpsError(f"{path}: no such file")
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            data = torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as e:
        detail = next((ln.strip() for ln in str(e).splitlines() if "GLOBAL" in ln or "build" in ln.lower()),
                      "an object that is not a numpy float array")
        raise KpsError(f"{path}: refused to unpickle ({detail})") from None
    except (RuntimeError, OSError, EOFError, ValueError) as e:
        raise KpsError(f"{path}: not a torch.save file ({one_line(e)})") from None
    if isinstance(data, torch.Tensor):
        data = list(data.numpy())
    if not isinstance(data, (list, tuple)) or not data:
        raise KpsError(f"{path}: expected a non-empty list of (3, 2) arrays, got {type(data).__name__}")
    out = []
    for i, k in enumerate(data):
        k = k.numpy() if isinstance(k, torch.Tensor) else k
        if not isinstance(k, np.ndarray) or k.shape != (3, 2):
            shape = getattr(k, "shape", type(k).__name__)
            raise KpsError(f"{path}: frame {i} is {shape}, expected a (3, 2) array")
        out.append(k.astype(np.float32))
    return out
