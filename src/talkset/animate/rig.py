"""The portrait rig: a MotionTrack frame becomes target positions of the face mesh and of a ring around the head.

The rest mesh (mediapipe's 478 points, in output-frame pixels) gets a small set of linear blend shapes built
from its own geometry — jaw opening, lip spread and narrowing, rounding, each eyelid, brows, gaze — expressed in
a face frame (x along the eyes, y down, unit = outer-eye-corner distance D) so they fit any face size or roll.
The expression is then moved rigidly in 3D (pitch, yaw, roll about a pivot near the neck, plus offset and
scale) and projected orthographically. Rings of points around the face oval follow the head with weights that
fade outwards, and fixed points around the frame keep the background still, so the neck and hair move with
the head and nothing tears.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from talkset.animate.track import MotionTrack

# Ordered contours of mediapipe's face mesh (subject's right = image left).
OUTER_UPPER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
OUTER_LOWER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
INNER_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
# Eyes: (corner, upper lid..., corner) and (corner, lower lid..., corner); index 0 = subject's left eye.
EYE_UPPER = ((263, 466, 388, 387, 386, 385, 384, 398, 362), (33, 246, 161, 160, 159, 158, 157, 173, 133))
EYE_LOWER = ((263, 249, 390, 373, 374, 380, 381, 382, 362), (33, 7, 163, 144, 145, 153, 154, 155, 133))
IRIS = ((473, 474, 475, 476, 477), (468, 469, 470, 471, 472))
BROWS = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46, 300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148,
              176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
CHEEK_R, CHEEK_L = 234, 454
CHIN = 152

# Blend-shape amplitudes in units of D (outer-eye-corner distance), chosen so jaw=1 is a wide "ah"
# (about 3 cm of lip gap on a 9 cm eye span) and lip spread/rounding move the corners by about 1 cm.
JAW_TRAVEL = 0.32
UPPER_LIP_LIFT = 0.04
SPREAD = 0.10
NARROW = 0.12
ROUND_IN = 0.13
ROUND_POUT = 0.03
BROW_RAISE = 0.07
GAZE_X, GAZE_Y = 0.07, 0.03
LID_CLOSE = 1.0  # upper lid travel, in open-eye heights: onto the lower lid's rest line
LID_RISE = -0.12  # lower contour travel up (negative: down), in open-eye heights; the contour sits on the
# eyeball a little above the true lid margin, so it is pushed down onto the margin to hide the iris entirely
# Rings around the face oval: (scale from the oval centre, weight above the eyes, weight below the mouth).
RINGS = ((1.25, 0.95, 0.7), (1.6, 0.55, 0.35), (2.2, 0.15, 0.1))
BORDER_MARGIN = 0.25  # fixed points this far outside the frame, in frame sides
EDGE_FADE = 0.12  # ring weights reach 0 at the frame's edge over this distance, in frame sides
MOUTH_OPEN_REST = 0.04
TEETH_ROW = 0.45  # rows of points inside an open portrait mouth, this far from each lip (fraction of the gap)  # inner-lip gap (in D) above which the portrait's own mouth counts as open


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


@dataclass
class FaceFrame:
    """The face's 2D frame in the image: origin at the mouth centre, unit vectors ex (eyes), ey (down)."""

    origin: np.ndarray
    ex: np.ndarray
    ey: np.ndarray
    unit_px: float  # D: outer-eye-corner distance in pixels

    @classmethod
    def of(cls, lm: np.ndarray) -> FaceFrame:
        ex = lm[263, :2] - lm[33, :2]
        d = float(np.linalg.norm(ex))
        ex = ex / d
        ey = np.array([-ex[1], ex[0]])
        return cls((lm[61, :2] + lm[291, :2]) / 2, ex, ey, d)

    def local(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(u, v) of image points in units of D."""
        rel = pts[:, :2] - self.origin
        return rel @ self.ex / self.unit_px, rel @ self.ey / self.unit_px

    def to_image(self, du: np.ndarray, dv: np.ndarray) -> np.ndarray:
        """Displacements (in D along ex, ey) → (n, 2) pixels."""
        return (np.outer(du, self.ex) + np.outer(dv, self.ey)) * self.unit_px


def _interp_contour(u: np.ndarray, cu: np.ndarray, cv: np.ndarray) -> np.ndarray:
    order = np.argsort(cu)
    return np.interp(u, cu[order], cv[order])


class Rig:
    """Blend shapes and head rings of one portrait; ``points(track, i)`` gives frame i's control points.

    Args:
        landmarks: (478, 3) rest mesh in output-frame pixels (z in the same scale).
        width: output frame width, pixels.
        height: output frame height, pixels.
    """

    def __init__(self, landmarks: np.ndarray, width: int, height: int):
        lm = np.asarray(landmarks, np.float64)
        self.rest = lm
        self.frame = f = FaceFrame.of(lm)
        u, v = f.local(lm)
        self.u, self.v = u, v
        n = len(lm)
        uc = max(abs(u[61]), abs(u[291]), 1e-3)

        # Lip membership: upper/lower by the side of the inner-lip mid line the point lies on.
        outer = np.array(OUTER_UPPER + OUTER_LOWER[::-1][1:-1])
        poly = lm[outer, :2].astype(np.float32).reshape(-1, 1, 2)
        inside = np.array([cv2.pointPolygonTest(poly, (float(x), float(y)), True) >= -0.02 * f.unit_px
                           for x, y in lm[:, :2]])
        mid = (_interp_contour(u, u[list(INNER_UPPER)], v[list(INNER_UPPER)])
               + _interp_contour(u, u[list(INNER_LOWER)], v[list(INNER_LOWER)])) / 2
        lower_lip = inside & (v > mid)
        upper_lip = inside & (v <= mid)
        lower_lip[list(INNER_LOWER[1:-1] + OUTER_LOWER[1:-1])] = True
        upper_lip[list(INNER_LOWER[1:-1] + OUTER_LOWER[1:-1])] = False
        upper_lip[list(INNER_UPPER[1:-1] + OUTER_UPPER[1:-1])] = True
        lower_lip[list(INNER_UPPER[1:-1] + OUTER_UPPER[1:-1])] = False
        corners = [61, 291, 78, 308]
        upper_lip[corners] = lower_lip[corners] = False
        su = np.clip(np.abs(u) / uc, 0, 1)

        # Jaw: the mandible (lower lip, chin, lower cheeks) moves down; the band that blends skin widens
        # towards the sides, and the jaw angle (far sides) moves less than the chin, as a hinge near the ears.
        band = 0.12 + 0.45 * np.abs(u)
        w_jaw = _smoothstep((v + 0.03) / band)
        w_jaw[upper_lip] = 0.4 * su[upper_lip] ** 4
        w_jaw[lower_lip] = 1 - 0.6 * su[lower_lip] ** 4
        w_jaw[corners] = 0.4
        lever = 1 - 0.5 * np.clip(np.abs(u) / 0.9, 0, 1) ** 2
        jaw_dv = JAW_TRAVEL * w_jaw * lever
        jaw_dv[upper_lip] -= UPPER_LIP_LIFT * (1 - su[upper_lip] ** 2)
        self.mouth_gap0 = float(v[14] - v[13])  # rest inner-lip gap, D
        self.gap_per_jaw = float(jaw_dv[14] - jaw_dv[13])
        self.mouth_open = self.mouth_gap0 > MOUTH_OPEN_REST
        # A portrait with an open mouth is closed at jaw 0: the track's jaw is absolute, lips touching at 0.
        self.jaw0 = max(self.mouth_gap0, 0.0) / self.gap_per_jaw

        # Lips: an ellipse around the mouth falls off outside, so spreading drags the cheeks a little.
        e = np.sqrt((u / uc) ** 2 + (v / 0.25) ** 2)
        fall = np.where(e <= 1, 1.0, np.exp(-((e - 1) / 0.6) ** 2))
        side = np.clip(u / uc, -1, 1) * fall
        z = np.zeros(n)
        spread = (SPREAD * side, -0.02 * su ** 2 * fall)
        narrow = (-NARROW * side, z)
        pout = np.where(upper_lip, -ROUND_POUT, np.where(lower_lip, ROUND_POUT, 0.0)) * (1 - su ** 2)
        round_ = (-ROUND_IN * side, pout)

        # Eyelids: the upper lid closes onto the lower lid; the skin up to the crease follows partly, points
        # inside the eye (iris) are squeezed with it.
        blinks = []
        for eye in (0, 1):
            up, lo = list(EYE_UPPER[eye]), list(EYE_LOWER[eye])
            gap = _interp_contour(u, u[lo], v[lo]) - _interp_contour(u, u[up], v[up])  # open height at u
            top = _interp_contour(u, u[up], v[up])
            eye_u = (min(u[up]), max(u[up]))
            within = _smoothstep((np.minimum(u - eye_u[0], eye_u[1] - u) + 0.06) / 0.08)
            dv = np.zeros(n)
            above = (v < top) & (within > 0)
            dv[above] = 0.6 * np.exp(-((top - v)[above] / 0.08) ** 2)
            iris = list(IRIS[eye])
            t = np.clip((v[iris] - top[iris]) / np.maximum(gap[iris], 1e-3), 0, 1)
            # The iris keeps its place between the lids, so no point crosses a lid (no fold).
            dv[iris] = (1 - t) * LID_CLOSE - t * LID_RISE
            dv[above] *= LID_CLOSE
            dv[up[1:-1]] = LID_CLOSE
            dv[lo[1:-1]] = -LID_RISE
            blinks.append((z, np.maximum(gap, 0) * dv * within))

        # Brows: raised with the forehead above them; the skin down to the upper lid stretches.
        brow_v = float(np.mean(v[list(BROWS)]))
        lid_v = float(np.mean([v[list(EYE_UPPER[e])].mean() for e in (0, 1)]))
        ramp = np.clip((lid_v - v) / max(lid_v - brow_v, 1e-3), 0, 1) ** 1.5
        w_brow = np.where(v < brow_v, np.exp(-((brow_v - v) / 0.35) ** 2), ramp)
        w_brow *= _smoothstep((1.1 - np.abs(u)) / 0.3)
        brow = (z, -BROW_RAISE * w_brow)

        gaze_x, gaze_y = np.zeros(n), np.zeros(n)
        for eye in (0, 1):
            gaze_x[list(IRIS[eye])] = GAZE_X
            gaze_y[list(IRIS[eye])] = GAZE_Y

        shapes = [(z, jaw_dv), spread, narrow, round_, blinks[0], blinks[1], brow, (gaze_x, z), (z, gaze_y)]
        # (K, n*2) pixels per unit coefficient, so a frame's expression is one small matrix product.
        self.basis = np.stack([f.to_image(du, dv).ravel() for du, dv in shapes])

        # Rigid head motion: pivot below the chin at the depth of the cheeks' silhouette (the top of the neck),
        # so a turn moves the face over the head's outline about as much as a real neck turn does.
        oval = lm[list(FACE_OVAL)]
        self.face_width_px = float(np.linalg.norm(lm[CHEEK_L, :2] - lm[CHEEK_R, :2]))
        self.pivot = np.array([*(lm[CHIN, :2] + 0.35 * f.unit_px * f.ey), (lm[CHEEK_L, 2] + lm[CHEEK_R, 2]) / 2])

        # Rings: points on scaled copies of the oval, each following its oval point with a fading weight.
        centre = oval[:, :2].mean(axis=0)
        ring_pts, ring_w, parents = [], [], []
        below = np.clip(((oval[:, :2] - centre) @ f.ey) / (np.abs((oval[:, :2] - centre) @ f.ey).max() + 1e-6),
                        0, 1)
        for scale, w_top, w_bottom in RINGS:
            ring_pts.append(centre + (oval[:, :2] - centre) * scale)
            ring_w.append(w_top + (w_bottom - w_top) * below)
            parents.append(np.array(FACE_OVAL))
        self.ring_rest = np.concatenate(ring_pts)
        self.ring_w = np.concatenate(ring_w)[:, None]
        self.ring_parent = np.concatenate(parents)
        # Fixed border ``margin`` pixels outside the frame (the renderer keeps that much of the portrait around
        # the output), so the head can move without the frame's edge pinning it; rings fade out before it.
        margin = BORDER_MARGIN * max(width, height)
        # Rings fade out towards the frame's edges, so the background there stays put: beyond the edge the
        # portrait may have no pixels (or a scanner's border line) to bring in.
        inside = np.minimum.reduce([self.ring_rest[:, 0], width - self.ring_rest[:, 0],
                                    self.ring_rest[:, 1], height - self.ring_rest[:, 1]])
        self.ring_w = self.ring_w * np.clip(inside / (EDGE_FADE * max(width, height)), 0, 1)[:, None]
        xs = np.linspace(-margin, width + margin, 9)
        ys = np.linspace(-margin, height + margin, 9)
        border = [(x, y) for x in xs for y in (ys[0], ys[-1])] + [(x, y) for y in ys[1:-1] for x in (xs[0], xs[-1])]
        self.border = np.array(border, np.float64)
        self.margin = margin
        # An open portrait mouth (teeth showing): two rows of points inside it, one riding with the upper lip
        # and one with the lower, so the teeth move with their lips instead of stretching as the jaw opens.
        self._up, self._lo = list(INNER_UPPER[1:-1]), list(INNER_LOWER[1:-1])
        self._gap_rest = lm[self._lo, :2] - lm[self._up, :2]
        teeth = self._teeth(lm[:, :2]) if self.mouth_open else np.zeros((0, 2))
        self.rest_points = np.concatenate([lm[:, :2], self.ring_rest, teeth, self.border])

    def _teeth(self, mesh2d: np.ndarray) -> np.ndarray:
        """(2 * 9, 2) points inside the mouth: the upper-teeth row, then the lower-teeth row."""
        up, lo = mesh2d[self._up], mesh2d[self._lo]
        gap = lo - up
        rest = np.linalg.norm(self._gap_rest, axis=1)
        # Wider than at rest: each row keeps its rest distance from its lip; narrower: both squeeze together.
        k = np.minimum(1.0, rest / np.maximum(np.linalg.norm(gap, axis=1), 1e-6))[:, None]
        return np.concatenate([up + TEETH_ROW * k * gap, lo - TEETH_ROW * k * gap])

    def mouth_gap_rows(self, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """For an open portrait mouth: the target upper-teeth and lower-teeth rows (with the inner corners),
        between which the opened mouth is dark; None for a closed portrait mouth."""
        if not self.mouth_open:
            return None
        n = len(self.rest) + len(self.ring_rest)
        corners = targets[[INNER_UPPER[0]]], targets[[INNER_UPPER[-1]]]
        return (np.concatenate([corners[0], targets[n:n + 9], corners[1]]),
                np.concatenate([corners[0], targets[n + 9:n + 18], corners[1]]))

    def coefficients(self, track: MotionTrack, i: int) -> np.ndarray:
        """The K blend-shape weights of frame i, in the order of ``basis``."""
        jaw = float(track.jaw[i]) - self.jaw0
        width = float(track.lip_width[i])
        gx, gy = track.gaze[i]
        return np.array([jaw, max(width, 0.0), max(-width, 0.0), float(track.lip_round[i]),
                         float(track.blink[i, 0]), float(track.blink[i, 1]), float(track.brow[i]), gx, gy])

    def mesh(self, track: MotionTrack, i: int) -> np.ndarray:
        """(478, 3) target mesh of frame i in output-frame pixels."""
        expr = self.rest.copy()
        expr[:, :2] += (self.coefficients(track, i) @ self.basis).reshape(-1, 2)
        pitch, yaw, roll = np.radians(track.head[i])
        rot = _rotation(pitch, yaw, roll)
        scale = float(track.scale[i])
        moved = self.pivot + scale * (expr - self.pivot) @ rot.T
        moved[:, :2] += track.offset[i] * self.face_width_px
        return moved

    def points(self, track: MotionTrack, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(mesh (478, 3), all control points (P, 2)) of frame i; the control points match ``rest_points``."""
        mesh = self.mesh(track, i)
        disp = mesh[:, :2] - self.rest[:, :2]
        ring = self.ring_rest + self.ring_w * disp[self.ring_parent]
        teeth = self._teeth(mesh[:, :2]) if self.mouth_open else np.zeros((0, 2))
        return mesh, np.concatenate([mesh[:, :2], ring, teeth, self.border])


def _rotation(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """Rotation (radians) in camera axes (x right, y down, z away) with talkset.vision.face.head_pose's signs."""
    cp, sp, cy, sy, cr, sr = np.cos(pitch), np.sin(pitch), np.cos(yaw), np.sin(yaw), np.cos(roll), np.sin(roll)
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return rz @ ry @ rx
