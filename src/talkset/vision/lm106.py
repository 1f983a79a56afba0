"""InsightFace's 106-point 2D landmark layout (``2d106det``, ``face.landmark_2d_106``) from the 478-point mesh.

InsightFace numbers its 106 points by their names in alphabetical order (its markup image says "ordered by
point names"); the names are Face++'s 106-point ones, and "left" is the image's left. So:

====== ================================================================================================
0      contour_chin
1–16   contour_left1, left10…left16, left2…left9 (left1 at the temple, left16 next to the chin)
17–32  contour_right1, right10…right16, right2…right9
33–42  left_eye: bottom, center, left_corner, lower_left_quarter, lower_right_quarter, pupil, right_corner,
       top, upper_left_quarter, upper_right_quarter
43–51  left_eyebrow: left_corner, lower_left_quarter, lower_middle, lower_right_corner, lower_right_quarter,
       upper_left_quarter, upper_middle, upper_right_corner, upper_right_quarter
52–71  mouth: left_corner, lower_lip_bottom, lower_lip_left_contour1–3, lower_lip_right_contour1–3,
       lower_lip_top, right_corner, upper_lip_bottom, upper_lip_left_contour1–4, upper_lip_right_contour1–4,
       upper_lip_top (contour1 of the lower lip and 3–4 of the upper lip are on the inner lip line)
72–86  nose: bridge1–3, left_contour1–5, middle_contour, right_contour1–5, tip
87–96  right_eye (as left_eye)
97–105 right_eyebrow: lower_left_corner, lower_left_quarter, lower_middle, lower_right_quarter, right_corner,
       upper_left_corner, upper_left_quarter, upper_middle, upper_right_quarter
====== ================================================================================================

The layout was checked against InsightFace's own output: the ``landmark_2d_106`` of V-Express's sample clip
(``scripts/prepare_dataset/RD_Radio10_0_clip_0_face_info.pt``) puts every point where its name says, and
``benchmarks/lm106_vs_insightface.py`` measures the mapping below against it.

Each point here is one mesh vertex chosen by name (mirror pairs of the mesh on the two sides), except:
the 33 contour points, spread evenly by arc length along the mesh's face outline from the temple to the chin
(the outline has fewer vertices than InsightFace's contour); the eye centres, the mean of each eye's
16-point lid contour; the pupils, the iris centres (468, 473) of the refined mesh (the eye centre when
the mesh has 468 points). Limits: the mesh's outline runs a little inside InsightFace's jaw line (about 3 % of
the face width at the jaw's lower half); these are one model's points placed on another's names, not
InsightFace's predictions, so anything trained on InsightFace's exact points (an aligner, a 106-point
loss) sees a small systematic offset. V-Express and TalkVid read only the mouth (52–71), for a box.
"""
from __future__ import annotations

import numpy as np

from talkset.vision.kps import EYE_RING_L, EYE_RING_R

# The mesh's face outline (mediapipe FACEMESH_FACE_OVAL), from the temple at eye-brow height down to the chin.
OUTLINE_LEFT = (162, 127, 234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152)
OUTLINE_RIGHT = (389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152)
# 106 indices of contour_left1…left16 (then the chin) in order down the face; the names sort as strings.
CONTOUR_LEFT = (1, 9, 10, 11, 12, 13, 14, 15, 16, 2, 3, 4, 5, 6, 7, 8, 0)
CONTOUR_RIGHT = (17, 25, 26, 27, 28, 29, 30, 31, 32, 18, 19, 20, 21, 22, 23, 24, 0)
EYE_CENTER_L, EYE_CENTER_R, PUPIL_L, PUPIL_R = 34, 88, 38, 92  # 106 indices (image-left eye first)
IRIS_CENTER_L, IRIS_CENTER_R = 468, 473  # mesh indices of the image-left and image-right iris centres

# 106 index -> mesh vertex, by name.
SINGLE = {
    # image-left eye (the subject's right)
    33: 145, 35: 33, 36: 163, 37: 154, 39: 133, 40: 159, 41: 161, 42: 157,
    # image-left eyebrow
    43: 70, 44: 53, 45: 223, 46: 55, 47: 65, 48: 63, 49: 105, 50: 107, 51: 66,
    # mouth: outer line, then the inner line
    52: 61, 53: 17, 54: 178, 55: 91, 56: 84, 57: 402, 58: 321, 59: 314, 60: 14, 61: 291, 62: 13,
    63: 37, 64: 39, 65: 78, 66: 81, 67: 267, 68: 269, 69: 308, 70: 311, 71: 0,
    # nose
    72: 168, 73: 197, 74: 5, 75: 189, 76: 198, 77: 48, 78: 75, 79: 97, 80: 2,
    81: 413, 82: 420, 83: 278, 84: 305, 85: 326, 86: 4,
    # image-right eye
    87: 374, 89: 362, 90: 381, 91: 390, 93: 263, 94: 386, 95: 384, 96: 388,
    # image-right eyebrow
    97: 285, 98: 295, 99: 443, 100: 283, 101: 300, 102: 336, 103: 296, 104: 334, 105: 293,
}
MOUTH = slice(52, 72)  # what V-Express and TalkVid read, as the lip mask's box


def _along(points: np.ndarray, n: int) -> np.ndarray:
    """``n`` points spread evenly by arc length along a polyline, both ends included."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    if s[-1] <= 0:
        return np.repeat(points[:1], n, axis=0)
    at = np.linspace(0.0, s[-1], n)
    return np.stack([np.interp(at, s, points[:, 0]), np.interp(at, s, points[:, 1])], axis=1)


def landmarks_106(mesh: np.ndarray) -> np.ndarray:
    """InsightFace's 106 landmarks of one face from its face mesh (see the module docstring).

    Args:
        mesh: (468 or 478, 2+) mesh points, x and y in pixels.

    Returns:
        float32 (106, 2), x and y in the same pixels.
    """
    xy = np.asarray(mesh, np.float64)[:, :2]
    out = np.empty((106, 2), np.float64)
    for index, outline in ((CONTOUR_LEFT, OUTLINE_LEFT), (CONTOUR_RIGHT, OUTLINE_RIGHT)):
        out[list(index)] = _along(xy[list(outline)], len(index))
    for i, v in SINGLE.items():
        out[i] = xy[v]
    out[EYE_CENTER_L] = xy[list(EYE_RING_R)].mean(axis=0)
    out[EYE_CENTER_R] = xy[list(EYE_RING_L)].mean(axis=0)
    refined = len(xy) >= 478
    out[PUPIL_L] = xy[IRIS_CENTER_L] if refined else out[EYE_CENTER_L]
    out[PUPIL_R] = xy[IRIS_CENTER_R] if refined else out[EYE_CENTER_R]
    return out.astype(np.float32)
