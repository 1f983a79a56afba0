"""``dub``: an existing talking video re-lip-synced to new speech, streamed, on a CPU.

Two passes over the source video, so memory does not grow with its length:

1. **Track.** The face mesh runs on every frame (detector every ``REDETECT_EVERY`` frames, mediapipe's mesh
   tracking in between); each frame's mesh goes to a temporary file and its mouth is measured as a driving
   video's is (``talkset.animate.driving``: jaw, lip spread, rounding against the video's own closed-mouth
   statistics).
2. **Dub.** The new speech becomes a MotionTrack (``motion_from_audio``, or a learned model). For each output
   frame only the lower face moves: the portrait rig's mouth blend shapes (``talkset.animate.rig``), built once
   on the source's most closed mouth and carried into each frame's own face frame, are applied with the
   *difference* between the new mouth and the one the source shows, so the source's own mouth motion cancels
   (an open mouth closes, a closed one opens) while its head pose, blinks, brows and gaze stay untouched.
   The warp is piecewise affine on the mesh plus a ring of fixed points around the lower face; outside that
   ring every pixel is the source's, and the map is continuous across it (no seam to blend). Where the mouth
   opens wider than the source's, the inner mouth is painted (``MouthPainter``) with a feathered edge.

Length (``fit``): when the speech is longer than the video the video is extended by ``pingpong`` (forward,
then backward: no jump cut, the default), ``loop`` (a jump back to the start) or ``hold`` (the last frame
held, still with a moving mouth); longer video is cut to the speech, except ``trim``, which cuts whichever
is longer. Frames without a face pass through unchanged.
"""
from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
from matplotlib.path import Path as MplPath

from talkset.animate.api import MOTION_SR, AnimateError, _source_rate, write_video
from talkset.animate.render import DUPLICATE_IOU, MouthPainter, _iou, piecewise_affine, polygon_box
from talkset.animate.rig import FACE_OVAL, INNER_LOWER, INNER_UPPER, OUTER_LOWER, OUTER_UPPER, FaceFrame, Rig
from talkset.animate.track import MotionTrack
from talkset.audio.io import Audio, AudioError, load_audio
from talkset.errors import one_line
from talkset.media.frames import rising_frames
from talkset.rows import RowStore

log = logging.getLogger(__name__)

FITS = ("pingpong", "loop", "trim", "hold")
DEFAULT_FIT = "pingpong"
REDETECT_EVERY = 10  # frames between face detections while the mesh keeps the face
MESH_SHAPE = (478, 3)
MIN_FACE_SCORE = 0.5
MULTI_FACE_SHARE = 0.2  # more than one face in this share of detections (or the first) needs ``face``
BLOCK = 32  # frames decoded per backward step (pingpong), the most frames held in memory
N_SHAPES = 4  # the rig's mouth blend shapes: jaw, spread, narrow, round (the first rows of Rig.basis)
# The fixed ring around the lower face: the face oval's points below the nose pushed out from the mouth by
# this factor, so the chin's travel (JAW_TRAVEL ≈ 0.3 D) is absorbed by the neck and cheeks around it.
RING_SCALE = 1.35
RING_MARGIN_D = 0.15  # and at least this far out, in D (outer-eye-corner distance)
GRID_STEP = 8  # pixels between exact warp samples in the lower face; bilinear in between
LIP_STEP = 2  # ... and around the lips, where the map folds sharply
LIP_MARGIN_D = 0.15
PAINT_RAMP_D = 0.03  # extra opening (in D) over which the painted inner mouth fades in
NOSE_TIP = 1
# The frame outside the lower face is the source's, re-encoded: a lower CRF than animate's keeps it at about
# 40 dB PSNR on noisy 512-pixel sources (36 dB at CRF 20).
DUB_CRF = 16
DUB_PRESET = "superfast"  # about half veryfast's time at 512², for slightly larger files


class DubError(AnimateError):
    """Input or output that cannot be used for a dub; one line naming the file and why."""


# ---------------------------------------------------------------------------------------------- decoding


def _rgb(frame: av.VideoFrame, rotation_deg: int) -> np.ndarray:
    from talkset.media.frames import upright

    img = upright(frame.to_ndarray(format="rgb24"), rotation_deg)
    h, w = img.shape[:2]
    return img[: h // 2 * 2, : w // 2 * 2]  # H.264 4:2:0 needs even sides


def _decode(path: Path, rotation_deg: int, seek_s: float | None = None) -> Iterator[tuple[float, np.ndarray]]:
    """(time, RGB) of each frame with a rising time (decode_frames' rule), from the keyframe before ``seek_s``."""
    for frame, t in rising_frames(path, seek_s):
        yield t, _rgb(frame, rotation_deg)


class FrameReader:
    """Source frames by index: forward reads stream; a backward run (pingpong) seeks to the keyframe before a
    block of ``block`` frames and decodes it forward, so at most ``block`` frames are held.

    Args:
        path: the source video.
        times: (n,) presentation times of its frames (from the tracking pass), seconds.
        rotation_deg: display rotation.
        block: frames per backward block.
    """

    def __init__(self, path: Path, times: np.ndarray, rotation_deg: int, block: int = BLOCK):
        self.path, self.times, self.rotation = path, np.asarray(times, float), rotation_deg
        self.block = block
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._it: Iterator[tuple[float, np.ndarray]] | None = None
        self._next = 0  # index the open iterator yields next
        self._half = float(np.median(np.diff(self.times))) / 2 if len(self.times) > 1 else 0.02

    def _index(self, t: float) -> int:
        i = int(np.clip(np.searchsorted(self.times, t), 0, len(self.times) - 1))
        if i > 0 and abs(self.times[i - 1] - t) < abs(self.times[i] - t):
            i -= 1
        return i if abs(self.times[i] - t) <= self._half else -1

    def _open(self, start: int) -> None:
        self._it = _decode(self.path, self.rotation, float(self.times[start]) if start > 0 else None)
        self._next = -1  # unknown until the first frame arrives

    def _advance(self) -> tuple[int, np.ndarray] | None:
        assert self._it is not None  # _open ran first
        for t, rgb in self._it:
            i = self._index(t)
            if i >= 0:
                self._next = i + 1
                return i, rgb
        self._it = None
        return None

    def _keep(self, i: int, rgb: np.ndarray) -> None:
        self._cache[i] = rgb
        while len(self._cache) > self.block:
            self._cache.popitem(last=False)

    def get(self, i: int) -> np.ndarray:
        """Frame ``i`` (RGB uint8, even sides)."""
        if i in self._cache:
            return self._cache[i]
        if self._it is None or not (0 <= self._next <= i < self._next + 2 * self.block):
            self._open(max(0, i - self.block + 1) if self._next > i else i)
        while True:
            got = self._advance()
            if got is None:
                break
            j, rgb = got
            if j >= i - self.block + 1:
                self._keep(j, rgb)
            if j >= i:
                break
        if i not in self._cache:  # the decoder ended early: the nearest earlier frame stands in
            return self._cache[max(self._cache)] if self._cache else np.zeros((2, 2, 3), np.uint8)
        return self._cache[i]


# ---------------------------------------------------------------------------------------------- tracking


@dataclass
class SourceTrack:
    """The tracking pass over the source video.

    Attributes:
        times: (n,) frame times, seconds on the container clock.
        found: (n,) a face was meshed.
        mouth: (n, 3) the source's own jaw, lip spread and rounding (MotionTrack units).
        frame_size: (width, height) of the frames, pixels (even).
        fps: the video's average frame rate.
        reference: index of the frame with the most closed mouth (the rig is built on it).
        meshes: every frame's mesh (NaN without a face), mapped from a temporary file.
    """

    times: np.ndarray
    found: np.ndarray
    mouth: np.ndarray
    frame_size: tuple[int, int]
    fps: float
    reference: int
    meshes: np.ndarray  # (n, 478, 3) float32

    def __len__(self) -> int:
        return len(self.times)

    def mesh(self, i: int) -> np.ndarray:
        return np.asarray(self.meshes[i], np.float64)


def _distinct(boxes: list) -> list:
    kept: list = []
    for b in boxes:  # largest first; an overlapping second box is the same face
        if all(_iou(b, k) < DUPLICATE_IOU for k in kept):
            kept.append(b)
    return kept


def track_source(path: Path, *, face: int | None = None, progress: Callable[[int], None] | None = None
                 ) -> SourceTrack:
    """Meshes the chosen face on every frame and measures its own mouth motion.

    Args:
        path: the source video.
        face: which face when there are several, counted from the left from 0; None requires one face.
        progress: called with 1 after each frame.

    Raises:
        DubError: unreadable video, no face, several faces without ``face``, or no such face.
    """
    from talkset.animate.driving import _raw_features, expression
    from talkset.media.probe import ProbeError, probe
    from talkset.vision.face import FaceDetector, FaceMesher

    try:
        info = probe(path)
    except ProbeError as e:
        raise DubError(str(e)) from None
    detector, mesher = FaceDetector(min_confidence=MIN_FACE_SCORE), FaceMesher(tracking=True, refine=True)
    store = RowStore(MESH_SHAPE, np.float32, spill_bytes=0)  # on disk from the first frame: memory stays flat
    times, found, feats = [], [], []
    size = (0, 0)
    chosen = False
    multi = detections = 0
    since = REDETECT_EVERY
    centre = None
    missing = np.full(MESH_SHAPE, np.nan, np.float32)
    try:
        for t, rgb in _decode(path, info.rotation_deg):
            size = (rgb.shape[1], rgb.shape[0])
            lm, box = None, None
            if since >= REDETECT_EVERY or centre is None:
                boxes = _distinct(detector(rgb))
                since = 0
                if boxes:
                    detections += 1
                    multi += len(boxes) > 1
                    if not chosen or centre is None:  # nothing tracked yet (or its mesh failed): pick again
                        if len(boxes) > 1 and face is None:
                            raise DubError(f"{path}: {len(boxes)} faces at {t:.2f} s; choose one with --face N "
                                           f"(0 = leftmost)")
                        order = sorted(boxes, key=lambda b: b.center[0])
                        k = face or 0
                        if k >= len(order):
                            raise DubError(f"{path}: --face {k} asked for, but {len(order)} face(s) at {t:.2f} s")
                        box, chosen = order[k], True
                    else:  # the face nearest the tracked one
                        cx, cy = centre
                        box = min(boxes, key=lambda b: np.hypot(b.center[0] - cx, b.center[1] - cy))
                        if np.hypot(box.center[0] - cx, box.center[1] - cy) > box.x1 - box.x0:
                            box = None  # the tracked face is gone; another one is not it
                if box is None:
                    mesher.reset()
                else:
                    lm = mesher(rgb, box)
            else:
                lm = mesher(rgb, None)
            since += 1
            if lm is None or len(lm) != 478:
                lm = None
                since = REDETECT_EVERY
            else:
                centre = lm[:, :2].mean(axis=0)
            times.append(t)
            found.append(lm is not None)
            store.append(missing if lm is None else lm)
            feats.append(_raw_features(lm.astype(np.float64)) if lm is not None else np.full(9, np.nan))
            if progress is not None:
                progress(1)
    except av.FFmpegError as e:
        store.close()
        raise DubError(f"{path}: video cannot be decoded ({one_line(e)})") from None
    except BaseException:
        store.close()
        raise
    finally:
        detector.close()
        mesher.reset()
    found_a = np.asarray(found, bool)
    if not found_a.any():
        store.close()
        raise DubError(f"{path}: no face found in any of its {len(found_a)} frames")
    if face is None and detections and multi / detections > MULTI_FACE_SHARE:
        store.close()
        raise DubError(f"{path}: more than one face in {multi} of {detections} face detections; choose one "
                       f"with --face N (0 = leftmost)")
    f = np.asarray(feats)
    mouth = np.zeros((len(found_a), 3))
    expr = expression(f[found_a])
    mouth[found_a] = np.column_stack([expr["jaw"], expr["lip_width"], expr["lip_round"]])
    # The mesh jitters by a frame; a light smoothing keeps that out of the difference the warp applies.
    mouth[found_a] = _smooth3(mouth[found_a])
    gaps = np.where(found_a, f[:, 0], np.inf)
    reference = int(np.argmin(gaps))
    fps = float(info.avg_fps or info.fps)
    return SourceTrack(np.asarray(times), found_a, mouth, size, fps, reference, store.array())


def _smooth3(x: np.ndarray) -> np.ndarray:
    if len(x) < 3:
        return x
    pad = np.pad(x, ((1, 1), (0, 0)), mode="edge")
    return 0.25 * pad[:-2] + 0.5 * pad[1:-1] + 0.25 * pad[2:]


# ---------------------------------------------------------------------------------------------- length


def source_index(j: int, n_src: int, fit: str) -> int:
    """Which source frame output frame ``j`` shows, by the length policy ``fit``."""
    if fit == "pingpong" and n_src > 1:
        p = j % (2 * n_src - 2)
        return p if p < n_src else 2 * n_src - 2 - p
    if fit == "loop":
        return j % n_src
    return min(j, n_src - 1)


def output_frames(n_speech: int, n_src: int, fit: str) -> int:
    """Output length in frames: the speech's, or for ``trim`` the shorter of speech and video."""
    return min(n_speech, n_src) if fit == "trim" else n_speech


# ---------------------------------------------------------------------------------------------- the warp


class LowerFaceWarp:
    """Moves the lower face of source frames by mouth blend-shape differences.

    Args:
        reference_rgb: a source frame with the mouth closed (its lips give the painted inner mouth's colours).
        reference_landmarks: (478, 3) mesh of that frame.
    """

    def __init__(self, reference_rgb: np.ndarray, reference_landmarks: np.ndarray):
        h, w = reference_rgb.shape[:2]
        rig = Rig(reference_landmarks, w, h)
        f = rig.frame
        px = rig.basis[:N_SHAPES].reshape(N_SHAPES, -1, 2)
        # Blend shapes in the face's own units (D along the eyes and down the face), for any frame's pose.
        self.basis_u = px @ f.ex / f.unit_px
        self.basis_v = px @ f.ey / f.unit_px
        self.painter = MouthPainter(reference_rgb, reference_landmarks, rig)
        self.seam_rgb = np.clip(self.painter.cavity * 1.6, 0, 255).astype(np.float32)  # shadowed lip colour
        self.lips = list(OUTER_UPPER + OUTER_LOWER)

    def lower_face(self, lm: np.ndarray) -> np.ndarray:
        """(k, 2) fixed ring around the part of the face the warp may move, in pixels of the frame."""
        f = FaceFrame.of(lm)
        u, v = f.local(lm)
        nose_v = float(v[NOSE_TIP])
        oval = np.array(FACE_OVAL)
        low = oval[v[oval] > nose_v]
        pts_u, pts_v = u[low], v[low]
        # Outwards from the mouth centre, by a factor and at least a margin.
        r = np.hypot(pts_u, pts_v)
        k = np.maximum(RING_SCALE, (r + RING_MARGIN_D) / np.maximum(r, 1e-6))
        ring_u, ring_v = pts_u * k, pts_v * k
        # Closed by a straight edge just below the nose tip, so the nose and everything above stay outside.
        cap_v = nose_v + RING_MARGIN_D
        ring_v = np.maximum(ring_v, cap_v)
        cap_u = np.linspace(ring_u.min(), ring_u.max(), 7)
        ring_u = np.concatenate([ring_u, cap_u])
        ring_v = np.concatenate([ring_v, np.full(len(cap_u), cap_v)])
        order = np.argsort(np.arctan2(ring_v - 0.5 * cap_v, ring_u))  # star-shaped about a point below the cap
        ring_u, ring_v = ring_u[order], ring_v[order]
        return f.origin + np.outer(ring_u, f.ex) * f.unit_px + np.outer(ring_v, f.ey) * f.unit_px

    def targets(self, lm: np.ndarray, delta: np.ndarray) -> np.ndarray:
        """(478, 2) target mesh: the source mesh with the blend-shape ``delta`` (N_SHAPES,) applied."""
        f = FaceFrame.of(lm)
        du, dv = delta @ self.basis_u, delta @ self.basis_v
        return lm[:, :2] + f.to_image(du, dv)

    def apply(self, rgb: np.ndarray, lm: np.ndarray, delta: np.ndarray, source_gap: np.ndarray | None = None
              ) -> np.ndarray:
        """The frame with its lower face moved by ``delta`` (jaw, spread, narrow, round differences).

        Args:
            rgb: source frame, RGB uint8.
            lm: (478, 3) its mesh.
            delta: (N_SHAPES,) blend-shape coefficient differences, new minus the source's.
            source_gap: the source's own inner-lip gaps (upper to lower contour, pixels); the inner mouth is
                painted only where the target opens wider.
        """
        if not np.any(np.abs(delta) > 1e-3):
            return rgb
        h, w = rgb.shape[:2]
        target = self.targets(lm, delta)
        ring = self.lower_face(lm)
        # Only mesh points inside the ring take part: pixels outside it are the source's (put back below), so
        # points there would only add triangles to locate.
        inner = MplPath(ring).contains_points(lm[:, :2])
        src_pts = np.concatenate([lm[inner, :2], ring])
        tgt_pts = np.concatenate([target[inner], ring])
        x0, y0 = np.floor(ring.min(axis=0)).astype(int) - 2
        x1, y1 = np.ceil(ring.max(axis=0)).astype(int) + 2
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 < 4 or y1 - y0 < 4:
            return rgb
        # The box's edge is fixed too, so the map is the identity along it.
        bx = np.linspace(x0, x1 - 1, 6)
        by = np.linspace(y0, y1 - 1, 6)
        border = np.array([(x, y) for x in bx for y in (y0, y1 - 1)] + [(x, y) for y in by[1:-1] for x in (x0, x1 - 1)],
                          float)
        keep = (src_pts[:, 0] > x0) & (src_pts[:, 0] < x1 - 1) & (src_pts[:, 1] > y0) & (src_pts[:, 1] < y1 - 1)
        keep &= (tgt_pts[:, 0] > x0) & (tgt_pts[:, 0] < x1 - 1) & (tgt_pts[:, 1] > y0) & (tgt_pts[:, 1] < y1 - 1)
        src_pts = np.concatenate([src_pts[keep], border])
        tgt_pts = np.concatenate([tgt_pts[keep], border])
        mx, my = self._map(tgt_pts, src_pts, (x0, y0, x1, y1), target)
        out = rgb.copy()
        warped = cv2.remap(rgb, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        # Outside the ring the map is the identity up to float rounding, which bilinear sampling turns into
        # ±1 changes: the source's own pixels are put back there, so the rest of the frame is bit-exact.
        inside = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(inside, [np.round(ring - [x0, y0]).astype(np.int32)], 1)
        box = out[y0:y1, x0:x1]
        box[inside > 0] = warped[inside > 0]
        mesh = np.column_stack([target, lm[:, 2]])
        ramp = PAINT_RAMP_D * FaceFrame.of(lm).unit_px
        # An open source mouth stretched a little wider still shows its own teeth and cavity: the paint fades
        # in over as much extra opening as the source already has, so it does not grey out real teeth.
        open_ramp = max(ramp, float(np.max(source_gap))) if source_gap is not None else ramp
        self.painter.paint(out, mesh, None, than=source_gap, ramp_px=open_ramp)
        if source_gap is not None:
            self._seam(out, target, source_gap, ramp)
        return out

    def _seam(self, frame: np.ndarray, target: np.ndarray, source_gap: np.ndarray, ramp_px: float) -> None:
        """Where the mouth closes more than the source's, what was inside it (teeth, tongue) is squeezed into
        a sliver between the lips: that sliver is shaded as the dark line between touching lips instead."""
        upper, lower = target[list(INNER_UPPER)], target[list(INNER_LOWER)]
        closed_by = float((np.maximum(source_gap, 0) - (lower[:, 1] - upper[:, 1])).max())
        if closed_by < 0.5:
            return
        poly = np.concatenate([upper, lower[::-1]])
        box = polygon_box(poly, 4, frame.shape)
        if box is None:
            return
        x0, y0, x1, y1 = box
        mask: np.ndarray = np.zeros((y1 - y0, x1 - x0), np.float32)
        cv2.fillPoly(mask, [np.round((poly - [x0, y0]) * 16).astype(np.int32)], 1.0, lineType=cv2.LINE_AA, shift=4)
        # A touching-lips line: at least a pixel wide, soft.
        mask = cv2.GaussianBlur(cv2.dilate(mask, np.ones((2, 1), np.uint8)), (0, 0), 0.8)
        alpha = (mask * np.clip(closed_by / ramp_px, 0, 1))[..., None]
        region = frame[y0:y1, x0:x1].astype(np.float32)
        frame[y0:y1, x0:x1] = np.clip(region + (self.seam_rgb - region) * alpha, 0, 255).astype(np.uint8)

    def _map(self, targets: np.ndarray, sources: np.ndarray, box: tuple[int, int, int, int], mesh: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
        """(map_x, map_y) of the box for cv2.remap: exact on a grid, denser around the target lips."""
        x0, y0, x1, y1 = box
        bw, bh = x1 - x0, y1 - y0
        gw, gh = -(-bw // GRID_STEP), -(-bh // GRID_STEP)
        gy, gx = np.mgrid[0:gh, 0:gw]
        queries = [np.column_stack([x0 + (gx.ravel() + 0.5) * GRID_STEP - 0.5,
                                    y0 + (gy.ravel() + 0.5) * GRID_STEP - 0.5])]
        unit = float(np.linalg.norm(mesh[263] - mesh[33]))
        pad = LIP_MARGIN_D * unit
        pts = mesh[self.lips]
        lx0, ly0 = int(max(pts[:, 0].min() - pad, x0)), int(max(pts[:, 1].min() - pad, y0))
        lx0, ly0 = x0 + (lx0 - x0) // LIP_STEP * LIP_STEP, y0 + (ly0 - y0) // LIP_STEP * LIP_STEP
        lx1, ly1 = int(min(pts[:, 0].max() + pad, x1)), int(min(pts[:, 1].max() + pad, y1))
        lx1 = min(x1, lx0 + -(-(lx1 - lx0) // LIP_STEP) * LIP_STEP)
        ly1 = min(y1, ly0 + -(-(ly1 - ly0) // LIP_STEP) * LIP_STEP)
        lw, lh = (lx1 - lx0) // LIP_STEP, (ly1 - ly0) // LIP_STEP
        if lw > 0 and lh > 0:
            qy, qx = np.mgrid[0:lh, 0:lw]
            queries.append(np.column_stack([lx0 + (qx.ravel() + 0.5) * LIP_STEP - 0.5,
                                            ly0 + (qy.ravel() + 0.5) * LIP_STEP - 0.5]))
        q = np.concatenate(queries)
        src = piecewise_affine(targets, sources, q).astype(np.float32)
        n = gw * gh
        mx = cv2.resize(src[:n, 0].reshape(gh, gw), (gw * GRID_STEP, gh * GRID_STEP), interpolation=cv2.INTER_LINEAR)
        my = cv2.resize(src[:n, 1].reshape(gh, gw), (gw * GRID_STEP, gh * GRID_STEP), interpolation=cv2.INTER_LINEAR)
        mx, my = mx[:bh, :bw], my[:bh, :bw]
        if lw > 0 and lh > 0:
            sx = cv2.resize(src[n:, 0].reshape(lh, lw), (lw * LIP_STEP, lh * LIP_STEP), interpolation=cv2.INTER_LINEAR)
            sy = cv2.resize(src[n:, 1].reshape(lh, lw), (lw * LIP_STEP, lh * LIP_STEP), interpolation=cv2.INTER_LINEAR)
            mx[ly0 - y0:ly0 - y0 + lh * LIP_STEP, lx0 - x0:lx0 - x0 + lw * LIP_STEP] = sx
            my[ly0 - y0:ly0 - y0 + lh * LIP_STEP, lx0 - x0:lx0 - x0 + lw * LIP_STEP] = sy
        return mx, my


def inner_gaps(lm: np.ndarray) -> np.ndarray:
    """Per contour point, lower minus upper inner lip (pixels, image y): the mouth's opening along its width."""
    return lm[list(INNER_LOWER), 1] - lm[list(INNER_UPPER), 1]


# ---------------------------------------------------------------------------------------------- motion


def motion_source(motion_model: str | Path | None) -> Callable[..., MotionTrack]:
    """``(speech, fps, n_frames, seed, text, language) -> MotionTrack``: a learned model's, or the rules'.

    A model is loaded here, before any video is decoded, so a bad one fails at once.

    Raises:
        DubError: ``talkset.train`` is missing, or the model cannot be loaded.
    """
    if motion_model is None:
        def rules(speech, *, fps, n_frames, seed, text, language):
            from talkset.animate.motion import motion_from_audio

            return motion_from_audio(speech, fps=fps, language=language, text=text, seed=seed)

        return rules
    try:
        from talkset.train import load_motion_model
    except ImportError:
        raise DubError(f"{motion_model}: --motion-model needs talkset.train (`talkset train`), which this "
                       f"installation does not have") from None
    try:
        model = load_motion_model(motion_model)
    except Exception as e:  # a user's file: whatever the loader raises is a bad model, not a crash
        raise DubError(f"{motion_model}: cannot load motion model ({one_line(e)})") from None

    def learned(speech, *, fps, n_frames, seed, text, language):
        return model.motion(speech, fps=fps, n_frames=n_frames, seed=seed)

    return learned


def _motion(source: Callable[..., MotionTrack], speech: Audio, *, fps: float, n_frames: int, seed: int,
            text: str | None, language: str | None) -> MotionTrack:
    track = source(speech, fps=fps, n_frames=n_frames, seed=seed, text=text, language=language)
    if len(track) < n_frames:  # a source that ends early: the rest of the mouth closes
        rest = MotionTrack.rest(n_frames, fps)
        rest.jaw[: len(track)] = track.jaw
        rest.lip_width[: len(track)] = track.lip_width
        rest.lip_round[: len(track)] = track.lip_round
        track = rest
    return track.slice(0, n_frames)


def mouth_delta(new: MotionTrack, j: int, source_mouth: np.ndarray) -> np.ndarray:
    """(N_SHAPES,) blend-shape differences for output frame ``j``: the new mouth minus the source's.

    Args:
        new: the speech's motion track.
        j: output frame index.
        source_mouth: (3,) the source frame's jaw, lip spread and rounding.
    """
    jaw0, spread0, round0 = source_mouth
    w = float(new.lip_width[j])
    return np.array([float(new.jaw[j]) - jaw0, max(w, 0.0) - spread0, max(-w, 0.0), float(new.lip_round[j]) - round0])


# ---------------------------------------------------------------------------------------------- the API


def dub(video: str | Path, audio: str | Path, out: str | Path, *, fit: str = DEFAULT_FIT, face: int | None = None,
        text: str | None = None, language: str | None = None, motion_model: str | Path | None = None,
        seed: int = 0, progress: bool = True, overwrite: bool = False) -> Path:
    """Re-lip-syncs the talking face of ``video`` to the speech ``audio`` and writes ``out`` (H.264 + AAC mp4).

    The output keeps the source's frames, frame rate and size (sides rounded down to even); only the lower
    face changes. Its audio is the new speech (mono, at the nearest AAC rate).

    Args:
        video: the source talking video.
        audio: the new speech (any file FFmpeg reads).
        out: output .mp4 path.
        fit: length policy when speech and video differ: pingpong, loop, trim or hold (see the module doc).
        face: the face to dub when there are several, from the left, 0-based; None requires exactly one.
        text: transcript of English speech, for forced alignment.
        language: ISO code of the speech; None detects it.
        motion_model: a learned audio-to-motion model (``talkset train``) instead of the rule-based motion.
        seed: makes the motion reproducible.
        progress: show progress bars.
        overwrite: replace an existing output instead of refusing.

    Returns:
        ``out`` as a Path.

    Raises:
        DubError: unreadable or unusable inputs, or an existing output without ``overwrite``; one line naming
            the file and the reason.
    """
    from tqdm import tqdm

    video, audio, out = Path(video), Path(audio), Path(out)
    if out.exists() and not overwrite:
        raise DubError(f"{out}: already exists; pass overwrite=True (--force) to replace it")
    if fit not in FITS:
        raise DubError(f"unknown fit {fit!r} (choose {', '.join(FITS)})")
    if face is not None and face < 0:
        raise DubError(f"--face must be 0 or more, got {face}")
    if not video.is_file():
        raise DubError(f"{video}: no such file")
    try:
        speech = load_audio(audio, sr=MOTION_SR)
    except AudioError as e:
        raise DubError(str(e)) from None
    if speech.duration_s <= 0:
        raise DubError(f"{audio}: no audio samples")
    source = motion_source(motion_model)

    with tqdm(unit="frame", desc="track face", disable=not progress, leave=False) as bar:
        src = track_source(video, face=face, progress=bar.update)
    fps = src.fps
    n_speech = math.ceil(speech.duration_s * fps - 1e-9)
    if n_speech < 1:
        raise DubError(f"{audio}: audio shorter than one frame ({speech.duration_s:.3f} s)")
    n_out = output_frames(n_speech, len(src), fit)
    motion = _motion(source, speech, fps=fps, n_frames=n_out, seed=seed, text=text, language=language)
    out_sr = aac_rate_of(audio)
    sound = speech if out_sr == MOTION_SR else load_audio(audio, sr=out_sr)
    if fit == "trim":  # the speech is cut to the video too
        sound = Audio(sound.samples[: int(round(n_out / fps * sound.sr))], sound.sr, sound.start_s)
    reader = FrameReader(video, src.times, _rotation(video))
    warp = LowerFaceWarp(reader.get(src.reference), src.mesh(src.reference))
    frames = _dubbed(src, reader, warp, motion, fit, n_out)
    with tqdm(total=n_out, unit="frame", desc="dub", disable=not progress, leave=False) as bar:
        try:
            write_video(out, _counted(frames, bar), src.frame_size, fps, sound, crf=DUB_CRF, preset=DUB_PRESET)
        except (OSError, av.FFmpegError) as e:
            raise DubError(f"{out}: cannot write ({one_line(e)})") from None
    return out


def _counted(frames, bar):
    for f in frames:
        yield f
        bar.update(1)


def aac_rate_of(audio: Path) -> int:
    from talkset.media.encode import aac_rate

    return aac_rate(_source_rate(audio))


def _rotation(path: Path) -> int:
    from talkset.media.probe import probe

    return probe(path).rotation_deg


def _dubbed(src: SourceTrack, reader: FrameReader, warp: LowerFaceWarp, motion: MotionTrack, fit: str,
            n_out: int) -> Iterator[np.ndarray]:
    for j in range(n_out):
        s = source_index(j, len(src), fit)
        rgb = reader.get(s)
        if not src.found[s]:
            yield rgb  # no face: the frame passes through
            continue
        lm = src.mesh(s)
        yield warp.apply(rgb, lm, mouth_delta(motion, j, src.mouth[s]), inner_gaps(lm))
