"""The sync scorer on the calibration set: real pairs beat mismatched ones, shifts are measured, reversals fail."""
from __future__ import annotations

import numpy as np
import pytest

from talkset.curate.calibrate import load_clip, pair_scores, real_files
from talkset.curate.config import Config
from talkset.curate.pipeline import Backends


@pytest.fixture(scope="module")
def pairs(media):
    backends, config = Backends.get(), Config.load()
    clips = [load_clip(v, w, c, backends, config) for v, w, c in real_files(media) if c]
    return [p for p in pair_scores(clips, config.analysis) if p["confidence"] is not None]


@pytest.mark.slow
def test_the_lowest_real_pair_beats_the_95th_percentile_of_mismatched_pairs(pairs):
    real = [p["confidence"] for p in pairs if p["kind"] == "real"]
    mismatched = [p["confidence"] for p in pairs if p["kind"] == "mismatched"]
    assert len(real) >= 17 and len(mismatched) >= 16 * 17
    assert min(real) > np.percentile(mismatched, 95), (min(real), np.percentile(mismatched, 95))


@pytest.mark.slow
def test_shifts_are_measured_and_large_ones_rejected(pairs):
    real = {(p["clip"], p["span"]): p for p in pairs if p["kind"] == "real"}
    shifted = [p for p in pairs if p["kind"] == "shifted"]
    moved = [abs((p["offset_s"] - real[(p["clip"], p["span"])]["offset_s"]) * p["fps"] - p["k"]) <= 1 for p in shifted]
    assert np.mean(moved) >= 0.95, np.mean(moved)


@pytest.mark.slow
def test_mouths_played_backwards_do_not_pass_as_in_sync(pairs):
    th = Config.load().thresholds["sync"]
    passed = [p["clip"] for p in pairs if p["kind"] == "reversed" and p["confidence"] >= th["min_confidence"]
              and abs(p["offset_frames"]) <= th["max_abs_offset_frames"] and not p["at_edge"]]
    assert not passed, passed
