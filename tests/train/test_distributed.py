"""Data-parallel training follows the single-worker loss curve (dropout 0: the same arithmetic, split)."""
from __future__ import annotations

import numpy as np
import pytest

from talkset.train import TrainConfig, train

CFG = dict(channels=16, epochs=1, dropout=0.0, progress=False, val_speakers=["spk3"], batch_size=8)


def _curve(folder, out, **kw):
    return np.array(train(TrainConfig(inputs=[str(folder)], out=str(out), **{**CFG, **kw})).step_losses)


@pytest.mark.slow  # two spawned workers import torch and talkset: ~50 s on the loaded CI machine
def test_two_local_workers_follow_one(synth_folder, tmp_path):
    one = _curve(synth_folder, tmp_path / "one.pt")
    two = _curve(synth_folder, tmp_path / "two.pt", workers=2)
    assert len(one) == len(two) >= 5
    np.testing.assert_allclose(two, one, rtol=2e-3)
    # The tolerance is tight enough to tell runs apart: another seed (another data order) falls outside it.
    other = _curve(synth_folder, tmp_path / "other.pt", seed=1)
    assert not np.allclose(other, one, rtol=2e-3)


@pytest.mark.slow
def test_ray_train_two_workers_follow_one(synth_folder, tmp_path):
    pytest.importorskip("ray.train")
    one = _curve(synth_folder, tmp_path / "one.pt")
    two = _curve(synth_folder, tmp_path / "ray.pt", workers=2, backend="ray")
    assert len(one) == len(two)
    np.testing.assert_allclose(two, one, rtol=2e-3)
