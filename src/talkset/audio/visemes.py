"""Visemes: the mouth shape each English phone asks for, blended over time into jaw, width and rounding curves.

Shared by animate (the mouth it draws) and curate's sync scorer (the mouth it expects to see). The targets are
phonetic facts written down by hand, not values learned from data.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import uniform_filter1d

from talkset.audio.phonemes import Phone

HOP_S = 0.01  # curve period, seconds

# Viseme targets (jaw 0–1, lip_width -1–1, lip_round 0–1), dominance weight and spread (s) per ARPAbet phone.
VISEMES = {
    "SIL": (0.0, 0.0, 0.0, 0.6, 0.06),
    "P": (0.0, 0.0, 0.0, 1.0, 0.03), "B": (0.0, 0.0, 0.0, 1.0, 0.03), "M": (0.0, 0.0, 0.0, 1.0, 0.03),
    "F": (0.08, 0.1, 0.0, 0.9, 0.04), "V": (0.08, 0.1, 0.0, 0.9, 0.04),
    "TH": (0.15, 0.1, 0.0, 0.6, 0.05), "DH": (0.15, 0.1, 0.0, 0.6, 0.05),
    "T": (0.15, 0.15, 0.0, 0.4, 0.06), "D": (0.15, 0.15, 0.0, 0.4, 0.06), "N": (0.15, 0.1, 0.0, 0.4, 0.06),
    "L": (0.2, 0.1, 0.0, 0.4, 0.06), "S": (0.1, 0.3, 0.0, 0.5, 0.05), "Z": (0.1, 0.3, 0.0, 0.5, 0.05),
    "SH": (0.15, -0.3, 0.6, 0.7, 0.05), "ZH": (0.15, -0.3, 0.6, 0.7, 0.05),
    "CH": (0.15, -0.3, 0.6, 0.7, 0.05), "JH": (0.15, -0.3, 0.6, 0.7, 0.05),
    "K": (0.25, 0.0, 0.0, 0.3, 0.07), "G": (0.25, 0.0, 0.0, 0.3, 0.07), "NG": (0.25, 0.0, 0.0, 0.3, 0.07),
    "HH": (0.35, 0.0, 0.0, 0.1, 0.08), "R": (0.2, -0.3, 0.5, 0.6, 0.06), "W": (0.1, -0.6, 0.9, 0.9, 0.05),
    "Y": (0.15, 0.4, 0.0, 0.5, 0.05),
    "AA": (0.85, 0.1, 0.0, 0.5, 0.08), "AE": (0.7, 0.4, 0.0, 0.5, 0.08), "AH": (0.55, 0.1, 0.0, 0.5, 0.08),
    "AO": (0.7, -0.3, 0.5, 0.5, 0.08), "AW": (0.7, -0.1, 0.3, 0.5, 0.08), "AY": (0.7, 0.2, 0.0, 0.5, 0.08),
    "IY": (0.25, 0.8, 0.0, 0.5, 0.08), "IH": (0.35, 0.5, 0.0, 0.5, 0.08), "EY": (0.45, 0.6, 0.0, 0.5, 0.08),
    "EH": (0.5, 0.45, 0.0, 0.5, 0.08), "UW": (0.2, -0.7, 1.0, 0.6, 0.08), "UH": (0.3, -0.4, 0.6, 0.5, 0.08),
    "OW": (0.45, -0.5, 0.8, 0.6, 0.08), "OY": (0.5, -0.3, 0.6, 0.5, 0.08), "ER": (0.3, -0.2, 0.4, 0.5, 0.08),
}
BILABIALS = {"P", "B", "M"}


def viseme_curves(phones: list[Phone], n: int, t0: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dominance-blended viseme targets every 10 ms, with bilabials closed.

    Args:
        phones: phones on the container clock.
        n: number of 10 ms frames.
        t0: container time of frame 0, seconds.

    Returns:
        (jaw, lip_width, lip_round), each (n,).
    """
    t = t0 + np.arange(n) * HOP_S
    num = np.zeros((3, n))
    den = np.full(n, 1e-6)
    closure = np.zeros(n)
    for p in phones:
        jaw, width, rnd, alpha, spread = VISEMES.get(p.phone.rstrip("012"), VISEMES["AH"])
        c, half = 0.5 * (p.start_s + p.end_s), 0.5 * (p.end_s - p.start_s)
        k0 = max(0, int((p.start_s - 9 * spread - t0) / HOP_S))
        k1 = min(n, int((p.end_s + 6 * spread - t0) / HOP_S) + 1)
        if k1 <= k0:
            continue
        # Full weight inside the central part of the segment, exponential decay beyond it; the decay is slower
        # before the segment (anticipation, e.g. rounding for "oo" begins during the consonants before it).
        u = t[k0:k1] - c
        dist = np.maximum(0.0, np.abs(u) - 0.5 * half)
        d = alpha * np.exp(-dist / np.where(u < 0, 1.5 * spread, spread))
        num[:, k0:k1] += d * np.array([jaw, width, rnd])[:, None]
        den[k0:k1] += d
        if p.phone in BILABIALS:
            # Lips touch for at least 60 ms, so a closure is seen on at least one 25 fps frame.
            h = max(half, 0.03)
            closure[max(0, int((c - h - t0) / HOP_S)) : max(0, int(math.ceil((c + h - t0) / HOP_S)))] = 1.0
    jaw, width, rnd = num / den
    closure = uniform_filter1d(closure, 3)  # a 30 ms approach, not a step
    return jaw * (1 - closure), width, rnd


