"""Training on synthetic clips whose mouth follows the audio: it learns, is seeded, resumes, saves safely."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from talkset.train import TrainConfig, TrainError, load_motion_model, train
from talkset.train.data import sources, split_speakers


def test_held_out_speaker_mouth_is_learned(tiny_model, synth_folder):
    from talkset.train.evaluate import score_sources

    path, result = tiny_model
    assert result.val_speakers == ["spk3"] and len(result.train_clips) == 6
    assert result.history[-1]["val_loss"] < 0.2 * result.history[0]["val_loss"]
    model = load_motion_model(path)
    held = [s for s in sources([synth_folder]) if s.speaker == "spk3"]
    rows = score_sources(held, model, rules=False, progress=False)
    for row in rows:
        # A still face scores ~0.03 here; a model that ignored the audio could not get far below it.
        assert row["motion_lmd"] < 0.6 * row["still_motion_lmd"], row
        assert row["motion_lmd_mesh"] < 0.9 * row["still_motion_lmd"], row


def test_model_file_loads_weights_only_and_drives_a_track(tiny_model):
    from talkset.audio.io import Audio

    path, _ = tiny_model
    payload = torch.load(path, weights_only=True)
    assert payload["format"] == "talkset-motion-1" and payload["config"]["channels"] == 32
    assert payload["train"]["val_speakers"] == ["spk3"]
    model = load_motion_model(path)
    rng = np.random.default_rng(0)
    audio = Audio(rng.standard_normal(16000 * 2).astype(np.float32) * 0.1, 16000)
    track = model.motion(audio, fps=30, seed=1)
    assert len(track) == 60 and track.fps == 30
    again = model.motion(audio, fps=30, seed=1)
    np.testing.assert_array_equal(track.jaw, again.jaw)
    np.testing.assert_array_equal(track.blink, again.blink)
    assert len(model.motion(audio, fps=25, n_frames=7)) == 7


def test_speakers_are_held_out_whole(synth_folder):
    srcs = sources([synth_folder])
    train_part, val_part = split_speakers(srcs, 0.25, seed=3)
    assert val_part and train_part
    assert not {s.speaker for s in train_part} & {s.speaker for s in val_part}
    assert split_speakers(srcs, 0.25, seed=3)[1] == val_part  # deterministic


def _weights(path):
    return torch.load(path, weights_only=True)["state_dict"]


def test_seeded_and_resumable(synth_folder, tmp_path, monkeypatch):
    from talkset.train import loop

    cfg = dict(inputs=[str(synth_folder)], channels=16, epochs=3, progress=False, val_speakers=["spk3"])
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    train(TrainConfig(out=str(a), **cfg))
    real = loop.evaluate_clips
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "evaluate_clips", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(out=str(b), **cfg))
    assert not b.exists() and loop.checkpoint_path(b).exists()
    monkeypatch.setattr(loop, "evaluate_clips", real)
    with pytest.raises(TrainError, match="--resume"):
        train(TrainConfig(out=str(b), **cfg))
    train(TrainConfig(out=str(b), resume=True, **cfg))
    for k, v in _weights(a).items():
        torch.testing.assert_close(_weights(b)[k], v, rtol=0, atol=0)
    with pytest.raises(TrainError, match="already exists"):
        train(TrainConfig(out=str(a), **cfg))


def test_no_usable_clip_is_one_line_error(tmp_path):
    (tmp_path / "manifest.json").write_text("[]")
    with pytest.raises(TrainError, match="no usable training clip"):
        train(TrainConfig(inputs=[str(tmp_path)], out=str(tmp_path / "m.pt"), progress=False))
    with pytest.raises(TrainError, match="no such file"):
        train(TrainConfig(inputs=[str(tmp_path / "missing")], out=str(tmp_path / "m.pt"), progress=False))
