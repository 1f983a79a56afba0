"""Weight-free audio-visual sync: does the mouth move with this audio, and how far apart are they?

Three views compare the mouth (five opening measures from the face mesh, ``vision.face.mouth_measures``) with the
audio at every lag in ±``max_lag`` frames:

* ``cca``: canonical correlation between three inner-lip measures and eight log band energies (150–6000 Hz), the
  FaceSync approach (Slaney & Covell, 2000). It adapts to the speaker but ignores the sign of the relation.
* ``f1``: signed correlation of mouth opening with an F1 index, the energy around the first formant of open vowels
  (730–1240 Hz) against the low voiced bands (nasals and closed vowels): an open jaw raises F1. Signed, so the
  anti-phase lobe half a syllable away cannot win.
* ``phones``: signed correlation of mouth opening with the jaw opening that the audio's phones ask for (pocketsphinx
  phone loop, ``audio.visemes``): bilabials close the lips, open vowels open them. The most specific view, and
  usable on any language pocketsphinx can segment into vowels and consonants.

Each view's curve is turned into z-scores against a null built from the clip itself: the same statistic with the
clip's audio rotated by at least ``null_min_s`` (audio that certainly does not belong to the mouth it is compared
with). The views' z-curves are averaged (the phones view counts double); the peak's value is the ``confidence``,
in z units a user can threshold (``benchmarks/calibrate_sync.py`` prints, on the calibration set, the share of
mismatched audio that passes at each value). Both sides are high-passed (a 0.3 s moving average removed) so slow
drifts in pose and loudness do not dominate.

Sign convention: ``lag_s`` is the lag at which the audio best matches the mouth, positive when the audio comes
later. Lips lead the sound in natural speech, so real clips peak at a small positive lag; ``offset_s`` and
``offset_frames`` are relative to the calibrated natural lead, so 0 is natural sync and delaying the audio by k
frames raises them by k. The lag is refined below a frame (a parabola through the peak), so offsets do not depend on
which side of a frame boundary a clip's audio happens to fall.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import numpy as np
from scipy.signal import stft

from talkset.audio.io import Audio

BAND_EDGES_HZ = np.geomspace(150.0, 6000.0, 9)
HOP_S = 0.01
HIGHPASS_S = 0.3
RIDGE = 0.1
# Weights over the eight bands (edges above): the first-formant band of open vowels against the low voiced bands.
F1_INDEX = np.array([-0.3, -0.3, 0.0, 1.0, 0.3, 0.2, 0.2, 0.2])
# Weights over vision.face.MOUTH_MEASURES (inner area, inner gap, inner width, outer gap, jaw): how open the mouth is.
OPENING_F1 = np.array([1.0, 1.0, -0.5, 0.0, 0.0])
OPENING_JAW = np.array([1.0, 1.0, 0.0, 1.0, 1.0])
NULL_LAGS = 40  # rotations sampled for each view's null
# The phones view counts double: it is the most specific, and on the calibration set the weighted mean separates
# real pairs from mismatched ones best (benchmarks/calibrate_sync.py; equal weights came second).
VIEW_WEIGHTS = {"cca": 1.0, "f1": 1.0, "phones": 2.0}
SCORER = "talkset-sync-2"


@dataclass(frozen=True, eq=False)
class SyncAudio:
    """The audio side of the sync scorer, computed once per source.

    Attributes:
        t: times of the rows, seconds on the container clock, ``HOP_S`` apart.
        bands: (n, 8) log band energies.
        jaw: (n,) jaw opening the phones ask for (0 closed … 1 wide), or None without phones.
    """

    t: np.ndarray
    bands: np.ndarray
    jaw: np.ndarray | None = None

    @classmethod
    def from_audio(cls, audio: Audio, *, phones: bool = True,
                   regions: list[tuple[float, float]] | None = None) -> SyncAudio:
        """Band energies of the whole audio, and (``phones``) the jaw track of the phones inside ``regions``.

        Args:
            audio: 16 kHz mono audio (pocketsphinx needs 16 kHz; the bands work at any rate).
            phones: recognise phones (about 0.03 s of CPU per second of speech).
            regions: (start_s, end_s) spans to recognise phones in, container clock; None: everything.
        """
        t, bands = band_energies(audio.samples, audio.sr)
        t = t + audio.start_s
        jaw = None
        if phones and audio.sr == 16000 and len(t):
            jaw = _phone_jaw(audio, t, regions)
        return cls(t, bands, jaw)

    def shifted(self, dt_s: float) -> SyncAudio:
        """The same audio played ``dt_s`` seconds later."""
        return SyncAudio(self.t + dt_s, self.bands, self.jaw)


def band_energies(samples: np.ndarray, sr: int, chunk_s: float = 60.0) -> tuple[np.ndarray, np.ndarray]:
    """Log energy in eight bands every 10 ms → (times relative to samples[0], (n, 8) energies).

    Computed in chunks so an hour of audio never holds its whole spectrogram.
    """
    hop = max(1, int(round(sr * HOP_S)))
    nperseg = hop * 4
    if len(samples) < nperseg:
        return np.zeros(0), np.zeros((0, len(BAND_EDGES_HZ) - 1))
    step = int(chunk_s / HOP_S) * hop
    times, rows = [], []
    for i0 in range(0, len(samples), step):
        seg = samples[i0:i0 + step + nperseg - hop]
        if len(seg) < nperseg:
            break
        f, t, z = stft(seg, fs=sr, nperseg=nperseg, noverlap=nperseg - hop, boundary=None, padded=False)
        keep = np.arange(len(t)) < step // hop  # the next chunk starts where these frames end
        power = np.abs(z[:, keep]) ** 2
        rows.append(np.stack([power[(f >= lo) & (f < hi)].sum(axis=0)
                              for lo, hi in zip(BAND_EDGES_HZ, BAND_EDGES_HZ[1:])], axis=1))
        times.append(t[keep] + i0 / sr)
    return np.concatenate(times), np.log10(np.concatenate(rows) + 1e-9)


def _phone_jaw(audio: Audio, t: np.ndarray, regions: list[tuple[float, float]] | None) -> np.ndarray | None:
    from talkset.audio.phonemes import PhonemeError, recognize_phones
    from talkset.audio.visemes import viseme_curves

    spans = regions if regions is not None else [(audio.start_s, audio.start_s + audio.duration_s)]
    phones = []
    for a, b in spans:
        i0 = max(0, int((a - audio.start_s) * audio.sr))
        i1 = min(len(audio.samples), int((b - audio.start_s) * audio.sr))
        if i1 - i0 < audio.sr // 2:
            continue
        try:
            phones += recognize_phones(Audio(audio.samples[i0:i1], audio.sr, audio.start_s + i0 / audio.sr),
                                       coarse=True)
        except PhonemeError:
            return None
    jaw, _, _ = viseme_curves(phones, len(t), float(t[0]))
    return jaw


NO_MEASUREMENT = {"offset_frames": None, "offset_s": None, "lag_s": None, "confidence": None, "at_edge": None,
                  "views": None, "scorer": SCORER}


def first_canonical_correlation(x: np.ndarray, y: np.ndarray, ridge: float = RIDGE) -> float:
    """Largest canonical correlation between the columns of x and y, ridge-regularised."""
    wx, wy = _whitener(x - x.mean(axis=0), ridge), _whitener(y - y.mean(axis=0), ridge)
    return _cca(x - x.mean(axis=0), y - y.mean(axis=0), wx, wy)


def _whitener(x: np.ndarray, ridge: float) -> np.ndarray:
    c = x.T @ x / len(x)
    c = c + ridge * np.trace(c) / len(c) * np.eye(len(c)) + 1e-12 * np.eye(len(c))
    return np.linalg.inv(np.linalg.cholesky(c))


def _cca(x: np.ndarray, y: np.ndarray, wx: np.ndarray, wy: np.ndarray) -> float:
    return float(np.linalg.svd(wx @ (x.T @ y / len(x)) @ wy.T, compute_uv=False)[0])


def _highpass(x: np.ndarray, width: int) -> np.ndarray:
    """Removes a centred moving average from each column."""
    kernel = np.ones(width) / width
    padded = np.pad(x, ((width // 2, width // 2), (0, 0)), mode="edge")
    trend = np.stack([np.convolve(padded[:, j], kernel, mode="valid") for j in range(x.shape[1])], axis=1)
    return x - trend[: len(x)]


def _standard(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=0)
    sd = x.std(axis=0)
    return x / np.where(sd > 1e-12, sd, 1.0)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    den = np.sqrt((a @ a) * (b @ b))
    return float(a @ b / den) if den > 1e-12 else 0.0


def sync_score(mouth_t: np.ndarray, mouth: np.ndarray, audio: SyncAudio, start_s: float, end_s: float,
               fps: float, *, max_lag: int = 15, lead_s: float = 0.0, null_min_s: float = 1.0) -> dict:
    """Sync of one clip.

    Args:
        mouth_t: times (seconds, container clock) of the mouth measurements.
        mouth: (n, 5) ``mouth_measures`` per time (NaN rows where no face was meshed); fewer columns are padded
            with the first (so a single opening series also works).
        audio: the source's :class:`SyncAudio`.
        start_s: clip start, seconds.
        end_s: clip end, seconds.
        fps: grid rate in frames per second (the video's nominal rate); offsets are in these frames.
        max_lag: search range, frames each way.
        lead_s: natural lead of lips over sound, seconds; subtracted from the lag.
        null_min_s: the null rotates the clip's audio by at least this many seconds.
    """
    curves = sync_curves(mouth_t, mouth, audio, start_s, end_s, fps, max_lag=max_lag, null_min_s=null_min_s)
    if curves is None:
        return dict(NO_MEASUREMENT)
    lags, z = curves
    # sum() of arrays is an array (typeshed only knows its start value 0 could come back)
    combined = cast(np.ndarray, sum(VIEW_WEIGHTS[k] * c for k, c in z.items()) / sum(VIEW_WEIGHTS[k] for k in z))
    best = int(np.argmax(combined))
    lag = float(lags[best]) + _parabola(combined, best)
    offset_s = lag / fps - lead_s
    return {"offset_frames": int(round(offset_s * fps)), "offset_s": round(offset_s, 4),
            "lag_s": round(lag / fps, 4), "confidence": round(float(combined[best]), 3),
            "at_edge": bool(abs(lags[best]) >= max_lag - 1),
            "views": {name: round(float(c[best]), 3) for name, c in z.items()}, "scorer": SCORER}


def sync_curves(mouth_t: np.ndarray, mouth: np.ndarray, audio: SyncAudio, start_s: float, end_s: float,
                fps: float, *, max_lag: int = 15, null_min_s: float = 1.0
                ) -> tuple[np.ndarray, dict[str, np.ndarray]] | None:
    """Each view's z-curve over the lags ±``max_lag`` (arguments as :func:`sync_score`), or None when the clip has
    too little face, audio or length to be measured."""
    mouth = np.asarray(mouth, float).reshape(len(mouth_t), -1)
    if mouth.shape[1] < 5:
        mouth = np.concatenate([mouth, np.repeat(mouth[:, :1], 5 - mouth.shape[1], axis=1)], axis=1)
    grid = np.arange(start_s, end_s, 1.0 / fps)
    ok = np.isfinite(mouth).all(axis=1)
    n = len(grid)
    # A face missing for much of the clip gives no measurement: at least 80% of the grid must have a meshed frame
    # within 2.5 frames; the null needs rotations of at least null_min_s both ways.
    if ok.sum() < 2 or n < 2 * max_lag + 4 or n < 2 * null_min_s * fps + 8 or len(audio.t) < 4:
        return None
    valid_t = np.asarray(mouth_t, float)[ok]
    idx = np.clip(np.searchsorted(valid_t, grid), 1, len(valid_t) - 1)
    gap = np.minimum(np.abs(valid_t[idx] - grid), np.abs(valid_t[idx - 1] - grid))
    if np.mean(gap <= 2.5 / fps) < 0.8:
        return None
    width = max(3, int(round(HIGHPASS_S * fps)) | 1)
    v = _highpass(np.stack([np.interp(grid, valid_t, mouth[ok, j]) for j in range(5)], axis=1), width)
    if v.std(axis=0).max() < 1e-9:
        return None
    # The audio high-passed on its own 10 ms grid, around the clip and the search margin, once.
    margin = (max_lag + 2) / fps
    sel = (audio.t >= start_s - margin - 1.0) & (audio.t <= end_s + margin + 1.0)
    if sel.sum() < 4:
        return None
    at = audio.t[sel]
    a_width = max(3, int(round(HIGHPASS_S / HOP_S)) | 1)
    bands = _highpass(audio.bands[sel], a_width)
    jaw = _highpass(audio.jaw[sel][:, None], a_width)[:, 0] if audio.jaw is not None else None

    lags = np.arange(-max_lag, max_lag + 1)
    rotations = _rotations(n, null_min_s * fps)
    views: dict[str, Callable[[np.ndarray], float]] = {
        "cca": _ViewCCA(v[:, :3]), "f1": _ViewSigned(_standard(v) @ OPENING_F1, F1_INDEX)}
    if jaw is not None and audio.jaw is not None and np.ptp(audio.jaw[sel]) > 0:
        views["phones"] = _ViewSigned(_standard(v) @ OPENING_JAW, None)
    z = {}
    for name, view in views.items():
        if name == "phones":
            assert jaw is not None  # the phones view exists only with a jaw signal
            feats = jaw[:, None]
        else:
            feats = bands

        def at_lag(lag: float | np.integer, feats: np.ndarray = feats) -> np.ndarray:
            shifted = grid + lag / fps
            return np.stack([np.interp(shifted, at, feats[:, k]) for k in range(feats.shape[1])], axis=1)

        curve = np.array([view(at_lag(lag)) for lag in lags])
        own = at_lag(0)
        null = np.array([view(np.roll(own, -k, axis=0)) for k in rotations])
        z[name] = (curve - null.mean()) / max(null.std(), 1e-9)
    return lags, z


class _ViewCCA:
    def __init__(self, mouth: np.ndarray):
        self.x = mouth - mouth.mean(axis=0)
        self.wx = _whitener(self.x, RIDGE)

    def __call__(self, audio: np.ndarray) -> float:
        y = audio - audio.mean(axis=0)
        return _cca(self.x, y, self.wx, _whitener(y, RIDGE))


class _ViewSigned:
    def __init__(self, opening: np.ndarray, weights: np.ndarray | None):
        self.opening = opening
        self.weights = weights

    def __call__(self, audio: np.ndarray) -> float:
        a = _standard(audio) @ self.weights if self.weights is not None else audio[:, 0]
        return _corr(self.opening, a)


def _rotations(n: int, min_shift: float) -> np.ndarray:
    """Up to NULL_LAGS circular shifts, evenly spread over [min_shift, n - min_shift]."""
    lo, hi = int(np.ceil(min_shift)), int(np.floor(n - min_shift))
    ks = np.arange(lo, hi + 1)
    return ks[np.linspace(0, len(ks) - 1, min(NULL_LAGS, len(ks))).round().astype(int)] if len(ks) else ks


def _parabola(y: np.ndarray, i: int) -> float:
    """Sub-sample offset of a peak at index i from the parabola through its neighbours (0 at the ends)."""
    if i <= 0 or i >= len(y) - 1:
        return 0.0
    den = y[i - 1] - 2 * y[i] + y[i + 1]
    return float(np.clip(0.5 * (y[i - 1] - y[i + 1]) / den, -0.5, 0.5)) if den < 0 else 0.0
