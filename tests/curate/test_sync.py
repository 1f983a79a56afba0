"""The sync scorer on synthetic signals with a known lag, where the answer is exact."""
import numpy as np
import pytest

from talkset.audio.io import Audio
from talkset.curate.scores.sync import SyncAudio, band_energies, sync_score


def _talking(lag_frames: float, fps: float = 25.0, seconds: float = 8.0, seed: int = 0):
    """A mouth that opens with syllables and audio whose loudness follows it ``lag_frames`` later."""
    rng = np.random.default_rng(seed)
    sr = 16000
    n_syll = int(seconds * 4)
    onsets = np.sort(rng.uniform(0, seconds - 0.3, n_syll))
    t = np.arange(0, seconds, 1 / fps)
    opening = np.zeros_like(t)
    for o in onsets:
        opening += np.exp(-0.5 * ((t - o - 0.1) / 0.06) ** 2) * rng.uniform(0.5, 1.0)
    mouth = np.stack([opening, opening * 0.8, 0.3 + 0.1 * opening, opening * 0.9, 1.2 + 0.2 * opening], axis=1)
    ts = np.arange(int(seconds * sr)) / sr
    env = np.interp(ts - lag_frames / fps, t, opening, left=0, right=0)
    audio = (env * rng.standard_normal(len(ts)) * np.sin(2 * np.pi * 180 * ts) + 1e-3 * rng.standard_normal(len(ts)))
    return t, mouth, SyncAudio.from_audio(Audio(audio.astype(np.float32), sr), phones=False)


@pytest.mark.parametrize("lag", [0, 3, -5, 8])
def test_recovers_a_known_lag(lag):
    t, mouth, audio = _talking(lag)
    r = sync_score(t, mouth, audio, 0.7, 7.3, fps=25.0, max_lag=15, lead_s=0.0)
    assert r["offset_frames"] == lag
    assert r["lag_s"] == pytest.approx(lag / 25.0, abs=0.01)
    assert not r["at_edge"]
    assert r["confidence"] > 3  # z against the clip's own rotated audio
    assert set(r["views"]) == {"cca", "f1"}  # no phones asked for


def test_a_lag_between_frames_is_measured_below_a_frame():
    t, mouth, audio = _talking(2.5)
    r = sync_score(t, mouth, audio, 0.7, 7.3, fps=25.0, lead_s=0.0)
    assert r["lag_s"] * 25 == pytest.approx(2.5, abs=0.3)


def test_offset_is_relative_to_the_natural_lead():
    t, mouth, audio = _talking(3)
    r = sync_score(t, mouth, audio, 0.7, 7.3, fps=25.0, lead_s=0.12)
    assert r["offset_frames"] == 0 and r["offset_s"] == pytest.approx(0.0, abs=0.01)


def test_shifting_the_audio_moves_the_offset_by_the_shift():
    t, mouth, audio = _talking(1)
    base = sync_score(t, mouth, audio, 0.7, 7.3, fps=25.0)
    for k in (-8, -5, -3, 3, 5, 8):
        moved = sync_score(t, mouth, audio.shifted(k / 25.0), 0.7, 7.3, fps=25.0)
        assert moved["offset_frames"] - base["offset_frames"] == k


def test_unrelated_audio_has_no_clear_peak():
    t, mouth, _ = _talking(0, seed=1)
    _, _, other = _talking(0, seed=2)
    r = sync_score(t, mouth, other, 0.7, 7.3, fps=25.0)
    assert r["confidence"] < 2.0  # the default min_confidence


def test_a_lag_beyond_the_search_is_at_the_edge():
    t, mouth, audio = _talking(14)
    r = sync_score(t, mouth, audio, 0.7, 7.3, fps=25.0, max_lag=15)
    assert r["at_edge"]


def test_no_face_gives_no_measurement():
    t, mouth, audio = _talking(0)
    mouth[:] = np.nan
    r = sync_score(t, mouth, audio, 0.7, 7.3, fps=25.0)
    assert r["offset_frames"] is None and r["confidence"] is None


def test_band_energies_in_chunks_equal_one_pass():
    x = np.random.default_rng(0).standard_normal(16000 * 9).astype(np.float32)
    t1, b1 = band_energies(x, 16000, chunk_s=2.0)
    t2, b2 = band_energies(x, 16000, chunk_s=100.0)
    assert np.allclose(t1, t2) and np.allclose(b1, b2)
