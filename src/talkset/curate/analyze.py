"""The single video pass: every frame is decoded once and pushed to shot, motion, face and quality consumers, and
with annotation on to pose and identity consumers (what they keep becomes the clips' annotations).

Every consumer follows one protocol (``FrameConsumer``, PySceneDetect's shape): ``process_frame(view)`` per frame
and ``finish(end_s)`` once, returning its typed result. Consumers never open files and never read each other: what
one measures for a frame and another needs (the face box) travels on the frame's view (``FrameView.face``), set by
the face consumer, which runs first (with its mesh: ``FrameView.mesh``, ``FrameView.mesh_box``). Face, quality,
pose and identity work is done only inside ``regions`` (speech, padded):
nothing outside speech can become a clip.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

import cv2
import numpy as np

from talkset.curate.annotate import (
    BODY_POINTS,
    FACE_POINTS,
    HAND_POINTS,
    Annotators,
    PassAnnotation,
    face_luma,
    wrist_in_view,
)
from talkset.curate.scores.quality import measure_frame
from talkset.media.frames import FrameView, decode_frames
from talkset.rows import RowStore
from talkset.run.timing import StageTimer
from talkset.vision.face import (
    EYE_OUTER_L,
    EYE_OUTER_R,
    MOUTH_CORNER_L,
    MOUTH_CORNER_R,
    MOUTH_MEASURES,
    NOSE_TIP,
    PARTS,
    FaceBox,
    FaceDetector,
    FaceMesher,
    head_pose,
    mouth_measures,
)
from talkset.vision.identity import CHIP_SIZE
from talkset.vision.pose import BodyPoser, HandPoser

R_co = TypeVar("R_co", covariant=True)


class FrameConsumer(Protocol[R_co]):
    """One stage of the video pass."""

    def process_frame(self, view: FrameView) -> None: ...

    def finish(self, end_s: float) -> R_co: ...


# TalkVid's five keypoints (eyes, nose, mouth corners), taken from the mesh.
KPS5 = (EYE_OUTER_R, EYE_OUTER_L, NOSE_TIP, MOUTH_CORNER_R, MOUTH_CORNER_L)


@dataclass
class FaceSeries:
    """Per analysed frame, columns of equal length; NaN where no face was meshed."""

    t: list[float] = field(default_factory=list)
    mouth: list[np.ndarray] = field(default_factory=list)     # mouth_measures()
    kps: list[np.ndarray] = field(default_factory=list)       # (5, 2) pixels of the work frame
    pose: list[tuple[float, float, float]] = field(default_factory=list)
    completeness: list[float] = field(default_factory=list)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"t": np.asarray(self.t, float), "mouth": np.asarray(self.mouth, float).reshape(-1, len(MOUTH_MEASURES)),
                "kps": np.asarray(self.kps, float).reshape(-1, 5, 2), "pose": np.asarray(self.pose, float).reshape(-1, 3),
                "completeness": np.asarray(self.completeness, float)}


# Meshes and face chips past this go to a temporary file (TMPDIR): a pass over hours of speech would otherwise
# hold ~0.75 GB an hour of them until its clips are annotated.
SPILL_BYTES = 64 << 20
_NO_MESH = np.full((FACE_POINTS, 3), np.nan, np.float32)  # a frame without a (full, refined) mesh
_NO_MESH.flags.writeable = False


@dataclass
class Analysis:
    """Everything the scorers need from the pixels of one video."""

    frame_times: np.ndarray            # every decoded frame
    cut_times: list[float]             # presentation time of the first frame of each new shot
    work_size: tuple[int, int]         # (w, h) of the frames faces were measured on
    faces: dict[str, np.ndarray]       # FaceSeries.arrays()
    detections: dict[str, np.ndarray]  # t, n_faces, area_ratio (largest face box / frame)
    motion: dict[str, np.ndarray]      # t0, t1, survival, camera (percent of diagonal per second)
    quality: dict[str, np.ndarray]     # t and one column per measure
    stage_seconds: dict[str, float]
    annotation: PassAnnotation | None = None  # for clip annotations, when asked for


def _in_regions(t: float, regions: list[tuple[float, float]]) -> bool:
    return any(a <= t <= b for a, b in regions)


def _next_on_grid(t: float, period: float) -> float:
    """The time of the sample after ``t`` on the fixed grid k × ``period``: samples never drift away from whole
    seconds, whatever the frame times."""
    return (np.floor(t / period + 1e-6) + 1) * period - 1e-6


class ShotConsumer:
    """Wraps a PySceneDetect detector; maps its frame numbers to presentation times."""

    def __init__(self, detector: str, threshold: float, min_shot_frames: int):
        from scenedetect import detectors

        make = {"content": lambda: detectors.ContentDetector(threshold, min_scene_len=min_shot_frames),
                "adaptive": lambda: detectors.AdaptiveDetector(threshold, min_scene_len=min_shot_frames),
                "histogram": lambda: detectors.HistogramDetector(threshold, min_scene_len=min_shot_frames),
                "hash": lambda: detectors.HashDetector(threshold, min_scene_len=min_shot_frames)}
        if detector not in make:
            raise ValueError(f"unknown shot detector {detector!r} (choose from {', '.join(make)})")
        self.detector = make[detector]()
        self.times: list[float] = []
        self.cut_frames: list[int] = []

    def process_frame(self, view: FrameView) -> None:
        self.times.append(view.t)
        self.cut_frames += self.detector.process_frame(view.index, view.small_bgr)

    def finish(self, end_s: float) -> list[float]:
        """Presentation times of the first frame of each new shot."""
        if self.times:
            try:
                self.cut_frames += self.detector.post_process(len(self.times) - 1)
            except TypeError:  # detectors without a post-processing step
                pass
        return sorted({self.times[i] for i in self.cut_frames if 0 < i < len(self.times)})


class MotionConsumer:
    """KLT tracks seeded at the start of each window; survival ≈ TalkVid's cotracker_ratio, plus camera motion.

    A track survives a frame when forward-backward tracking returns within 1 pixel. Camera motion is the
    translation of a RANSAC similarity fitted to all tracks, so a moving speaker on a still background
    counts little.
    """

    def __init__(self, window_s: float = 1.0, max_points: int = 150):
        self.window_s = window_s
        self.max_points = max_points
        self._prev: np.ndarray | None = None
        self._pts: np.ndarray | None = None
        self._seeded = 0
        self._t0 = 0.0
        self._shift = 0.0
        self.rows: list[tuple[float, float, float, float]] = []

    def process_frame(self, view: FrameView) -> None:
        gray = view.small_gray
        if self._prev is None or view.t - self._t0 >= self.window_s - 1e-6:
            self._close_window(view.t)
            self._seed(gray, view.t)
        elif self._pts is not None and len(self._pts):
            self._track(gray)
        self._prev = gray

    def _seed(self, gray: np.ndarray, t: float) -> None:
        pts = cv2.goodFeaturesToTrack(gray, self.max_points, 0.01, 7)
        self._pts = pts.reshape(-1, 2).astype(np.float32) if pts is not None else np.zeros((0, 2), np.float32)
        self._seeded = len(self._pts)
        self._t0 = t
        self._shift = 0.0
        self._diag = float(np.hypot(*gray.shape))

    def _track(self, gray: np.ndarray) -> None:
        assert self._prev is not None and self._pts is not None  # process_frame tracks only after a seed
        p0 = self._pts.reshape(-1, 1, 2)
        # ignored: OpenCV's stubs demand an array for nextPts, but None (OpenCV allocates it) is valid
        p1, st, _ = cv2.calcOpticalFlowPyrLK(self._prev, gray, p0, None,  # type: ignore[call-overload]
                                             winSize=(15, 15), maxLevel=2)
        p0r, st2, _ = cv2.calcOpticalFlowPyrLK(gray, self._prev, p1, None,  # type: ignore[call-overload]
                                               winSize=(15, 15), maxLevel=2)
        ok = (st.ravel() == 1) & (st2.ravel() == 1) & (np.linalg.norm((p0 - p0r).reshape(-1, 2), axis=1) < 1.0)
        a, b = p0.reshape(-1, 2)[ok], p1.reshape(-1, 2)[ok]
        if len(a) >= 6:
            m, _ = cv2.estimateAffinePartial2D(a, b, method=cv2.RANSAC, ransacReprojThreshold=1.0)
            if m is not None:
                self._shift += float(np.hypot(m[0, 2], m[1, 2]))
        self._pts = b

    def _close_window(self, t: float) -> None:
        if self._prev is not None and self._pts is not None and self._seeded and t > self._t0:
            survival = 100.0 * len(self._pts) / self._seeded
            camera = 100.0 * self._shift / self._diag / (t - self._t0)
            self.rows.append((self._t0, t, survival, camera))

    def finish(self, end_s: float) -> dict[str, np.ndarray]:
        """Per window: t0, t1, survival (%), camera (percent of the diagonal per second)."""
        self._close_window(end_s)
        rows = np.asarray(self.rows, float).reshape(-1, 4)
        return {"t0": rows[:, 0], "t1": rows[:, 1], "survival": rows[:, 2], "camera": rows[:, 3]}


class FaceConsumer:
    """Full-range detection at ``sample_fps`` (``search_fps`` while no face is tracked); 478-point mesh on every
    frame in the regions."""

    def __init__(self, detector: FaceDetector, mesher: FaceMesher, regions: list[tuple[float, float]],
                 sample_fps: float, search_fps: float = 5.0, keep_mesh: bool = False):
        self.keep_mesh = keep_mesh
        self.detector = detector
        self.mesher = mesher
        self.regions = regions
        self.period = 1.0 / sample_fps
        # Without a face to track, look more often: a face that appears after a cut or a cut-away is found within
        # a fifth of a second instead of half a second of frames without a mesh.
        self.search_period = 1.0 / max(search_fps, sample_fps)
        self._next_sample = -np.inf
        self._in_region = False
        self.series = FaceSeries()
        self.det_rows: list[tuple[float, int, float]] = []
        self._last_box: FaceBox | None = None
        self._lost = False  # the mesh has just lost the face: detect on the next frame
        self._meshed = False  # the previous frame had a mesh
        # The last detection's box relative to its mesh's extent: between detections the box follows the mesh.
        self._box_offset: np.ndarray | None = None
        self.meshes = RowStore((FACE_POINTS, 3), np.float32, SPILL_BYTES)
        self.boxes: list[np.ndarray] = []
        self.luma: list[np.ndarray] = []

    def process_frame(self, view: FrameView) -> None:
        inside = _in_regions(view.t, self.regions)
        view.face = self._last_box if inside else None
        if not inside:
            if self._in_region:
                self.mesher.reset()  # a new region is a new track
            self._in_region = self._meshed = self._lost = False
            return
        self._in_region = True
        rgb = view.work_rgb
        h, w = rgb.shape[:2]
        box = None
        sample = view.t >= self._next_sample or self._lost
        self._lost = False
        if sample:
            boxes = self.detector(rgb)
            box = boxes[0] if boxes else None
            self._next_sample = _next_on_grid(view.t, self.period if box is not None else self.search_period)
        lm = self.mesher(rgb, box) if (box is not None or self._last_box is not None) else None
        if sample:
            if not boxes and lm is not None:
                # The detector missed a face the mesh still tracks (blur, a hand): count the mesh's face.
                boxes = [_box_of(lm)]
            self.det_rows.append((view.t, len(boxes), boxes[0].area / (w * h) if boxes else 0.0))
            self._last_box = view.face = boxes[0] if boxes else None
            if not boxes:
                self.mesher.reset()
        s = self.series
        s.t.append(view.t)
        # A cut or a fast turn: find the face again at once instead of waiting for the next sample, so the
        # first half second of a shot is not lost (one retry per loss: a stretch without a face costs no more
        # than the regular samples).
        self._lost = lm is None and self._meshed
        self._meshed = lm is not None
        if lm is None:
            s.mouth.append(np.full(len(MOUTH_MEASURES), np.nan))
            s.kps.append(np.full((5, 2), np.nan))
            s.pose.append((np.nan, np.nan, np.nan))
            s.completeness.append(0.0)
            if self.keep_mesh:
                self.meshes.append(_NO_MESH)
                self.boxes.append(np.full(4, np.nan, np.float32))
                self.luma.append(np.zeros(3))
            return
        view.mesh, view.mesh_box = lm, self._follow(lm, box)
        if self.keep_mesh:
            b = view.mesh_box
            self.meshes.append(lm if lm.shape[0] == FACE_POINTS else _NO_MESH)
            self.boxes.append(np.array([b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0], np.float32))
            self.luma.append(face_luma(rgb, b))
        s.mouth.append(mouth_measures(lm))
        s.kps.append(lm[list(KPS5), :2])
        s.pose.append(head_pose(lm))
        s.completeness.append(100.0 * sum(
            weight for idx, weight in PARTS.values()
            if all(0 <= lm[i, 0] < w and 0 <= lm[i, 1] < h for i in idx)))

    def _follow(self, lm: np.ndarray, detected: FaceBox | None) -> FaceBox:
        """The face box at a meshed frame: the detection where there is one, else the last detection's box
        moved and scaled with the mesh."""
        extent = _box_of(lm)
        size = np.array([extent.x1 - extent.x0, extent.y1 - extent.y0] * 2)
        corners = np.array([extent.x0, extent.y0, extent.x1, extent.y1])
        if detected is not None:
            self._box_offset = (np.array([detected.x0, detected.y0, detected.x1, detected.y1]) - corners) / size
            return detected
        if self._box_offset is None:
            return extent
        x0, y0, x1, y1 = corners + self._box_offset * size
        return FaceBox(float(x0), float(y0), float(x1), float(y1), score=0.0)

    def finish(self, end_s: float) -> FaceTrack:
        rows = np.asarray(self.det_rows, float).reshape(-1, 3)
        return FaceTrack(self.series.arrays(), {"t": rows[:, 0], "n_faces": rows[:, 1], "area_ratio": rows[:, 2]})


@dataclass
class FaceTrack:
    """The face consumer's result: the mesh series per analysed frame and the detector's samples."""

    faces: dict[str, np.ndarray]       # FaceSeries.arrays()
    detections: dict[str, np.ndarray]  # t, n_faces, area_ratio (largest face box / frame)


def _box_of(landmarks: np.ndarray) -> FaceBox:
    x0, y0 = landmarks[:, :2].min(axis=0)
    x1, y1 = landmarks[:, :2].max(axis=0)
    return FaceBox(float(x0), float(y0), float(x1), float(y1), score=0.0)


class QualityConsumer:
    """Weight-free technical measures on full-resolution frames at ``sample_fps`` inside the regions, around the
    face box the face consumer left on the view (the last detection)."""

    def __init__(self, regions: list[tuple[float, float]], sample_fps: float):
        self.regions = regions
        self.period = 1.0 / sample_fps
        self._next = -np.inf
        self.rows: list[dict[str, float]] = []

    def process_frame(self, view: FrameView) -> None:
        if view.t < self._next or not _in_regions(view.t, self.regions):
            return
        self._next = _next_on_grid(view.t, self.period)

        box = view.face
        work_h, work_w = view.work_rgb.shape[:2] if box is not None else (1, 1)
        self.rows.append({"t": view.t, **measure_frame(view.full_gray, box, (work_w, work_h))})

    def finish(self, end_s: float) -> dict[str, np.ndarray]:
        keys = self.rows[0].keys() if self.rows else ["t"]
        return {k: np.asarray([r[k] for r in self.rows], float) for k in keys}


class PoseConsumer:
    """Body pose on the work frame at ``sample_fps`` inside the regions, and both hands where the pose shows a
    wrist; a fresh track for every region (the models run in tracking mode)."""

    def __init__(self, body: BodyPoser, hands: HandPoser | None, regions: list[tuple[float, float]],
                 sample_fps: float):
        self.body, self.hands = body, hands
        self.regions = regions
        self.period = 1.0 / sample_fps
        self._next = -np.inf
        self._in_region = False
        self.t: list[float] = []
        self.bodies: list[np.ndarray] = []
        self.hand_points: list[np.ndarray] = []
        self.hand_scores: list[np.ndarray] = []

    def process_frame(self, view: FrameView) -> None:
        if not _in_regions(view.t, self.regions):
            if self._in_region:
                for model in (self.body, self.hands):
                    if model is not None:
                        model.reset()
            self._in_region = False
            return
        # The first frame of a region is always measured, so interpolation has a start.
        if self._in_region and view.t < self._next:
            return
        self._in_region = True
        self._next = _next_on_grid(view.t, self.period)
        rgb = view.work_rgb
        h, w = rgb.shape[:2]
        pts = self.body(rgb)
        self.t.append(view.t)
        self.bodies.append(pts if pts is not None else np.full((BODY_POINTS, 4), np.nan, np.float32))
        if self.hands is not None and pts is not None and wrist_in_view(pts, w, h):
            hp, hs = self.hands(rgb)
        else:
            hp, hs = np.full((2, HAND_POINTS, 3), np.nan, np.float32), np.zeros(2, np.float32)
        self.hand_points.append(hp)
        self.hand_scores.append(hs)

    def finish(self, end_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Sample times, bodies (m, 33, 4), hands (m, 2, 21, 3), hand scores (m, 2); work-frame pixels."""
        m = len(self.t)
        return (np.asarray(self.t, float), np.asarray(self.bodies, np.float32).reshape(m, BODY_POINTS, 4),
                np.asarray(self.hand_points, np.float32).reshape(m, 2, HAND_POINTS, 3),
                np.asarray(self.hand_scores, np.float32).reshape(m, 2))


class IdentityConsumer:
    """Aligned face chips at ``sample_fps`` inside the regions, from the full-resolution frame around the face
    box the mesh follows (``FrameView.mesh_box``). Only the chips of kept clips are described later: the
    descriptor network costs ten times the alignment."""

    def __init__(self, embedder, regions: list[tuple[float, float]], sample_fps: float):
        self.embedder = embedder
        self.regions = regions
        self.period = 1.0 / sample_fps
        self._next = -np.inf
        self.t: list[float] = []
        self.chips = RowStore((CHIP_SIZE, CHIP_SIZE, 3), np.uint8, SPILL_BYTES)

    def process_frame(self, view: FrameView) -> None:
        box = view.mesh_box
        if box is None or view.t < self._next or not _in_regions(view.t, self.regions):
            return
        self._next = _next_on_grid(view.t, self.period)
        full = view.full_rgb
        sx, sy = full.shape[1] / view.work_rgb.shape[1], full.shape[0] / view.work_rgb.shape[0]
        self.t.append(view.t)
        self.chips.append(self.embedder.chip(full, FaceBox(box.x0 * sx, box.y0 * sy, box.x1 * sx, box.y1 * sy,
                                                           box.score)))

    def finish(self, end_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Sample times and chips (k, CHIP_SIZE, CHIP_SIZE, 3) uint8."""
        return np.asarray(self.t, float), self.chips.array()


def analyze(path: str | Path, *, rotation_deg: int, fps: float, regions: list[tuple[float, float]],
            detector: FaceDetector, mesher: FaceMesher, segment_cfg: dict, analysis_cfg: dict,
            annotators: Annotators | None = None, annotate_cfg: dict | None = None, progress=None) -> Analysis:
    """Decodes ``path`` once and runs every frame consumer on it.

    Args:
        path: the video.
        rotation_deg: display rotation applied to pixels before analysis.
        fps: nominal frame rate (frames per second), used only to express minimum shot length in frames.
        regions: (start_s, end_s) spans where faces and quality are measured.
        detector: face detector backend (created once per worker).
        mesher: face mesh backend (created once per worker).
        segment_cfg: the ``[segment]`` config table.
        analysis_cfg: the ``[analysis]`` config table.
        annotators: body, hands and identity models for clip annotations (its detector and mesher are unused:
            the pass's own mesh is the annotation); None: no annotation.
        annotate_cfg: the ``[annotate]`` config table (sample rates), with ``annotators``.
        progress: optional callable taking the time in seconds of each decoded frame.
    """
    shots = ShotConsumer(segment_cfg["shot_detector"], segment_cfg["shot_threshold"],
                         max(1, round(segment_cfg["min_shot_s"] * fps)))
    motion = MotionConsumer()
    faces = FaceConsumer(detector, mesher, regions, analysis_cfg["face_sample_fps"], analysis_cfg["face_search_fps"],
                         keep_mesh=annotators is not None)
    quality = QualityConsumer(regions, analysis_cfg["quality_sample_fps"])
    # Faces run first: they leave the frame's face box (and mesh) for quality, pose and identity. Every frame's
    # small copy for shots and motion is scaled from its work frame (FrameView.small_bgr).
    consumers: dict[str, FrameConsumer] = {"faces": faces, "shots": shots, "motion": motion, "quality": quality}
    poses = identity = None
    if annotators is not None:
        assert annotate_cfg is not None  # the sample rates come with the models
        if annotators.body is not None:
            annotators.body.reset()
            if annotators.hands is not None:
                annotators.hands.reset()
            poses = consumers["pose"] = PoseConsumer(annotators.body, annotators.hands, regions,
                                                     annotate_cfg["pose_sample_fps"])
        if annotators.embedder is not None:
            identity = consumers["identity"] = IdentityConsumer(annotators.embedder, regions,
                                                                annotate_cfg["identity_sample_fps"])
    timer = StageTimer()
    # Fresh graphs for every video: results must not depend on which video a worker saw before
    # (the fault tests compare clips byte for byte across executors and schedules).
    mesher.reset()
    detector.close()
    work_size = frame_size = (0, 0)
    last_t = 0.0
    views = decode_frames(path, rotation_deg, analysis_cfg["work_max_side"], analysis_cfg["shot_max_side"])
    while True:
        with timer("decode"):
            view = next(views, None)
        if view is None:
            break
        for name, consumer in consumers.items():
            with timer(name):
                consumer.process_frame(view)
        if "work_rgb" in view.__dict__:
            work_size = view.work_rgb.shape[1::-1]
            frame_size = (view.frame.width, view.frame.height)
        last_t = view.t
        if progress is not None:
            progress(view.t)
    end_s = last_t + 1.0 / max(fps, 1e-6)
    track = faces.finish(end_s)
    annotation = None
    if annotators is not None:
        n = len(faces.meshes)
        pose_t, bodies, hands, hand_scores = poses.finish(end_s) if poses is not None else (
            np.zeros(0), np.zeros((0, BODY_POINTS, 4), np.float32), np.zeros((0, 2, HAND_POINTS, 3), np.float32),
            np.zeros((0, 2), np.float32))
        identity_t, chips = identity.finish(end_s) if identity is not None else (np.zeros(0),
                                                                                  np.zeros((0, CHIP_SIZE, CHIP_SIZE, 3), np.uint8))
        full_size = frame_size[::-1] if (rotation_deg // 90) % 2 else frame_size
        annotation = PassAnnotation(
            t=track.faces["t"], mesh=faces.meshes.array(),
            box=np.asarray(faces.boxes, np.float32).reshape(n, 4), luma=np.asarray(faces.luma, float).reshape(n, 3),
            pose_t=pose_t, body=bodies, hands=hands, hand_score=hand_scores, identity_t=identity_t,
            identity_chips=chips, work_size=(int(work_size[0]), int(work_size[1])), full_size=full_size)
    return Analysis(
        frame_times=np.asarray(shots.times, float),
        cut_times=shots.finish(end_s),
        work_size=(int(work_size[0]), int(work_size[1])),
        faces=track.faces,
        detections=track.detections,
        motion=motion.finish(end_s),
        quality=quality.finish(end_s),
        stage_seconds=timer.as_dict(),
        annotation=annotation,
    )
