"""Technical quality without learned weights: sharpness, exposure, noise, blockiness and bitrate → 0–100.

Each raw measure is mapped to 0–100 by a clipped linear ramp on a log or linear scale; the ramps were set
on shared/media (clean talking heads score 60–95; the degraded photo and heavy compression score low).
"""
from __future__ import annotations

import cv2
import numpy as np

# name: (weight, low, high, log scale) — raw value at `low` maps to 0 and at `high` to 100 (inverted if low > high).
RAMPS = {
    "face_sharpness": (0.35, 1.0, 2.6, True),    # log10 variance of the Laplacian, face crop at 256²
    "frame_sharpness": (0.15, 0.8, 2.4, True),   # log10 variance of the Laplacian, frame at 640 px
    "exposure": (0.15, None, None, False),       # already 0–100
    "noise": (0.10, 8.0, 1.0, False),            # Immerkær sigma in grey levels (lower is better)
    "blockiness": (0.10, 1.6, 1.05, False),      # 8×8 boundary / interior gradient ratio (lower is better)
    "bits_per_pixel": (0.15, -2.3, -1.0, True),  # log10 bits per pixel per frame
}
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


def measure_frame(gray: np.ndarray, box, work_size: tuple[int, int]) -> dict[str, float]:
    """Raw measures of one full-resolution grey frame.

    Args:
        gray: full-resolution luma, uint8.
        box: the main face (a FaceBox in work-frame pixels) or None.
        work_size: (w, h) of the work frame the box refers to.
    """
    h, w = gray.shape
    scale = 640 / max(h, w)
    small = cv2.resize(gray, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA)
    out = {"frame_sharpness": float(cv2.Laplacian(small, cv2.CV_32F).var())}
    out["face_sharpness"] = np.nan
    if box is not None:
        sx, sy = w / work_size[0], h / work_size[1]
        x0, x1 = int(max(0, box.x0 * sx)), int(min(w, box.x1 * sx))
        y0, y1 = int(max(0, box.y0 * sy)), int(min(h, box.y1 * sy))
        if x1 - x0 >= 8 and y1 - y0 >= 8:
            face = cv2.resize(gray[y0:y1, x0:x1], (256, 256), interpolation=cv2.INTER_AREA)
            out["face_sharpness"] = float(cv2.Laplacian(face, cv2.CV_32F).var())
    mean = float(small.mean())
    clipped = float(np.mean((small < 8) | (small > 247)))
    # Penalise a mean far from mid-grey and pixels clipped to black or white.
    out["exposure"] = float(np.clip(100 - max(0.0, abs(mean - 118) - 50) * 1.5 - 200 * clipped, 0, 100))
    # Immerkær's fast noise estimate, on edges-free pixels only so detail is not counted as noise.
    f = small.astype(np.float32)
    resp = np.abs(cv2.filter2D(f, -1, _NOISE_KERNEL))
    edges = cv2.Canny(small, 50, 150) == 0
    out["noise"] = float(np.sqrt(np.pi / 2) * resp[edges].mean() / 6) if edges.any() else np.nan
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
    if low is None:
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
    return {"score": round(score, 2), **parts}
