"""The pieces: canonical space, features, chunked inference, shards, rig projection."""
from __future__ import annotations

import numpy as np
import torch

from talkset.train import canonical
from talkset.train.features import audio_features
from talkset.train.model import MotionNet, NetConfig, RigProjection, predict_frames


def test_canonical_space_removes_pose_scale_and_position():
    from talkset.animate.rig import _rotation
    from talkset.testing import portrait_mesh

    mesh = portrait_mesh().astype(np.float64)
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(20):
        rot = _rotation(*np.radians(rng.normal(0, [10, 20, 8])))
        frames.append(rng.uniform(0.5, 2.0) * (mesh - mesh.mean(0)) @ rot.T + rng.uniform(-50, 50, 3))
    canon = canonical.canonical_faces(np.stack(frames))
    assert np.abs(canon - canon[0]).max() < 1e-3
    d = np.linalg.norm(canon[0, 263] - canon[0, 33])
    assert abs(d - 1) < 0.01  # unit: inter-ocular distance


def test_features_depend_on_time_not_fps():
    rng = np.random.default_rng(1)
    from talkset.audio.io import Audio

    audio = Audio(rng.standard_normal(32000).astype(np.float32), 16000)
    at25 = audio_features(audio, np.arange(50) / 25)
    at50 = audio_features(audio, np.arange(100) / 50)
    np.testing.assert_allclose(at25, at50[::2], atol=1e-5)
    assert at25.shape == (50, 160) and np.isfinite(at25).all()


def test_chunked_inference_equals_whole_sequence():
    torch.manual_seed(0)
    net = MotionNet(NetConfig(channels=16, dropout=0.0))
    feats = np.random.default_rng(2).standard_normal((700, 160)).astype(np.float32)
    whole = predict_frames(net, feats, chunk=10_000)
    chunked = predict_frames(net, feats, chunk=64)
    np.testing.assert_allclose(chunked, whole, atol=1e-4)
    # Too little context would change the frames at chunk edges: the overlap is what makes this hold.
    net.cfg.dilations = (1, 1, 1, 1)  # a smaller radius than the convolutions really have
    assert np.abs(predict_frames(net, feats, chunk=64) - whole).max() > 1e-3


def test_rig_projection_recovers_rig_motion():
    from talkset.animate.track import MotionTrack
    from talkset.testing import portrait_mesh

    canon = canonical.canonical_faces(portrait_mesh()[None])[0]
    proj = RigProjection(canon)
    track = MotionTrack.rest(3)
    track.jaw[:] = [0.1, 0.4, 0.8]
    track.lip_round[:] = [0.0, 0.5, 0.2]
    got = proj.track_fields(proj.displacements(track))
    np.testing.assert_allclose(got["jaw"], track.jaw, atol=0.02)
    np.testing.assert_allclose(got["lip_round"], track.lip_round, atol=0.05)


def test_webdataset_shards_give_the_same_examples(synth_folder, tmp_path):
    from talkset.dataset.webdataset import export_webdataset
    from talkset.train.data import load_example, sources

    export_webdataset(synth_folder, tmp_path / "shards", max_samples=3)
    from_folder = sorted(sources([synth_folder]), key=lambda s: s.id)
    from_shards = sorted(sources([tmp_path / "shards"]), key=lambda s: s.id)
    assert [(s.id, s.speaker) for s in from_shards] == [(s.id, s.speaker) for s in from_folder]
    a, b = load_example(from_folder[0]), load_example(from_shards[0])
    np.testing.assert_array_equal(a.targets, b.targets)
    np.testing.assert_allclose(a.features, b.features, atol=1e-6)
