"""FID/FVD machinery with tiny random TorchScript networks; the real Inception/I3D are user-supplied."""
import numpy as np
import pytest
import torch
from torch import nn

from talkset.bench.fid import (
    FeatureNetworkError,
    clip_features,
    features_distance,
    fid,
    frame_features,
    frechet_distance,
    fvd,
    load_feature_network,
    skipped,
)
from talkset.media.frames import decode_frames
from talkset.testing import tiny_feature_modules

REAL = "generated/real_man_suit_700_vfr.mp4"
# torch 2.13 deprecates TorchScript, but the published Inception/I3D files are TorchScript.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.:DeprecationWarning")

FAKES = ["generated/fake_wav2lip_from_real_man_suit.mp4", "generated/fake_sadtalker_from_real_man_suit.mp4"]


TinyImageNet, TinyVideoNet = tiny_feature_modules()


def _save(module, path, trace_input=None):
    scripted = torch.jit.script(module) if trace_input is None else torch.jit.trace(module, trace_input)
    scripted.save(str(path))
    return path


@pytest.fixture(scope="module")
def image_net(tmp_path_factory):
    torch.manual_seed(0)
    return load_feature_network(_save(TinyImageNet(), tmp_path_factory.mktemp("nets") / "inception.pt"))


@pytest.fixture(scope="module")
def video_net(tmp_path_factory):
    torch.manual_seed(1)
    return load_feature_network(_save(TinyVideoNet(), tmp_path_factory.mktemp("nets") / "i3d.pt"))


def _clip(path, n):
    return np.stack([v.work_rgb for v, _ in zip(decode_frames(path, 0, 320, 320), range(n))])


def test_frechet_distance_of_1d_gaussians_matches_the_closed_form():
    m1, s1, m2, s2 = 1.5, 2.0, -0.5, 0.5
    expected = (m1 - m2) ** 2 + s1**2 + s2**2 - 2 * s1 * s2
    assert frechet_distance(np.array([m1]), np.array([[s1**2]]), np.array([m2]), np.array([[s2**2]])) \
        == pytest.approx(expected)


def test_frechet_distance_diagonal_case_and_identity():
    mu, var1, var2 = np.zeros(3), np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
    expected = sum(var1 + var2 - 2 * np.sqrt(var1 * var2))
    assert frechet_distance(mu, np.diag(var1), mu, np.diag(var2)) == pytest.approx(expected)
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(50, 4))
    assert features_distance(feats, feats) == pytest.approx(0.0, abs=1e-8)


def test_singular_covariances_stay_finite():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 20)), rng.normal(size=(5, 20))  # rank 4 in 20 dimensions
    d = features_distance(a, b)
    assert np.isfinite(d) and d > 0


def _spread(feats):
    """Total variance within one feature set: the scale a distance between sets is judged against."""
    return float(np.trace(np.cov(feats, rowvar=False)))


def test_fid_is_zero_for_the_same_videos_and_positive_against_fakes(media, image_net):
    assert "return_features" in image_net.arguments
    real = [media / REAL]
    fakes = [media / f for f in FAKES]
    feats = frame_features(real, image_net, frames_per_video=12)
    assert feats.shape == (12, 6)  # the features, not the 2 logits
    assert abs(fid(real, real, image_net, frames_per_video=12)) < 1e-9 * _spread(feats)
    # the fakes differ from the real clip by more than its frames differ among themselves
    assert fid(fakes, real, image_net, frames_per_video=12) > 5 * _spread(feats)


def test_fid_accepts_frame_arrays_and_a_path(media, image_net):
    clip = _clip(media / REAL, 20)
    assert clip.shape[0] == 20
    assert fid([clip], [clip], image_net.path, frames_per_video=20) == pytest.approx(0.0, abs=1e-6)


def test_fvd_same_is_zero_fakes_are_farther(media, video_net):
    real = [media / REAL]
    fakes = [media / f for f in FAKES]
    feats = clip_features(real, video_net, clips_per_video=8)
    assert feats.shape == (8, 5)
    assert abs(fvd(real, real, video_net, clips_per_video=8)) < 1e-9 * _spread(feats)
    assert fvd(fakes, real, video_net, clips_per_video=8) > 5 * _spread(feats)


def test_traced_network_loads_too(tmp_path):
    path = _save(nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1)), tmp_path / "traced.pt",
                 trace_input=torch.zeros(1, 3, 32, 32))
    net = load_feature_network(path)
    rng = np.random.default_rng(0)
    videos = [rng.integers(0, 256, size=(10, 40, 40, 3), dtype=np.uint8) for _ in range(2)]
    assert frame_features(videos, net, frames_per_video=5).shape == (10, 4)


def test_non_torchscript_files_are_refused_in_one_line(tmp_path):
    state = tmp_path / "state_dict.pt"
    torch.save(nn.Linear(2, 2).state_dict(), state)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    for path in (state, junk, tmp_path / "missing.pt"):
        with pytest.raises(FeatureNetworkError) as e:
            load_feature_network(path)
        msg = str(e.value)
        assert str(path) in msg and "\n" not in msg


def test_skipped_report():
    assert skipped("no Inception network given") == {"value": None, "skipped": True,
                                                      "reason": "no Inception network given"}
