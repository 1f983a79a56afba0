"""Technical quality without learned weights → 0–100: face detail, sharpness, exposure, noise, blockiness, bitrate.

Each raw measure is mapped to 0–100 by a clipped linear ramp on a log or linear scale, and the parts are averaged
with weights. Two defects make a clip unusable whatever the rest looks like, so they also scale the score: a face
without detail (heavy blur, a small face blown up; below half marks the average is scaled down in proportion) and
noise (real footage measures under 1.5 grey levels; above, the score falls in proportion to the noise part), so the
score falls with every level of blur, down-and-up scaling, compression and noise
(tests/curate/test_quality.py degrades a real clip five ways to check it).

Face detail is the width, in pixels, of the smallest copy of the face that keeps it: the face crop (at 256 px
across) is shrunk to 8…192 px and blown up again, and the first width whose round trip loses less than 1 % of the
face's variance (beyond what its noise accounts for) is its detail. A sharp HDTF face has about 100 px of detail, a
VoxCeleb 224² crop 30–40, a face shrunk to a 32 px frame and blown up to 512 about 20. ``upscale`` is that detail
over the face's width on screen: a face shown far larger than its detail was blown up.
"""
from __future__ import annotations

import cv2
import numpy as np

# name: (weight, low, high, log scale) — raw value at `low` maps to 0 and at `high` to 100 (inverted if low > high).
RAMPS = {
    "face_sharpness": (0.25, 1.0, 2.6, True),    # log10 variance of the Laplacian, face crop at 256², noise removed
    "face_detail": (0.15, 1.204, 1.681, True),   # log10 pixels of detail across the face: 16 → 0, 48 → 100
    "upscale": (0.05, 0.08, 0.20, False),        # face detail / face width on screen (1 = native)
    "frame_sharpness": (0.15, 0.8, 2.4, True),   # log10 variance of the Laplacian, frame at 640 px, noise removed
    "exposure": (0.15, None, None, False),       # already 0–100
    "noise": (0.10, 1.505, 0.176, True),         # log10 Immerkær sigma: 1.5 grey levels → 100, 32 → 0
    "blockiness": (0.10, 1.6, 1.05, False),      # 8×8 boundary / interior gradient ratio (lower is better)
    "bits_per_pixel": (0.15, -2.3, -1.0, True),  # log10 bits per pixel per frame
}
GATE = 50.0  # a face detail part below this scales the whole score by part / GATE
DETAIL_WIDTHS = np.array([8, 12, 16, 24, 32, 48, 64, 96, 128, 192])
DETAIL_LOSS = 0.01  # share of the face's variance a round trip may lose and still "keep" the face
FACE_SIDE = 256
LAPLACIAN_NOISE_GAIN = 20.0  # variance of OpenCV's 3×3 Laplacian applied to unit white noise
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


def noise_sigma(gray: np.ndarray) -> float:
    """Immerkær's fast noise estimate in grey levels, on edge-free pixels only so detail is not counted as noise."""
    resp = np.abs(cv2.filter2D(gray.astype(np.float32), -1, _NOISE_KERNEL))
    edges = cv2.Canny(gray if gray.dtype == np.uint8 else np.clip(gray, 0, 255).astype(np.uint8), 50, 150) == 0
    return float(np.sqrt(np.pi / 2) * resp[edges].mean() / 6) if edges.any() else float("nan")


def sharpness(gray: np.ndarray) -> float:
    """Variance of the Laplacian, less the share the image's own noise (Immerkær's estimate) accounts for.

    Noise is measured on the very image the Laplacian sees, so resizing (which smooths noise) affects both alike.
    """
    sigma = noise_sigma(gray)
    lap = float(cv2.Laplacian(gray.astype(np.float32), cv2.CV_32F).var())
    return max(lap - LAPLACIAN_NOISE_GAIN * (sigma if np.isfinite(sigma) else 0.0) ** 2, 1e-3)


def face_detail(face: np.ndarray, sigma: float) -> float:
    """Pixels of detail across a grey face crop (see the module doc)."""
    f = face.astype(np.float32)
    h, w = f.shape
    var = float(f.var())
    if var < 1e-3:
        return float(DETAIL_WIDTHS[0])
    height = max(8, int(round(h * FACE_SIDE / w)))
    big = cv2.resize(f, (FACE_SIDE, height), interpolation=cv2.INTER_AREA if w >= FACE_SIDE else cv2.INTER_CUBIC)
    big_var = float(big.var()) + 1e-6
    # White noise survives the resize in proportion to the shrink; a round trip removes almost all of it.
    noise_share = min(1.0, w / FACE_SIDE) * (sigma if np.isfinite(sigma) else 0.0) ** 2 / var
    losses = []
    for width in DETAIL_WIDTHS:
        small = cv2.resize(big, (int(width), max(2, int(round(height * width / FACE_SIDE)))),
                           interpolation=cv2.INTER_AREA)
        back = cv2.resize(small, (FACE_SIDE, height), interpolation=cv2.INTER_CUBIC)
        losses.append(float(((big - back) ** 2).mean()) / big_var - noise_share)
    below = np.flatnonzero(np.asarray(losses) < DETAIL_LOSS)
    if not len(below):
        return float(min(w, FACE_SIDE))
    i = int(below[0])
    if i == 0:
        return float(DETAIL_WIDTHS[0])
    # Between the last width that loses too much and the first that keeps the face, on a log scale.
    frac = (losses[i - 1] - DETAIL_LOSS) / (losses[i - 1] - losses[i] + 1e-12)
    lo, hi = np.log(DETAIL_WIDTHS[i - 1]), np.log(DETAIL_WIDTHS[i])
    return float(min(np.exp(lo + frac * (hi - lo)), w))


def measure_frame(gray: np.ndarray, box, work_size: tuple[int, int]) -> dict[str, float]:
    """Raw measures of one full-resolution grey frame.

    Args:
        gray: full-resolution luma, uint8.
        box: the main face (a FaceBox in work-frame pixels) or None.
        work_size: (w, h) of the work frame the box refers to.
    """
    h, w = gray.shape
    scale = min(1.0, 640 / max(h, w))  # never enlarged: enlarging smooths noise and detail alike
    small = cv2.resize(gray, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA)
    out = {"frame_sharpness": sharpness(small), "face_sharpness": np.nan, "face_detail": np.nan, "upscale": np.nan}
    if box is not None:
        sx, sy = w / work_size[0], h / work_size[1]
        x0, x1 = int(max(0, box.x0 * sx)), int(min(w, box.x1 * sx))
        y0, y1 = int(max(0, box.y0 * sy)), int(min(h, box.y1 * sy))
        if x1 - x0 >= 8 and y1 - y0 >= 8:
            crop = gray[y0:y1, x0:x1]
            out["face_sharpness"] = sharpness(cv2.resize(crop, (FACE_SIDE, FACE_SIDE), interpolation=cv2.INTER_AREA))
            out["face_detail"] = face_detail(crop, noise_sigma(crop))
            out["upscale"] = out["face_detail"] / (x1 - x0)
    mean = float(small.mean())
    clipped = float(np.mean((small < 8) | (small > 247)))
    # Penalise a mean far from mid-grey and pixels clipped to black or white.
    out["exposure"] = float(np.clip(100 - max(0.0, abs(mean - 118) - 50) * 1.5 - 200 * clipped, 0, 100))
    out["noise"] = noise_sigma(small)
    out["blockiness"] = blockiness(gray)
    return out


def blockiness(gray: np.ndarray) -> float:
    """Mean horizontal+vertical gradient on the 8-pixel grid over the mean elsewhere (1 = no blocks)."""
    g = gray.astype(np.float32)
    dx = np.abs(np.diff(g, axis=1)).mean(axis=0)
    dy = np.abs(np.diff(g, axis=0)).mean(axis=1)
    ratios = []
    for d in (dx, dy):
        on = d[7::8]
        off = np.delete(d, np.s_[7::8])
        if len(on) and off.mean() > 1e-3:
            ratios.append(on.mean() / off.mean())
    return float(np.mean(ratios)) if ratios else 1.0


def _ramp(value: float, low: float | None, high: float | None, log: bool) -> float:
    if low is None or high is None:  # both None: the measure is already 0–100
        return float(value)
    if log:
        value = np.log10(max(value, 1e-9))
    return float(np.clip(100 * (value - low) / (high - low), 0, 100))


def quality_score(samples: dict[str, np.ndarray], mask: np.ndarray, bits_per_pixel: float) -> dict[str, float]:
    """Quality of a clip from the samples where ``mask`` is true: each measure's median mapped to 0–100.

    Args:
        samples: columns from the quality consumer.
        mask: which samples lie in the clip.
        bits_per_pixel: container bit rate over (width × height × fps).
    """
    parts: dict[str, float] = {}
    for name, (_, low, high, log) in RAMPS.items():
        if name == "bits_per_pixel":
            if not np.isfinite(bits_per_pixel) or bits_per_pixel <= 0:
                continue
            raw = bits_per_pixel
        else:
            col = samples.get(name, np.array([]))[mask] if mask.any() else np.array([])
            col = col[np.isfinite(col)]
            if not len(col):
                continue
            raw = float(np.median(col))
        parts[name] = round(_ramp(raw, low, high, log), 2)
    weights = {k: RAMPS[k][0] for k in parts}
    total = sum(weights.values())
    score = sum(parts[k] * weights[k] for k in parts) / total if total else 0.0
    # A face without detail, unless it is shown at about its own size (a small native face), and any visible noise
    # (real footage measures under 1.5 grey levels) scale the score down.
    detail = max(parts.get("face_detail", 100.0), parts.get("upscale", 0.0))
    score *= min(1.0, detail / GATE) * parts.get("noise", 100.0) / 100
    return {"score": round(score, 2), **parts}
