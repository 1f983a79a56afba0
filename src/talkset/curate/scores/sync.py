"""Weight-free audio-visual sync: mouth opening against the speech-band energy of the audio.

Both signals are put on one uniform grid at the video's nominal frame rate, high-passed (a ~0.5 s moving
average removed, which DESIGN.md's experiment found necessary), and cross-correlated over ±max_lag frames.

Sign convention: ``raw_offset_frames`` is the lag at which the audio best matches the mouth, positive when
the audio comes later than the mouth. Lips lead the sound in natural speech, so real clips peak at a small
positive lag; ``offset_frames`` is reported relative to that calibrated lead (0 = natural sync), so delaying
the audio by k frames raises it by k. ``confidence`` is the peak correlation minus the median over lags,
as SyncNet's confidence is the median minus the minimum distance.
"""
from __future__ import annotations

import numpy as np
from scipy.signal import stft

BAND_HZ = (300.0, 3000.0)


def speech_envelope(samples: np.ndarray, sr: int, hop_s: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Log energy in the speech band every ``hop_s`` seconds → (times relative to samples[0], envelope)."""
    hop = max(1, int(round(sr * hop_s)))
    nperseg = hop * 4
    if len(samples) < nperseg:
        return np.zeros(0), np.zeros(0)
    f, t, z = stft(samples, fs=sr, nperseg=nperseg, noverlap=nperseg - hop, boundary=None, padded=False)
    band = (f >= BAND_HZ[0]) & (f <= BAND_HZ[1])
    energy = (np.abs(z[band]) ** 2).sum(axis=0)
    return t, np.log10(energy + 1e-10)


def _highpass(x: np.ndarray, width: int) -> np.ndarray:
    kernel = np.ones(width) / width
    padded = np.pad(x, width // 2, mode="edge")
    trend = np.convolve(padded, kernel, mode="same")[width // 2: width // 2 + len(x)]
    return x - trend


def _smooth(x: np.ndarray, width: int = 3) -> np.ndarray:
    return np.convolve(np.pad(x, width // 2, mode="edge"), np.ones(width) / width, mode="valid")


def av_offset(mouth_t: np.ndarray, mouth: np.ndarray, audio_samples: np.ndarray, audio_start_s: float, sr: int,
              start_s: float, end_s: float, fps: float, max_lag: int = 15, lead_s: float = 0.0
              ) -> dict[str, float | int | None]:
    """Sync of one clip.

    Args:
        mouth_t: times (seconds, container clock) of the mouth measurements.
        mouth: mouth opening per time (NaN where no face was meshed).
        audio_samples: mono audio of the whole source.
        audio_start_s: container time of audio_samples[0], seconds.
        sr: audio sample rate, Hz.
        start_s: clip start, seconds.
        end_s: clip end, seconds.
        fps: grid rate in frames per second (the video's nominal rate); offsets are in these frames.
        max_lag: search range, frames each way.
        lead_s: natural lead of lips over sound, seconds; subtracted from the raw offset.
    """
    none = {"offset_frames": None, "raw_offset_frames": None, "confidence": None, "offset_s": None}
    grid = np.arange(start_s, end_s, 1.0 / fps)
    sel = (mouth_t >= start_s - 1.0 / fps) & (mouth_t <= end_s + 1.0 / fps) & np.isfinite(mouth)
    if sel.sum() < max(2 * max_lag, int(2 * fps)) or len(grid) < 2 * max_lag + 4:
        return none
    m = np.interp(grid, mouth_t[sel], mouth[sel])
    # Audio for the clip plus the search margin, so shifted windows see real sound, not padding.
    margin = (max_lag + 2) / fps
    a0 = max(audio_start_s, start_s - margin)
    i0 = int(round((a0 - audio_start_s) * sr))
    i1 = int(round((end_s + margin - audio_start_s) * sr))
    seg = audio_samples[max(0, i0): max(0, i1)]
    env_t, env = speech_envelope(seg, sr)
    if len(env) < 4:
        return none
    env_t = env_t + a0
    width = max(3, int(round(0.5 * fps)) | 1)
    m = _smooth(_highpass(m, width))
    lags = np.arange(-max_lag, max_lag + 1)
    corr = np.full(len(lags), np.nan)
    for j, lag in enumerate(lags):
        # Audio `lag` frames later than the mouth: compare mouth(t) with envelope(t + lag/fps).
        a = np.interp(grid + lag / fps, env_t, env)
        a = _smooth(_highpass(a, width))
        if m.std() > 1e-9 and a.std() > 1e-9:
            corr[j] = float(np.corrcoef(m, a)[0, 1])
    if not np.isfinite(corr).any():
        return none
    best = int(np.nanargmax(corr))
    raw = int(lags[best])
    lead_frames = int(round(lead_s * fps))
    return {"offset_frames": raw - lead_frames, "raw_offset_frames": raw,
            "confidence": round(float(corr[best] - np.nanmedian(corr)), 4),
            "peak_correlation": round(float(corr[best]), 4),
            "offset_s": round((raw - lead_frames) / fps, 4)}
