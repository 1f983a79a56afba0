"""A tiny synthetic curated folder (audio that drives the mouth exactly) and a tiny model trained on it."""
from __future__ import annotations

import pytest

TINY = dict(channels=32, epochs=25, lr=3e-3, progress=False)


@pytest.fixture(scope="session")
def synth_folder(tmp_path_factory):
    from talkset.testing import synthetic_motion_folder

    return synthetic_motion_folder(tmp_path_factory.mktemp("synth"), speakers=4, clips_per_speaker=2, seconds=4.0)


@pytest.fixture(scope="session")
def tiny_model(synth_folder, tmp_path_factory):
    from talkset.train import TrainConfig, train

    out = tmp_path_factory.mktemp("model") / "model.pt"
    result = train(TrainConfig(inputs=[str(synth_folder)], out=str(out), val_speakers=["spk3"], **TINY))
    return out, result
