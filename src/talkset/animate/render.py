"""The renderer: a portrait and a MotionTrack become RGB frames, one at a time.

Per frame the rig (talkset.animate.rig) gives target positions of the face mesh, of rings around the head and
of fixed border points. The warp is piecewise affine on the Delaunay triangulation of those target points,
evaluated exactly on a coarse grid (every ``GRID_STEP`` pixels: the grid point's triangle and barycentric
weights give its source position in the portrait), then upsampled and applied with one ``cv2.remap``. A
triangulation of the *target* points cannot fold, so an opening mouth or a closing eyelid is always a valid
map. When the portrait's mouth is closed, an inner mouth (dark cavity, upper teeth, a hint of lower teeth) is
painted inside the target inner-lip polygon with a feathered edge.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import cv2
import numpy as np
from scipy.spatial import Delaunay

from talkset.animate.rig import EYE_LOWER, EYE_UPPER, INNER_LOWER, INNER_UPPER, IRIS, OUTER_LOWER, OUTER_UPPER, Rig
from talkset.animate.track import MotionTrack
from talkset.errors import TalksetError

if TYPE_CHECKING:
    from talkset.vision.face import FaceBox

GRID_STEP = 8  # pixels between exact warp samples; the map is bilinear in between
# Eyes and mouth fold sharply (a closing lid, an opening jaw): there the map is sampled densely, in boxes
# around the target contours (margins in D, the outer-eye-corner distance).
EXACT_MARGIN_D = 0.12
EXACT_STEP = 2  # pixels between warp samples there
CROP_FACE_SCALE = 2.1  # crop side in detector-box sides: head, hair, neck and some shoulder
CROP_DOWN = 0.12  # crop centre below the box centre, in crop sides (the neck is below, hair above)
MAX_WHOLE_SIDE = 1920  # whole-image output is scaled down to this long side
MIN_FACE_SCORE = 0.5
DUPLICATE_IOU = 0.3


_EXACT_PARTS = [list(EYE_UPPER[e] + EYE_LOWER[e] + IRIS[e]) for e in (0, 1)] + [list(OUTER_UPPER + OUTER_LOWER)]


class PortraitError(TalksetError, ValueError):
    """A portrait that cannot be animated (no face, several faces, no mesh); one line saying why."""


@dataclass(frozen=True)
class Framing:
    """Where the output frame comes from: a square crop (possibly scaled) or the whole image."""

    x0: float
    y0: float
    side_x: float
    side_y: float
    width: int
    height: int

    def apply(self, image: np.ndarray, margin: int = 0) -> np.ndarray:
        """The output-frame view of ``image`` (RGB uint8), with ``margin`` extra output pixels on every side
        (taken from the portrait beyond the crop where it has them, else its edge pixels repeated)."""
        sx, sy = self.width / self.side_x, self.height / self.side_y
        m = np.array([[sx, 0, margin - self.x0 * sx], [0, sy, margin - self.y0 * sy]], np.float32)
        interp = cv2.INTER_AREA if sx < 1 else cv2.INTER_CUBIC
        return cv2.warpAffine(image, m, (self.width + 2 * margin, self.height + 2 * margin), flags=interp,
                              borderMode=cv2.BORDER_REPLICATE)


def _iou(a, b) -> float:
    ix = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0))
    iy = max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
    inter = ix * iy
    return inter / max(a.area + b.area - inter, 1e-9)


def find_one_face(image: np.ndarray):
    """The one face of a portrait as a FaceBox; PortraitError if there is none or more than one."""
    from talkset.vision.face import FaceDetector

    detector = FaceDetector(min_confidence=MIN_FACE_SCORE)
    try:
        boxes = detector(image)
    finally:
        detector.close()
    kept: list[FaceBox] = []
    for b in boxes:  # largest first; an overlapping second box is the same face
        if all(_iou(b, k) < DUPLICATE_IOU for k in kept):
            kept.append(b)
    if not kept:
        raise PortraitError("no face found; the portrait must show one face")
    if len(kept) > 1:
        raise PortraitError(f"{len(kept)} faces found; the portrait must show exactly one face")
    return kept[0]


def framing_for(image_shape: tuple[int, ...], box, size: int, crop: bool) -> Framing:
    """The output framing: a square around the face (``size`` pixels) or the whole image with even sides.

    Args:
        image_shape: (height, width, ...) of the portrait.
        box: the face's FaceBox in portrait pixels.
        size: output side in pixels for the crop; must be even.
        crop: False for the whole image.
    """
    h, w = image_shape[:2]
    if not crop:
        scale = min(1.0, MAX_WHOLE_SIDE / max(w, h))
        ow, oh = int(w * scale) // 2 * 2, int(h * scale) // 2 * 2
        return Framing(0.0, 0.0, ow / scale, oh / scale, ow, oh)
    if size < 64 or size % 2:
        raise ValueError(f"size must be an even number of pixels >= 64, got {size}")
    cx, cy = box.center
    side = min(CROP_FACE_SCALE * max(box.x1 - box.x0, box.y1 - box.y0), float(w), float(h))
    cy += CROP_DOWN * side
    # Stay inside the image where it can (no replicated border); the face stays in frame regardless.
    x0 = float(np.clip(cx - side / 2, 0, w - side))
    y0 = float(np.clip(cy - side / 2, 0, h - side))
    return Framing(x0, y0, side, side, size, size)


def mesh_face(frame: np.ndarray) -> np.ndarray:
    """(478, 3) refined face mesh of the one face in an output frame; PortraitError if none is found."""
    from talkset.vision.face import FaceMesher

    box = find_one_face(frame)
    mesher = FaceMesher(tracking=False, refine=True)
    try:
        lm = mesher(frame, box)
    finally:
        mesher.reset()
    if lm is None or len(lm) < 478:
        raise PortraitError("a face was detected but the face mesh could not be fitted to it")
    return lm


class Renderer:
    """A portrait rig that renders MotionTracks.

    Args:
        image_rgb: the portrait, RGB uint8 (H, W, 3).
        size: output side in pixels when ``crop`` (even).
        crop: True for a square crop around the face, False for the whole image (even sides).

    Raises:
        PortraitError: no face, several faces, or no face mesh.
    """

    def __init__(self, image_rgb: np.ndarray, *, size: int = 512, crop: bool = True):
        image = np.ascontiguousarray(image_rgb[..., :3], dtype=np.uint8)
        box = find_one_face(image)
        self.framing = framing_for(image.shape, box, size, crop)
        self.image = self.framing.apply(image)
        self.landmarks = mesh_face(self.image)
        h, w = self.image.shape[:2]
        self.frame_size = (w, h)
        self.rig = Rig(self.landmarks, w, h)
        # The warp samples this larger view, so a head moving in from the frame's edge brings real pixels.
        self._pad = int(np.ceil(self.rig.margin)) + 2
        self._source = self.framing.apply(image, self._pad)
        self._sources = self.rig.rest_points + self._pad
        self._mouth = MouthPainter(self.image, self.landmarks, self.rig)
        gh, gw = -(-h // GRID_STEP), -(-w // GRID_STEP)
        gy, gx = np.mgrid[0:gh, 0:gw]
        # Grid nodes where cv2.resize puts them when scaling (gh, gw) up by GRID_STEP.
        self._grid = np.column_stack([(gx.ravel() + 0.5) * GRID_STEP - 0.5, (gy.ravel() + 0.5) * GRID_STEP - 0.5])
        self._grid_shape = (gh, gw)

    def _exact_boxes(self, mesh: np.ndarray) -> list[tuple[int, int, int, int]]:
        """(x0, y0, x1, y1) boxes (even coordinates) around the target eyes and lips, clipped to the frame."""
        w, h = self.frame_size
        pad = EXACT_MARGIN_D * self.rig.frame.unit_px
        boxes = []
        for part in _EXACT_PARTS:
            pts = mesh[part, :2]
            x0, y0 = (np.floor(pts.min(axis=0) - pad).astype(int) // EXACT_STEP) * EXACT_STEP
            x1, y1 = -(-np.ceil(pts.max(axis=0) + pad).astype(int) // EXACT_STEP) * EXACT_STEP
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
            if x1 > x0 and y1 > y0:
                boxes.append((int(x0), int(y0), int(x1), int(y1)))
        return boxes

    def backward_map(self, targets: np.ndarray, mesh: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Full-resolution (map_x, map_y) float32 for cv2.remap: where each output pixel comes from, in pixels
        of the padded source view (the output frame plus a margin).

        Args:
            targets: (P, 2) target positions of the rig's control points (``rig.rest_points`` order).
            mesh: (478, 3) target mesh; with it, the map is sampled densely around the eyes and lips.
        """
        boxes = self._exact_boxes(mesh) if mesh is not None else []
        queries = [self._grid]
        for x0, y0, x1, y1 in boxes:
            gy, gx = np.mgrid[0:(y1 - y0) // EXACT_STEP, 0:(x1 - x0) // EXACT_STEP]
            queries.append(np.column_stack([x0 + (gx.ravel() + 0.5) * EXACT_STEP - 0.5,
                                            y0 + (gy.ravel() + 0.5) * EXACT_STEP - 0.5]))
        q = np.concatenate(queries)
        src = piecewise_affine(targets, self._sources, q).astype(np.float32)
        gh, gw = self._grid_shape
        w, h = self.frame_size
        n = gh * gw
        up = (gw * GRID_STEP, gh * GRID_STEP)
        mx = cv2.resize(src[:n, 0].reshape(gh, gw), up, interpolation=cv2.INTER_LINEAR)[:h, :w]
        my = cv2.resize(src[:n, 1].reshape(gh, gw), up, interpolation=cv2.INTER_LINEAR)[:h, :w]
        for x0, y0, x1, y1 in boxes:
            bh, bw = (y1 - y0) // EXACT_STEP, (x1 - x0) // EXACT_STEP
            k = bh * bw
            mx[y0:y1, x0:x1] = cv2.resize(src[n:n + k, 0].reshape(bh, bw), (x1 - x0, y1 - y0),
                                          interpolation=cv2.INTER_LINEAR)
            my[y0:y1, x0:x1] = cv2.resize(src[n:n + k, 1].reshape(bh, bw), (x1 - x0, y1 - y0),
                                          interpolation=cv2.INTER_LINEAR)
            n += k
        return mx, my

    def render_frame(self, track: MotionTrack, i: int) -> np.ndarray:
        """Frame i of ``track`` as RGB uint8 (height, width, 3)."""
        mesh, targets = self.rig.points(track, i)
        mx, my = self.backward_map(targets, mesh)
        out = cv2.remap(self._source, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        self._mouth.paint(out, mesh, targets)
        return out

    def render(self, track: MotionTrack) -> Iterator[np.ndarray]:
        """The frames of ``track`` one at a time (RGB uint8), so a long track never sits in memory."""
        for i in range(len(track)):
            yield self.render_frame(track, i)


def piecewise_affine(targets: np.ndarray, sources: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Source positions of ``queries`` under the piecewise-affine map targets → sources.

    The map is linear on each triangle of the Delaunay triangulation of ``targets``. Point location uses
    matplotlib's trapezoid map, whose cost does not depend on sliver triangles (scipy's walk falls back to a
    brute-force search when lips or lids touch, hundreds of times slower).

    Args:
        targets: (P, 2) control points in the output frame, pixels.
        sources: (P, 2) where each control point comes from in the portrait, pixels.
        queries: (Q, 2) output positions, pixels, inside the hull of ``targets``.
    """
    import matplotlib.tri as mtri

    simplices = Delaunay(targets).simplices
    finder = mtri.Triangulation(targets[:, 0], targets[:, 1], simplices).get_trifinder()
    # matplotlib's stubs say ArrayLike; TriFinder returns an int array of triangle indices (-1 outside)
    found = cast(np.ndarray, finder(queries[:, 0], queries[:, 1]))
    lost = found < 0
    if lost.any():  # on a sliver edge; scipy's exact search for these few points
        found[lost] = np.maximum(Delaunay(targets).find_simplex(queries[lost], bruteforce=True), 0)
    tri = simplices[found]
    a, b, c = targets[tri[:, 0]], targets[tri[:, 1]], targets[tri[:, 2]]
    v0, v1, v2 = b - a, c - a, queries - a
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    ok = np.abs(den) > 1e-9
    den = np.where(ok, den, 1.0)
    wb = np.where(ok, (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / den, 0.0)
    wc = np.where(ok, (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / den, 0.0)
    wa = 1 - wb - wc
    return wa[:, None] * sources[tri[:, 0]] + wb[:, None] * sources[tri[:, 1]] + wc[:, None] * sources[tri[:, 2]]


def polygon_box(poly: np.ndarray, pad: int, shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """The pixel box (x0, y0, x1, y1) around a polygon plus ``pad``, inside a frame of ``shape``; None if empty."""
    x0, y0 = np.floor(poly.min(axis=0)).astype(int) - pad
    x1, y1 = np.ceil(poly.max(axis=0)).astype(int) + pad
    h, w = shape[:2]
    x0, y0, x1, y1 = max(int(x0), 0), max(int(y0), 0), min(int(x1), w), min(int(y1), h)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


class MouthPainter:
    """Paints the inside of an opened mouth: cavity and teeth, or a dark gap between the portrait's own teeth."""

    def __init__(self, image: np.ndarray, landmarks: np.ndarray, rig: Rig):
        self.rig = rig
        self.unit = rig.frame.unit_px
        lm = landmarks[:, :2]
        lips = np.concatenate([lm[list(OUTER_UPPER)], lm[list(OUTER_LOWER[::-1])]]).astype(np.int32)
        mask = np.zeros(image.shape[:2], np.uint8)
        cv2.fillPoly(mask, [lips], 1)
        lip_rgb = image[mask > 0].reshape(-1, 3).astype(np.float32)
        lip = np.median(lip_rgb, axis=0) if len(lip_rgb) else np.array([150.0, 90, 90])
        brightness = float(np.clip(lip.mean() / 140.0, 0.5, 1.4))
        # Cavity: the lips' hue, very dark; teeth: a warm off-white at the face's overall brightness.
        self.cavity = np.clip(lip * 0.28, 8, 90).astype(np.float32)
        self.throat = np.clip(lip * 0.12, 4, 50).astype(np.float32)
        self.teeth = np.clip(np.array([208.0, 200, 186]) * brightness, 110, 235).astype(np.float32)
        self.feather = max(0.6, 0.012 * self.unit)
        rest_rows = rig.mouth_gap_rows(rig.rest_points)
        self.rest_band = (rest_rows[1][:, 1] - rest_rows[0][:, 1]) if rest_rows is not None else 0.0

    def paint(self, frame: np.ndarray, mesh: np.ndarray, targets: np.ndarray | None, *,
              than: np.ndarray | None = None, ramp_px: float = 2.0) -> None:
        """Paints in place into ``frame`` (RGB uint8) for the target ``mesh`` (478, 3) and control points.

        A closed portrait mouth gets cavity and teeth inside the inner lips; an open one (its own teeth ride
        with the lips) gets a dark gap between its upper and lower teeth as the jaw opens beyond its rest.

        Args:
            frame: the warped frame, changed in place.
            mesh: (478, 3) target mesh.
            targets: the rig's target control points (for an open portrait mouth's teeth rows).
            than: the mouth the frame was warped from (a dub's source frame): its inner-lip gaps (pixels,
                ``INNER_UPPER`` to ``INNER_LOWER`` order); cavity and teeth fade in only as far as the target
                opens wider than these.
            ramp_px: extra opening, pixels, over which the paint fades in.
        """
        if than is None and targets is None:
            raise ValueError("paint needs the target control points or the source's mouth (than)")
        rows = None if than is not None or targets is None else self.rig.mouth_gap_rows(targets)
        teeth = rows is None
        upper, lower = rows if rows is not None else (mesh[list(INNER_UPPER), :2], mesh[list(INNER_LOWER), :2])
        gaps = lower[:, 1] - upper[:, 1]
        # How much wider than the portrait's (or the source frame's) own mouth (0 for a closed one), pixels.
        if than is not None:
            opened = float((gaps - np.maximum(than, 0)).max())
        else:
            opened = float(gaps.max()) if teeth else float((gaps - self.rest_band).max())
        if opened < 0.5:
            return
        poly = np.concatenate([upper, lower[::-1]])
        box = polygon_box(poly, int(3 * self.feather) + 3, frame.shape)
        if box is None:
            return
        x0, y0, x1, y1 = box
        shift = np.array([x0, y0])
        ss = 4  # sub-pixel polygon edges (cv2 fixed-point shift)
        scale = 1 << ss

        def fill(pts_list, value=1.0):
            m = np.zeros((y1 - y0, x1 - x0), np.float32)
            cv2.fillPoly(m, [np.round((p - shift) * scale).astype(np.int32) for p in pts_list], value,
                         lineType=cv2.LINE_AA, shift=ss)
            return m

        inside = fill([poly])
        gap_mid = max(float(gaps.max()), 1e-3)
        # Teeth: a band under the upper lip, as tall as a fraction of the local opening (none at the corners).
        tooth_h = np.minimum(gaps * 0.35, 0.055 * self.unit)
        upper_teeth = fill([np.concatenate([upper, (upper + np.column_stack([0 * tooth_h, tooth_h]))[::-1]])])
        low_h = np.clip(gaps - 0.16 * self.unit, 0, 0.04 * self.unit)
        lower_teeth = fill([np.concatenate([lower - np.column_stack([0 * low_h, low_h]), lower[::-1]])])
        # Shade: darker towards the middle of the opening (the throat), teeth darker towards the corners.
        ys = np.arange(y0, y1, dtype=np.float32)[:, None]
        xs = np.arange(x0, x1, dtype=np.float32)[None, :]
        cx = float((upper[0, 0] + upper[-1, 0]) / 2)
        half = max(float(abs(upper[-1, 0] - upper[0, 0]) / 2), 1.0)
        top = float(upper[len(upper) // 2, 1])
        depth = np.clip((ys - top) / gap_mid, 0, 1)
        side = np.clip(np.abs(xs - cx) / half, 0, 1)
        throat_w = np.clip(1 - side ** 2, 0, 1) * np.sin(np.pi * depth)
        cavity = self.cavity[None, None] + (self.throat - self.cavity)[None, None] * throat_w[..., None]
        # Teeth: darker to the sides and in the upper lip's shadow, with faint gaps between incisor-wide teeth.
        tooth_w = 0.075 * self.unit
        gaps_x = np.cos(np.pi * (xs - cx) / tooth_w) ** 24
        under_lip = np.clip((ys - top) / max(0.02 * self.unit, 1.0), 0, 1)
        teeth_shade = ((1 - 0.6 * side ** 2) * (1 - 0.2 * gaps_x) * (0.75 + 0.25 * under_lip))[..., None]
        upper_teeth = cv2.GaussianBlur(upper_teeth, (0, 0), self.feather)
        lower_teeth = cv2.GaussianBlur(lower_teeth, (0, 0), self.feather)
        img = cavity
        if teeth:
            img = img + (self.teeth * teeth_shade - img) * upper_teeth[..., None]
            img = img + (self.teeth * 0.8 * teeth_shade - img) * lower_teeth[..., None]
        alpha = cv2.GaussianBlur(inside, (0, 0), self.feather)[..., None] * np.clip(opened / ramp_px, 0, 1)
        region = frame[y0:y1, x0:x1].astype(np.float32)
        frame[y0:y1, x0:x1] = np.clip(region + (img - region) * alpha, 0, 255).astype(np.uint8)
