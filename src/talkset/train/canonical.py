"""The canonical face space: the 478-point mesh with head pose, position and size taken out.

Every frame's mesh is aligned to its clip's own median face by a 3D similarity transform (Umeyama 1991) fitted on
points the expressions do not move (eye corners, nose ridge, forehead, temples), so what is left is expression
alone. The unit is the inter-ocular distance (outer eye corners, in 3D) of the clip's median face: distances in
this space are already normalised by inter-ocular distance, and x runs along the eyes, y down the face (frontal).

Motion targets are displacements of the lips, jaw line, eyelids and brows from the clip's *rest face*: the
median over its most closed-mouth frames. A portrait is such a rest face, which is why the model predicts motion
relative to one.
"""
from __future__ import annotations

import numpy as np

from talkset.animate.rig import BROWS, EYE_LOWER, EYE_UPPER
from talkset.bench.metrics import LIPS
from talkset.vision.face import EYE_INNER_L, EYE_INNER_R, EYE_OUTER_L, EYE_OUTER_R, FOREHEAD, NOSE_TIP

# Points no expression moves much (brows, lids, lips and jaw excluded).
STABLE = (EYE_OUTER_R, EYE_INNER_R, EYE_INNER_L, EYE_OUTER_L, 168, 6, 197, 195, 5, 4, NOSE_TIP, FOREHEAD, 151, 9,
          8, 127, 356)
JAW_LINE = (172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397)
_EYES = tuple(dict.fromkeys(p for contour in EYE_UPPER + EYE_LOWER for p in contour))
REGIONS = {"lips": tuple(LIPS), "jaw": JAW_LINE, "eyelids": _EYES, "brows": tuple(BROWS)}
TARGET_POINTS = tuple(p for pts in REGIONS.values() for p in pts)
MOUTH_SLICE = slice(0, len(LIPS))  # the lips come first in TARGET_POINTS
REST_QUANTILE = 10.0  # frames with an inner-lip gap at or below this percentile make the rest face
MIN_REST_FRAMES = 3


def _frame_axes(face: np.ndarray) -> np.ndarray:
    """(N, 478, 3) meshes in each frame's own eye/nose axes, unit = 3D outer-eye-corner distance (a first guess)."""
    origin = face[:, [EYE_OUTER_R, EYE_INNER_R, EYE_INNER_L, EYE_OUTER_L]].mean(axis=1)
    ex = face[:, [EYE_OUTER_L, EYE_INNER_L]].mean(axis=1) - face[:, [EYE_OUTER_R, EYE_INNER_R]].mean(axis=1)
    ex /= np.linalg.norm(ex, axis=1, keepdims=True) + 1e-9
    down = face[:, NOSE_TIP] - face[:, FOREHEAD]
    ey = down - (down * ex).sum(axis=1, keepdims=True) * ex
    ey /= np.linalg.norm(ey, axis=1, keepdims=True) + 1e-9
    ez = np.cross(ex, ey)
    rot = np.stack([ex, ey, ez], axis=1)  # rows: the face's axes in camera coordinates
    d = np.linalg.norm(face[:, EYE_OUTER_L] - face[:, EYE_OUTER_R], axis=1)
    return np.einsum("nij,npj->npi", rot, face - origin[:, None]) / (d[:, None, None] + 1e-9)


def similarity_align(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame similarity transforms taking ``src`` (N, k, 3) onto ``dst`` (k, 3) in least squares (Umeyama).

    Returns:
        (scale (N,), rotation (N, 3, 3), translation (N, 3)) with ``dst ≈ s * R @ x + t``.
    """
    mu_s = src.mean(axis=1)
    mu_d = dst.mean(axis=0)
    xs, xd = src - mu_s[:, None], dst - mu_d
    cov = np.einsum("kd,nke->nde", xd, xs) / src.shape[1]
    u, sv, vt = np.linalg.svd(cov)
    sign = np.sign(np.linalg.det(u) * np.linalg.det(vt))
    fix = np.ones((len(src), 3))
    fix[:, 2] = sign
    rot = np.einsum("nij,nj,njk->nik", u, fix, vt)
    var = (xs ** 2).sum(axis=(1, 2)) / src.shape[1]
    scale = (sv * fix).sum(axis=1) / np.maximum(var, 1e-12)
    trans = mu_d - scale[:, None] * np.einsum("nij,nj->ni", rot, mu_s)
    return scale, rot, trans


def canonical_faces(face: np.ndarray) -> np.ndarray:
    """(N, 478, 3) meshes (clip pixels, NaN rows where no face) in the clip's canonical space (NaN kept).

    Args:
        face: the ``face`` array of an annotation npz (x, y in pixels, z in the scale of x).
    """
    face = np.asarray(face, np.float64)
    out = np.full(face.shape, np.nan)
    ok = np.isfinite(face).all(axis=(1, 2))
    if not ok.any():
        return out.astype(np.float32)
    first = _frame_axes(face[ok])
    template = np.median(first[:, list(STABLE)], axis=0)
    s, r, t = similarity_align(first[:, list(STABLE)], template)
    aligned = s[:, None, None] * np.einsum("nij,npj->npi", r, first) + t[:, None]
    # The unit: the template's own outer-eye-corner distance (the first guess made it about 1).
    aligned /= np.linalg.norm(template[STABLE.index(EYE_OUTER_L)] - template[STABLE.index(EYE_OUTER_R)])
    out[ok] = aligned
    return out.astype(np.float32)


def inner_lip_gap(canon: np.ndarray) -> np.ndarray:
    """(N,) inner-lip opening (lower minus upper mid point, along y), canonical units."""
    return canon[:, 14, 1] - canon[:, 13, 1]


def rest_face(canon: np.ndarray) -> np.ndarray:
    """(478, 3) the clip's rest face: the median over its most closed-mouth frames (see ``REST_QUANTILE``)."""
    ok = np.isfinite(canon).all(axis=(1, 2))
    if not ok.any():
        raise ValueError("no frame with a face")
    good = canon[ok]
    gap = inner_lip_gap(good)
    closed = gap <= np.percentile(gap, REST_QUANTILE)
    if closed.sum() < MIN_REST_FRAMES:
        closed = np.argsort(gap)[:MIN_REST_FRAMES]
    return np.median(good[closed], axis=0).astype(np.float32)


def displacements(canon: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """(N, len(TARGET_POINTS), 2) x, y displacement of the target points from the rest face."""
    idx = list(TARGET_POINTS)
    return (canon[:, idx, :2] - rest[None, idx, :2]).astype(np.float32)


def mouth_lmd(pred: np.ndarray, true: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Mouth landmark distance in the canonical space (so already in inter-ocular units).

    LMD as in Chen et al., ECCV 2018 (and ``talkset.bench.metrics.lmd``): per frame the mean Euclidean distance
    between corresponding lip landmarks (``LIPS``, 40 points) after each frame's points have had their own mean
    subtracted, averaged over frames.

    Args:
        pred: (N, P, 2) predicted target-point positions or displacements (same rest as ``true``).
        true: (N, P, 2) the annotated ones.
        valid: (N,) frames to count (default: all frames finite in both).
    """
    a, b = pred[:, MOUTH_SLICE], true[:, MOUTH_SLICE]
    ok = np.isfinite(a).all(axis=(1, 2)) & np.isfinite(b).all(axis=(1, 2))
    if valid is not None:
        ok &= valid
    if not ok.any():
        return float("nan")
    a = a[ok] - a[ok].mean(axis=1, keepdims=True)
    b = b[ok] - b[ok].mean(axis=1, keepdims=True)
    return float(np.linalg.norm(a - b, axis=-1).mean())
