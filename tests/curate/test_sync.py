"""The sync scorer on synthetic signals with a known lag, where the answer is exact."""
import numpy as np
import pytest

from talkset.curate.scores.sync import av_offset


def _talking(lag_frames: int, fps: float = 25.0, seconds: float = 8.0, seed: int = 0):
    """A mouth that opens with syllables and audio whose loudness follows it ``lag_frames`` later."""
    rng = np.random.default_rng(seed)
    sr = 16000
    n_syll = int(seconds * 4)
    onsets = np.sort(rng.uniform(0, seconds - 0.3, n_syll))
    t = np.arange(0, seconds, 1 / fps)
    opening = np.zeros_like(t)
    for o in onsets:
        opening += np.exp(-0.5 * ((t - o - 0.1) / 0.06) ** 2) * rng.uniform(0.5, 1.0)
    mouth = np.stack([opening, opening * 0.8, 0.3 + 0.1 * opening], axis=1)
    ts = np.arange(int(seconds * sr)) / sr
    env = np.interp(ts - lag_frames / fps, t, opening, left=0, right=0)
    audio = (env * rng.standard_normal(len(ts)) * np.sin(2 * np.pi * 180 * ts) + 1e-3 * rng.standard_normal(len(ts)))
    return t, mouth, audio.astype(np.float32), sr


@pytest.mark.parametrize("lag", [0, 3, -5, 8])
def test_recovers_a_known_lag(lag):
    t, mouth, audio, sr = _talking(lag)
    r = av_offset(t, mouth, audio, 0.0, sr, 0.7, 7.3, fps=25.0, max_lag=15, lead_s=0.0)
    assert r["raw_offset_frames"] == lag
    assert r["offset_frames"] == lag
    assert r["confidence"] > 0.3


def test_offset_is_relative_to_the_natural_lead():
    t, mouth, audio, sr = _talking(3)
    r = av_offset(t, mouth, audio, 0.0, sr, 0.7, 7.3, fps=25.0, lead_s=0.12)
    assert r["raw_offset_frames"] == 3 and r["offset_frames"] == 0


def test_unrelated_audio_gives_low_confidence():
    t, mouth, _, sr = _talking(0, seed=1)
    _, _, other, _ = _talking(0, seed=2)
    r = av_offset(t, mouth, other, 0.0, sr, 0.7, 7.3, fps=25.0)
    matched = av_offset(t, mouth, _talking(0, seed=1)[2], 0.0, sr, 0.7, 7.3, fps=25.0)
    assert r["confidence"] < matched["confidence"]


def test_no_face_gives_no_measurement():
    t, mouth, audio, sr = _talking(0)
    mouth[:] = np.nan
    r = av_offset(t, mouth, audio, 0.0, sr, 0.7, 7.3, fps=25.0)
    assert r["offset_frames"] is None and r["confidence"] is None
