"""Per-clip metrics of a generated talking-head video against its reference (and a few without one).

Conventions shared by every function here:

* Frames are paired by presentation time, never by index: each stream's clock starts at its own first frame,
  and each prediction frame takes the reference frame nearest in time. Different frame rates, variable frame
  rates, dropped frames and different lengths are handled by that one rule (``aligned_frames``).
* Comparisons happen at the reference's resolution (the prediction is resized to it); pixel values are
  0–255.
* Everything streams: at most a couple of decoded frames per file are held at once.
* Frame metrics are consumers (``process_frame(view)`` per frame, ``finish()`` for the result) that never
  open a file, so ``bench eval`` runs them all over one decode per video (``bench.clip_pass``); the
  functions that take paths run the same consumers over a decode of their own.
* Face measures use the mediapipe models that ship in the wheel (``talkset.vision.face``); nothing is
  downloaded, so every metric here is weight-free in the sense of needing no extra checkpoint.
"""
from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from talkset.media.frames import FrameView, decode_frames, scaled_size
from talkset.media.probe import probe
from talkset.vision.face import (
    EYE_INNER_L,
    EYE_INNER_R,
    EYE_OUTER_L,
    EYE_OUTER_R,
    INNER_LIP_BOTTOM,
    INNER_LIP_TOP,
    NOSE_TIP,
    FaceBox,
    FaceDetector,
    FaceMesher,
    interocular,
)

# Full resolution: decode_frames scales the work frame down only when a side exceeds this.
FULL_RES = 1 << 16
_EPS_T = 1e-6  # seconds; timestamp rounding slack

# SSIM constants of Wang, Bovik, Sheikh & Simoncelli, "Image quality assessment: from error visibility to
# structural similarity", IEEE TIP 13(4), 2004: 11×11 Gaussian window, σ = 1.5, K1 = 0.01, K2 = 0.03, L = 255.
_SSIM_WIN, _SSIM_SIGMA = 11, 1.5
_C1, _C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
PSNR_CAP_DB = 100.0

# Lip landmarks: the 40 points of mediapipe's FACEMESH_LIPS (mediapipe/python/solutions/
# face_mesh_connections.py), each contour in drawing order from the right mouth corner (image-left).
LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
LIPS_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191)
LIPS = LIPS_OUTER + LIPS_INNER
LANDMARK_SET = "mediapipe_facemesh_lips_40 (20 outer + 20 inner contour points)"
MESH_POINTS = 468  # the face mesh proper; the 10 iris points of the refined model follow gaze, not the face
_BOX_SIDE, _BOX_DROP = 0.98, 0.02  # FaceMesh.box: BlazeFace's side and centre in mesh heights (see there)

# Output of face_landmarks / mouth_landmarks: times (n,), points (n, k, 2), inter-ocular distance (n,).
Track = tuple[np.ndarray, np.ndarray, np.ndarray]


def decode_video(path: str | Path, max_side: int = FULL_RES, rotation_deg: int | None = None
                 ) -> Iterator[FrameView]:
    """Every frame of ``path`` upright (work frame: longer side at most ``max_side``; rotation probed if None)."""
    rotation = probe(path).rotation_deg if rotation_deg is None else rotation_deg
    return decode_frames(path, rotation, max_side, 64)


def timed_views(views: Iterable[FrameView]) -> Iterator[tuple[float, FrameView]]:
    """(time from the first frame, view) of every view; the view's own ``t`` stays on the container's clock."""
    t0 = None
    for view in views:
        if t0 is None:
            t0 = view.t
        yield view.t - t0, view


def _views(path: str | Path, max_side: int = FULL_RES) -> Iterator[FrameView]:
    """Every frame of ``path`` upright, its ``t`` made relative to the first frame."""
    for t, view in timed_views(decode_video(path, max_side)):
        view.t = t
        yield view


def _choose(t: float, prev_t: float, next_t: float | None, tail_gap: float) -> int | None:
    """Which of two neighbouring reference frames a prediction frame at ``t`` takes.

    ``prev_t`` is the last reference time ≤ ``t`` (or the first frame), ``next_t`` the one after it (None
    past the reference's last frame). Between two reference frames the nearer one is always within half of
    that local frame period; after the last frame, ``t`` must lie within half of the last period
    (``tail_gap``), otherwise the prediction has outlasted the reference.

    Returns:
        0 for ``prev_t``, 1 for ``next_t``, None for no match. On a tie the earlier frame (the one on screen
        at ``t``) wins.
    """
    if next_t is not None:
        return 1 if next_t - t < t - prev_t else 0
    return 0 if t - prev_t <= tail_gap / 2 + _EPS_T else None


def match_times(pred_t: np.ndarray, ref_t: np.ndarray) -> np.ndarray:
    """Index of the reference frame each prediction time takes (−1: past the reference's end).

    The array twin of ``aligned_frames``'s streaming match (same rule, ``_choose``). Times are relative to
    each stream's first frame.
    """
    ref_t = np.asarray(ref_t, float)
    tail_gap = float(ref_t[-1] - ref_t[-2]) if len(ref_t) > 1 else 0.0
    prev = np.clip(np.searchsorted(ref_t, pred_t, side="right") - 1, 0, len(ref_t) - 1)
    out = np.full(len(pred_t), -1, dtype=int)
    for i, (t, j) in enumerate(zip(pred_t, prev)):
        nxt = float(ref_t[j + 1]) if j + 1 < len(ref_t) else None
        pick = _choose(float(t), float(ref_t[j]), nxt, tail_gap)
        if pick is not None:
            out[i] = j + pick
    return out


def _resize(img: np.ndarray, w: int, h: int) -> np.ndarray:
    if img.shape[1] == w and img.shape[0] == h:
        return img
    shrink = img.shape[1] > w or img.shape[0] > h
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def paired_views(pred: Iterable[tuple[float, FrameView]], ref: Iterable[tuple[float, FrameView]], *,
                 ref_name: str | Path = "reference", on_ref: Callable[[FrameView], None] | None = None
                 ) -> Iterator[tuple[float, FrameView, FrameView | None]]:
    """Each prediction frame with the reference frame nearest to it in time (the rule of ``_choose``).

    Both streams are read forward together, so only the two reference frames around the current time are
    held. Inputs are ``timed_views`` streams: (time from the stream's first frame, view).

    Args:
        pred: the prediction's frames.
        ref: the reference's frames.
        ref_name: names the reference in the error for an empty one.
        on_ref: called once with every reference frame, in order, when it is read; with it the reference is
            read to its end after the prediction ends, so a consumer of the reference sees all its frames.

    Yields:
        (t, pred view, reference view or None past the reference's end + half its last frame period).
    """
    ref = iter(ref)

    def pull() -> tuple[float, FrameView] | None:
        item = next(ref, None)
        if item is not None and on_ref is not None:
            on_ref(item[1])
        return item

    prev = pull()
    if prev is None:
        raise ValueError(f"{ref_name}: no video frames")
    nxt = pull()
    tail_gap = 0.0
    for t, view in pred:
        while nxt is not None and nxt[0] <= t:
            tail_gap = nxt[0] - prev[0]
            prev, nxt = nxt, pull()
        pick = _choose(t, prev[0], nxt[0] if nxt is not None else None, tail_gap)
        chosen = None if pick is None else (prev, nxt)[pick]  # _choose picks 1 only when nxt is not None
        yield t, view, None if chosen is None else chosen[1]
    while on_ref is not None and nxt is not None:
        nxt = pull()


def pair_pixels(pred: FrameView, ref: FrameView, size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Both frames' work images at the reference's resolution (then scaled to ``size``, if given)."""
    ref_rgb = ref.work_rgb
    h, w = ref_rgb.shape[:2]
    pred_rgb = _resize(pred.work_rgb, w, h)
    if size is not None:
        sw, sh = scaled_size(w, h, size)
        pred_rgb, ref_rgb = _resize(pred_rgb, sw, sh), _resize(ref_rgb, sw, sh)
    return pred_rgb, ref_rgb


def aligned_frames(pred_path: str | Path, ref_path: str | Path, *, size: int | None = None
                   ) -> Generator[tuple[float, np.ndarray, np.ndarray], None, int]:
    """Pairs each prediction frame with the reference frame nearest to it in time.

    Both files are streamed (``paired_views``): the reference is read forward alongside the prediction,
    keeping only the two reference frames around the current time. A prediction with a higher frame rate
    reuses a reference frame; one with a lower rate skips reference frames. Prediction frames later than the
    reference's last frame plus half its last frame period are not yielded; their count is the generator's
    return value (``StopIteration.value``; ``_pairs`` collects it).

    Args:
        pred_path: the generated video.
        ref_path: the reference (ground-truth) video.
        size: if given, both frames are scaled down so the longer side is at most ``size`` (after the
            prediction has been brought to the reference's resolution), e.g. for a common evaluation size.

    Yields:
        (t, pred, ref): the prediction frame's time in seconds from its first frame, and both frames as RGB
        uint8 at the reference's resolution (shape equal). The arrays may be shared between yields: do not
        modify them in place.
    """
    unmatched = 0
    pairs = paired_views(timed_views(decode_video(pred_path)), timed_views(decode_video(ref_path)), ref_name=ref_path)
    for t, view, ref in pairs:
        if ref is None:
            unmatched += 1
            continue
        yield (t, *pair_pixels(view, ref, size))
    return unmatched


def _pairs(gen: Iterator, fn: Callable[[float, np.ndarray, np.ndarray], None]) -> tuple[int, int]:
    """Calls ``fn`` on every pair of ``aligned_frames``; returns (pairs, unmatched prediction frames)."""
    n = 0
    while True:
        try:
            t, pred, ref = next(gen)
        except StopIteration as stop:
            return n, int(stop.value or 0)
        fn(t, pred, ref)
        n += 1


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two grey uint8 images (Wang et al. 2004, their Gaussian-window parameters).

    Local statistics use an 11×11 Gaussian window (σ 1.5); the mean is taken over the window positions that
    lie fully inside the image (the 'valid' region of the authors' reference ``ssim_index.m``). Their optional
    pre-downsampling of large images is not applied: frames are compared at the reference resolution.

    float32 is 7× faster than float64 here and moves the result by < 1e-6 on real frames (the worst
    cancellation, in E[x²] − E[x]², is ~0.004 grey levels², far below C2 = 58.5); identical images still give
    exactly 1, since every term of the numerator and denominator is then computed identically.
    """
    x, y = a.astype(np.float32), b.astype(np.float32)

    def blur(img: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(img, (_SSIM_WIN, _SSIM_WIN), _SSIM_SIGMA, borderType=cv2.BORDER_REFLECT)

    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    m = ((2 * mx * my + _C1) * (2 * sxy + _C2)) / ((mx * mx + my * my + _C1) * (sxx + syy + _C2))
    r = _SSIM_WIN // 2
    valid = m[r:-r, r:-r] if min(m.shape) > 2 * r else m
    return float(valid.mean(dtype=np.float64))


class Fidelity:
    """Full-reference fidelity accumulated over time-aligned frame pairs (see ``fidelity``)."""

    def __init__(self) -> None:
        self.ssims: list[float] = []
        self.psnrs: list[float] = []
        self.l1s: list[float] = []
        self.capped = False

    def add(self, pred: np.ndarray, ref: np.ndarray) -> None:
        """One pair: RGB uint8 frames of equal shape."""
        mse = cv2.norm(pred, ref, cv2.NORM_L2SQR) / pred.size  # exact sums, 0 only for identical frames
        if mse == 0.0:
            self.capped = True
        self.psnrs.append(PSNR_CAP_DB if mse == 0.0 else min(PSNR_CAP_DB, 10 * np.log10(255.0 ** 2 / mse)))
        self.l1s.append(cv2.norm(pred, ref, cv2.NORM_L1) / pred.size)
        self.ssims.append(ssim(cv2.cvtColor(pred, cv2.COLOR_RGB2GRAY), cv2.cvtColor(ref, cv2.COLOR_RGB2GRAY)))

    def result(self, unmatched: int) -> dict:
        n = len(self.ssims)
        nan = float("nan")
        return {"ssim": float(np.mean(self.ssims)) if n else nan, "psnr": float(np.mean(self.psnrs)) if n else nan,
                "psnr_capped": self.capped, "l1": float(np.mean(self.l1s)) if n else nan,
                "frames_compared": n, "pred_frames_unmatched": unmatched}


def fidelity(pred_path: str | Path, ref_path: str | Path, *, size: int | None = None) -> dict:
    """Full-reference fidelity of a prediction to its reference, over time-aligned frame pairs.

    * ``ssim``: mean over frames of grey (BT.601 luma) SSIM, Wang et al. 2004 (see ``ssim``).
    * ``psnr``: mean over frames of 10·log10(255² / MSE) in dB, MSE over the RGB channels (the per-frame
      average used by talking-head papers). A frame with MSE 0 (identical) counts as ``PSNR_CAP_DB`` (100 dB)
      and sets ``psnr_capped``.
    * ``l1``: mean absolute difference over all RGB values of all pairs, 0–255 units.
    * ``frames_compared``: pairs; ``pred_frames_unmatched``: prediction frames past the reference's end.

    Args:
        pred_path: the generated video.
        ref_path: the reference video.
        size: optional evaluation size, passed to ``aligned_frames``.
    """
    acc = Fidelity()
    _, unmatched = _pairs(aligned_frames(pred_path, ref_path, size=size), lambda _t, p, r: acc.add(p, r))
    return acc.result(unmatched)


class FaceFinder:
    """Face boxes of the current frame, detected once per image size and shared by the metrics that ask.

    Metrics detect at different sizes (identity at 1280, the mesh at full resolution); where two sizes give
    the same image (any video no larger than 1280) one detection serves both. The detector is stateless (mediapipe's face detection graph sees each image alone), so a shared
    box is the box each metric would have found itself.
    """

    def __init__(self, detector: FaceDetector):
        self.detector = detector
        self._view: FrameView | None = None
        self._boxes: dict[tuple[int, int], list[FaceBox]] = {}

    def __call__(self, view: FrameView, max_side: int) -> list[FaceBox]:
        """Faces (largest first) in ``view.rgb(max_side)``, in its pixels."""
        if view is not self._view:
            self._view, self._boxes = view, {}
        rgb = view.rgb(max_side)
        key = rgb.shape[:2]
        if key not in self._boxes:
            self._boxes[key] = self.detector(rgb)
        return self._boxes[key]


def run_consumers(views: Iterable[FrameView], consumers: list) -> list:
    """Feeds every view to each consumer in order; returns their ``finish()`` results."""
    for view in views:
        for consumer in consumers:
            consumer.process_frame(view)
    return [consumer.finish() for consumer in consumers]


@dataclass
class FaceTrack:
    """The face mesh of every frame of one video.

    Attributes:
        t: presentation times in seconds on the container's clock (the audio's), one per frame.
        points: (n, 478, 2) x/y pixels of the upright full frame; NaN on frames without a face.
        io: (n,) inter-ocular distance in pixels; NaN without a face.
    """

    t: np.ndarray
    points: np.ndarray
    io: np.ndarray

    @property
    def track(self) -> Track:
        """(times from the first frame, points, io): the form the metrics below take."""
        return (self.t - self.t[0] if len(self.t) else self.t), self.points, self.io


class FaceMesh:
    """Frame consumer of ``face_landmarks``: the per-image mesh on every frame (see there for why per image).

    Args:
        faces: the stream's face finder (detections shared with the stream's other consumers).
        mesher: a static-mode ``FaceMesher`` (``tracking=False``) used by this stream only: it holds the
            stream's crop. It is reset when the track starts, so no crop carries over from another video.
        redetect_every: frames between detections while the mesh keeps the face.
    """

    def __init__(self, faces: FaceFinder, mesher: FaceMesher, redetect_every: int = 10):
        self.faces = faces
        self.mesher = mesher
        self.redetect_every = redetect_every
        self._since_detect = redetect_every
        self._started = False
        self.times: list[float] = []
        self.points: list[np.ndarray] = []
        self.ios: list[float] = []
        self._view: FrameView | None = None

    def box(self, view: FrameView) -> FaceBox | None:
        """The face box of ``view``, the frame just meshed, in the shape of a full-range BlazeFace box; None
        without a face.

        BlazeFace's box is a square regressed with its keypoints; from the mesh it is rebuilt as a square of
        0.98× the mesh's height (468 points), centred 0.02 heights below the mean of the four frontal keypoints
        BlazeFace finds (eye centres, nose tip, mouth centre). Both factors are medians over 1,500 frames of
        shared/media's talking heads, where this box overlaps BlazeFace's with a median IoU of 0.93 (0.97 on
        the generated set). Sharpness in it is 0.88–1.01× sharpness in BlazeFace's box on every clip but
        vox_man_tv_224 (0.69: there BlazeFace's box sits a quarter face to the side;
        ``benchmarks/bench_sampling.py``), so sharpness needs no detector of its own.
        """
        if view is not self._view:
            raise ValueError("FaceMesh.box: this frame has not been meshed (run the mesh consumer first)")
        pts = self.points[-1]
        if not np.isfinite(pts[:MESH_POINTS]).all():
            return None
        height = float(np.ptp(pts[:MESH_POINTS, 1]))
        keypoints = [(pts[EYE_OUTER_R] + pts[EYE_INNER_R]) / 2, (pts[EYE_INNER_L] + pts[EYE_OUTER_L]) / 2,
                     pts[NOSE_TIP], (pts[INNER_LIP_TOP] + pts[INNER_LIP_BOTTOM]) / 2]
        cx, cy = np.mean(keypoints, axis=0)
        cy += _BOX_DROP * height
        half = _BOX_SIDE * height / 2
        return FaceBox(float(cx - half), float(cy - half), float(cx + half), float(cy + half), 1.0)

    def process_frame(self, view: FrameView) -> None:
        self._view = view
        if not self._started:
            self.mesher.reset()
            self._started = True
        rgb = view.rgb(FULL_RES)
        lm = None
        if self._since_detect < self.redetect_every:  # the last crop still holds the face
            lm = self.mesher(rgb, None)
        if lm is None:
            boxes = self.faces(view, FULL_RES)
            self._since_detect = 0
            if boxes:
                lm = self.mesher(rgb, boxes[0])
            else:
                self.mesher.reset()
        self._since_detect += 1
        self.times.append(view.t)
        if lm is None:
            self.points.append(np.full((478, 2), np.nan, np.float32))
            self.ios.append(np.nan)
            self._since_detect = self.redetect_every  # lost: detect again on the next frame
        else:
            self.points.append(lm[:, :2] if len(lm) == 478 else np.pad(lm[:, :2], ((0, 478 - len(lm)), (0, 0)),
                                                                       constant_values=np.nan))
            self.ios.append(interocular(lm))

    def finish(self) -> FaceTrack:
        return FaceTrack(np.asarray(self.times, float), np.asarray(self.points, np.float64).reshape(-1, 478, 2),
                         np.asarray(self.ios, float))


class Sharpness:
    """Frame consumer of ``sharpness``: ``process_frame(view)`` per frame, ``finish()`` → the mean.

    Args:
        mesh: the stream's ``FaceMesh``, which must have processed each frame before this consumer sees it;
            its face box (``FaceMesh.box``) is the region measured, so no second detector runs.
    """

    def __init__(self, mesh: FaceMesh):
        self.mesh = mesh
        self.values: list[float] = []

    def process_frame(self, view: FrameView) -> None:
        b = self.mesh.box(view)
        if b is None:
            return
        gray = view.full_gray  # the mesh's pixels are the full upright frame's
        x0, x1 = int(max(0, b.x0)), int(min(gray.shape[1], b.x1))
        y0, y1 = int(max(0, b.y0)), int(min(gray.shape[0], b.y1))
        if x1 - x0 < 8 or y1 - y0 < 8:
            return
        face = cv2.resize(gray[y0:y1, x0:x1], (256, 256), interpolation=cv2.INTER_AREA)
        self.values.append(float(cv2.Laplacian(face, cv2.CV_64F, ksize=1).var()))

    def finish(self) -> float:
        return float(np.mean(self.values)) if self.values else float("nan")


def sharpness(path: str | Path) -> float:
    """Variance of the Laplacian of the face region, averaged over the frames with a face.

    A no-reference focus measure (the 'LAPV' operator of Pech-Pacheco, Cristóbal, Chamorro-Martínez &
    Fernández-Valdivia, "Diatom autofocusing in brightfield microscopy: a comparative study", ICPR 2000),
    chosen over CPBD (Narvekar & Karam 2011) because it needs no edge-width model and costs well under a
    millisecond a frame. The face box (``FaceMesh.box``: the frame's face mesh gives it, in the shape of a
    full-range BlazeFace box) is cut from the full-resolution luma and resized to 256×256 first, so the value does
    not depend on how large the face is in the frame (the same convention as curate's ``face_sharpness``).
    The 4-neighbour 3×3 Laplacian is used.

    Returns:
        grey levels² (higher is sharper); NaN when no frame has a face.
    """
    detector = FaceDetector()
    mesher = FaceMesher(tracking=False, refine=True)
    try:
        mesh = FaceMesh(FaceFinder(detector), mesher)
        return run_consumers(decode_video(path), [mesh, Sharpness(mesh)])[1]
    finally:
        mesher.reset()
        detector.close()


def face_track(path: str | Path, detector: FaceDetector | None = None, mesher: FaceMesher | None = None, *,
               redetect_every: int = 10) -> FaceTrack:
    """The ``FaceMesh`` track of one video; backends made (and closed) here when not given."""
    own = detector is None
    detector = detector or FaceDetector()
    mesher = mesher or FaceMesher(tracking=False, refine=True)
    try:
        return run_consumers(decode_video(path), [FaceMesh(FaceFinder(detector), mesher, redetect_every)])[0]
    finally:
        mesher.reset()
        if own:
            detector.close()


def face_landmarks(path: str | Path, *, redetect_every: int = 10) -> Track:
    """The 478-point face mesh (mediapipe, refined) on every frame, in pixels of the upright full frame.

    The mesh runs on a crop around a full-range detection (``FaceMesher``), repeated every ``redetect_every``
    frames and whenever no face is found, so a moving face keeps its crop. The mesh is run per image
    (mediapipe's static mode), not tracked: in tracking mode each frame's region comes from the previous
    frame's landmarks, a feedback loop that made the landmarks of a still video drift for ~10 frames (jitter
    0.0019 instead of 0) and would make a frame's landmarks depend on the frames before it (so a prediction
    with dropped frames would be measured differently from its reference). Per image, the same frame always
    gives the same landmarks. mediapipe's face-mesh graph applies no temporal smoothing either (no smoothing
    calculator in ``face_landmark_front_cpu``), so frame-to-frame noise is left for ``jitter`` to see.

    Returns:
        (times (n,) in seconds from the first frame, points (n, 478, 2) x/y pixels, inter-ocular distance
        (n,) pixels); points and distance are NaN on frames without a face.
    """
    return face_track(path, redetect_every=redetect_every).track


def mouth_landmarks(path: str | Path, *, face: Track | None = None) -> Track:
    """The 40 lip landmarks (``LIPS``: mediapipe's outer and inner lip contours) on every frame.

    Args:
        path: the video.
        face: ``face_landmarks(path)`` if already computed (the mesh is the expensive part).

    Returns:
        (times (n,) s, points (n, 40, 2) pixels of the full frame, inter-ocular distance (n,) pixels);
        NaN where no face.
    """
    t, pts, io = face if face is not None else face_landmarks(path)
    return t, pts[:, list(LIPS)], io


def lmd(pred_path: str | Path, ref_path: str | Path, *, pred_mouth: Track | None = None,
        ref_mouth: Track | None = None, sizes: tuple[tuple[int, int], tuple[int, int]] | None = None) -> dict:
    """Mouth landmark distance between a prediction and its reference.

    LMD as in Chen, Li, Maddox, Duan & Xu, "Lip movements generation at a glance", ECCV 2018, and the
    Wav2Lip-era evaluations that follow it: for each time-aligned frame pair, the mean Euclidean distance
    between corresponding mouth landmarks after each frame's landmarks have had their own mean subtracted
    (mean-centred, so head position does not count, only mouth shape), averaged over frames. Landmark set:
    ``LANDMARK_SET``. Pairs are made with ``match_times`` (the rule of ``aligned_frames``); prediction points
    are scaled to the reference's resolution first.

    Args:
        pred_path: the generated video.
        ref_path: the reference video.
        pred_mouth: ``mouth_landmarks(pred_path)`` if already computed.
        ref_mouth: ``mouth_landmarks(ref_path)`` if already computed.
        sizes: the two videos' display sizes ((w, h) of the prediction, of the reference) if already probed.

    Returns:
        ``lmd_px`` (pixels of the reference resolution), ``lmd_norm`` (per pair divided by the reference
        frame's inter-ocular distance, then averaged), ``landmark_set``, ``frames`` (pairs with a face in
        both), ``frames_no_face`` (pairs skipped for a missing face), ``pred_frames_unmatched``.
    """
    pt, pp, _ = pred_mouth if pred_mouth is not None else mouth_landmarks(pred_path)
    rt, rp, rio = ref_mouth if ref_mouth is not None else mouth_landmarks(ref_path)
    (pw, ph), (rw, rh) = sizes or (probe(pred_path).display_size, probe(ref_path).display_size)
    pp = pp * np.array([rw / pw, rh / ph])
    idx = match_times(pt, rt)
    ok = idx >= 0
    a, b, io = pp[ok], rp[idx[ok]], rio[idx[ok]]
    face = np.isfinite(a).all(axis=(1, 2)) & np.isfinite(b).all(axis=(1, 2)) & (io > 0)
    a, b, io = a[face], b[face], io[face]
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    d = np.linalg.norm(a - b, axis=-1).mean(axis=1)
    nan = float("nan")
    return {"lmd_px": float(d.mean()) if len(d) else nan, "lmd_norm": float((d / io).mean()) if len(d) else nan,
            "landmark_set": LANDMARK_SET, "frames": int(len(d)), "frames_no_face": int(ok.sum() - len(d)),
            "pred_frames_unmatched": int((~ok).sum())}


def jitter(path: str | Path, *, face: Track | None = None) -> float:
    """Temporal jitter: mean magnitude of the landmarks' second difference, in inter-ocular distances.

    For every three consecutive frames with a face, the acceleration of each of the 468 mesh points is the
    second difference at the video's own timing (non-uniform steps: 2·(v₂ − v₁)/(Δ₁ + Δ₂) with
    vᵢ = displacement/Δᵢ), multiplied by T², T the median frame period, so that for a constant frame rate it
    is exactly x[i+1] − 2x[i] + x[i−1]. Its length, averaged over the points and divided by the middle frame's
    inter-ocular distance, is averaged over all triples.

    Units: inter-ocular distances per frame² (at the median frame period). Real head and mouth motion also
    contributes, so compare a prediction's value with its reference's rather than with zero.

    Returns:
        the mean; NaN with fewer than three consecutive frames with a face.
    """
    t, pts, io = face if face is not None else face_landmarks(path)
    if len(t) < 3:
        return float("nan")
    x = pts[:, :MESH_POINTS]
    d1, d2 = (t[1:-1] - t[:-2])[:, None, None], (t[2:] - t[1:-1])[:, None, None]
    period = float(np.median(np.diff(t)))
    acc = 2 * ((x[2:] - x[1:-1]) / d2 - (x[1:-1] - x[:-2]) / d1) / (d1 + d2) * period ** 2
    mag = np.linalg.norm(acc, axis=-1).mean(axis=-1) / io[1:-1]
    mag = mag[np.isfinite(mag)]
    return float(mag.mean()) if len(mag) else float("nan")
