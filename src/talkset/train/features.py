"""Audio features for the motion model: log-mel energies every 10 ms, read at the video frame times.

Language-agnostic on purpose: no phones, only the spectrum. Each recording is normalised by its own per-band
mean and spread (cepstral mean and variance normalisation), so loudness, microphone and room differences between
clips do not reach the model. A frame's feature vector stacks ``SUBFRAMES`` mel frames spanning its period, so
the model sees the 10 ms detail inside each 40 ms video frame.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.signal import resample_poly

from talkset.audio.io import Audio
from talkset.bench.syncnet import mel_filterbank

SR = 16_000
HOP_S = 0.01
WIN = 400  # 25 ms analysis window
NFFT = 512
N_MELS = 40
SUBFRAMES = 4  # mel frames per video frame (at 25 fps: the whole 40 ms period)
CHUNK_S = 30.0  # mel frames computed per chunk: memory stays flat on long audio


def to_16k(audio: Audio) -> Audio:
    """The audio at 16 kHz (unchanged if it already is)."""
    if audio.sr == SR:
        return audio
    g = math.gcd(SR, audio.sr)
    return Audio(resample_poly(audio.samples, SR // g, audio.sr // g).astype(np.float32), SR, audio.start_s)


def log_mel(samples: np.ndarray) -> np.ndarray:
    """(n, N_MELS) float32 log mel energies of 16 kHz samples; frame k is centred on k * 10 ms.

    Args:
        samples: 1-D float samples at 16 kHz.
    """
    hop = int(HOP_S * SR)
    n = max(1, int(math.ceil(len(samples) / hop)))
    fbank = mel_filterbank(N_MELS, NFFT, SR, 0, SR / 2).T.astype(np.float32)
    win = np.hanning(WIN).astype(np.float32)
    out = np.empty((n, N_MELS), np.float32)
    step = int(CHUNK_S / HOP_S)
    for k0 in range(0, n, step):
        k1 = min(n, k0 + step)
        a, b = k0 * hop - WIN // 2, (k1 - 1) * hop + WIN // 2
        seg = np.zeros(b - a, np.float32)
        lo, hi = max(0, a), min(len(samples), b)
        if hi > lo:
            seg[lo - a:hi - a] = samples[lo:hi]
        frames = np.lib.stride_tricks.sliding_window_view(seg, WIN)[::hop][:k1 - k0] * win
        power = np.abs(np.fft.rfft(frames, NFFT, axis=1)) ** 2
        out[k0:k1] = np.log(power @ fbank + 1e-8)
    return out


def normalise(mel: np.ndarray) -> np.ndarray:
    """Per-band mean and spread removed over the whole recording (spread floored, for silent input)."""
    mean = mel.mean(axis=0, keepdims=True)
    std = np.maximum(mel.std(axis=0, keepdims=True), 0.5)
    return ((mel - mean) / std).astype(np.float32)


def frame_features(mel: np.ndarray, times_s: np.ndarray) -> np.ndarray:
    """(len(times_s), SUBFRAMES * N_MELS): the normalised mel read at each frame's period.

    Args:
        mel: normalised log mel, frame k at k * 10 ms from the audio's start.
        times_s: frame times in seconds from the audio's start; a frame covers [t, t + 1/fps), read here at
            the SUBFRAMES 10-ms points ``t - 15, -5, +5, +15 ms`` (centred on t, so the features do not
            depend on the fps).
    """
    offsets = (np.arange(SUBFRAMES) - (SUBFRAMES - 1) / 2) * HOP_S
    pos = (times_s[:, None] + offsets[None, :]) / HOP_S
    pos = np.clip(pos, 0, len(mel) - 1)
    i0 = np.floor(pos).astype(int)
    i1 = np.minimum(i0 + 1, len(mel) - 1)
    w = (pos - i0)[..., None].astype(np.float32)
    out = mel[i0] * (1 - w) + mel[i1] * w
    return out.reshape(len(times_s), -1).astype(np.float32)


def audio_features(audio: Audio, times_s: np.ndarray) -> np.ndarray:
    """Features of ``audio`` at frame times (seconds from ``audio.start_s``); see :func:`frame_features`."""
    audio = to_16k(audio)
    return frame_features(normalise(log_mel(audio.samples)), np.asarray(times_s, np.float64))


FEATURE_DIM = SUBFRAMES * N_MELS
