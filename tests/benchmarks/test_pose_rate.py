"""The pose-rate scorer and curate_speed's mode configs on hand-made inputs (no model, no footage)."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import curate_speed
import pose_rate


def test_step_rounds_half_up():
    assert [pose_rate.step_for(25, r) for r in pose_rate.RATES] == [2, 3, 5, 10, 25]
    assert [pose_rate.step_for(30, r) for r in pose_rate.RATES] == [2, 3, 6, 12, 30]


def test_interpolate_only_between_two_found_frames():
    pts = np.full((7, 1, 2), np.nan, np.float32)
    pts[0], pts[3] = 0.0, 3.0  # k = 3: frames 0, 3, 6 measured; 6 found nothing
    out = pose_rate.interpolate(pts, 3)
    assert out[:4, 0, 0].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert np.isnan(out[4:, 0]).all()


def test_score_counts_error_in_shoulder_widths_and_coverage():
    n = 5
    ref = np.zeros((n, 33, 4), np.float32)
    ref[..., 3] = 1.0
    ref[:, :, 0] = np.arange(n)[:, None] * 10.0  # moves 10 px per frame
    est = np.full_like(ref, np.nan)
    est[0], est[2] = ref[0], ref[2]
    est[2, :, 0] += 20.0  # measured frame 2 is 20 px off
    hands = np.full((n, 2, 21, 3), np.nan, np.float32)
    s = pose_rate.score(pose_rate.Run(ref, hands), pose_rate.Run(est, hands), 2, 100.0, (640, 480))
    # frames 0..2 covered (frame 1 half-way), frames 3..4 not
    assert s.body_visible == n * 33
    assert len(s.body_errors) == 3 * 33
    assert sorted(set(np.round(s.body_errors, 3))) == [0.0, 0.1, 0.2]


def test_recommend_stops_at_first_failure():
    row = lambda rate, ok: pose_rate.RateRow(rate, [1], 0, 0, 1, 0, 0, 1, 1, 1, 0, 0, 0, ok)
    rows = [row("every frame", True), row("15 fps", True), row("10 fps", False), row("5 fps", True)]
    assert pose_rate.recommend(rows) == "15 fps"


@pytest.mark.parametrize("mode", ["encode", "encode+ann"])
def test_encode_runs_without_the_clips_key_when_it_is_unknown(tmp_path, mode):
    config, note = curate_speed.mode_config(mode, tmp_path)
    assert config is not None
    if "clips" not in (tmp_path / config.name).read_text():
        assert "only behaviour" in note


def test_a_mode_with_an_unknown_key_is_skipped_with_a_note(tmp_path, monkeypatch):
    def refuse(path):
        raise curate_speed.ConfigError(f"{path}: unknown setting 'output.clips'")

    monkeypatch.setattr(curate_speed.Config, "load", staticmethod(refuse))
    config, note = curate_speed.mode_config("none", tmp_path)
    assert config is None and "skipped" in note and "unknown setting" in note
