"""Motion from a driving video: the retarget strategies (and upstream's closest-frame bug), jaw sync on real
speech, gaps and errors."""
from __future__ import annotations

import math

import numpy as np
import pytest

from talkset.animate.driving import (
    DrivingError,
    _raw_features,
    closest_frame,
    compute_ratio,
    motion_from_mesh,
    motion_from_video,
    placement,
    retarget_kps,
)
from talkset.audio.io import load_audio
from talkset.curate.config import Config
from talkset.curate.scores.sync import SyncAudio, sync_score
from talkset.testing import write_rgb_video
from talkset.vision.face import head_pose
from talkset.vision.kps import KPS_SIZE, kps_from_landmarks, mesh_video

HDTF = "talking/hdtf_woman_flag_512_mpeg4.mp4"
VOX = "talking/vox_man_tv_224.mp4"


def upstream_closest(ref_kps, tgt_kps_list):
    """V-Express pipelines/utils.py retarget_kps's selection loop, bug included (ratio_delta = tgt_ratio)."""
    ref_ratio = compute_ratio(ref_kps)
    ratio_delta, selected = 10000, None
    for idx, tgt in enumerate(tgt_kps_list):
        tgt_ratio = compute_ratio(tgt)
        if math.fabs(tgt_ratio - ref_ratio) < ratio_delta:
            selected, ratio_delta = idx, tgt_ratio
    return selected


def kps_with_ratio(ratio: float) -> np.ndarray:
    """Keypoints whose left-eye–nose over right-eye–nose distance is ``ratio``."""
    return np.array([[256 - 60 * ratio, 200], [316, 200], [256, 200]], np.float32) + [0, 0]


def test_closest_frame_is_the_nearest_ratio_where_upstream_picks_a_later_frame():
    ref = kps_with_ratio(1.0)
    seq = np.stack([kps_with_ratio(r) for r in (1.5, 1.02, 1.3, 0.9, 1.2)])
    assert np.allclose(compute_ratio(seq), [1.5, 1.02, 1.3, 0.9, 1.2], atol=1e-4)
    assert closest_frame(ref, seq) == 1
    assert upstream_closest(ref, seq) == 4  # any later frame within ~1 of the reference replaces the closest
    placed = retarget_kps(ref, seq, "offset_retarget")
    np.testing.assert_allclose(placed[1], ref, atol=1e-4)  # the closest frame carries the reference exactly


def test_retarget_kps_strategies_on_synthetic_keypoints():
    rng = np.random.default_rng(0)
    ref = np.array([[200, 220], [300, 220], [250, 290]], np.float32)
    base = np.array([[100, 100], [150, 100], [125, 135]], np.float32)  # half the reference's size
    seq = np.stack([base + rng.normal(0, 3, 2) + [i, 2 * i] for i in range(10)]).astype(np.float32)
    np.testing.assert_array_equal(retarget_kps(ref, seq, "fix_face"), np.broadcast_to(ref, seq.shape))
    np.testing.assert_array_equal(retarget_kps(ref, seq, "no_retarget"), seq)
    r = closest_frame(ref, seq)
    off = retarget_kps(ref, seq, "offset_retarget")
    motion = seq.mean(axis=1) - seq[r].mean(axis=0)
    np.testing.assert_allclose(off.mean(axis=1) - ref.mean(axis=0), motion, atol=1e-3)
    naive = retarget_kps(ref, seq, "naive_retarget")
    np.testing.assert_allclose(naive.mean(axis=1) - ref.mean(axis=0), 2 * motion, rtol=0.05, atol=0.05)
    with pytest.raises(ValueError, match="unknown retarget strategy 'mirror'"):
        retarget_kps(ref, seq, "mirror")


@pytest.fixture(scope="module")
def hdtf_mesh(media):
    return mesh_video(media / HDTF)


def shrunk_portrait(track, j, factor=0.5, shift=(40.0, -20.0)):
    """A portrait that is frame j of the driving video at ``factor`` of its size, moved by ``shift`` pixels."""
    lm = track.landmarks[j].astype(np.float64).copy()
    lm[:, :3] *= factor
    lm[:, :2] += shift
    return lm


def driving_series(track):
    w, h = track.frame_size
    kps = np.stack([kps_from_landmarks(lm, w, h) for lm in track.landmarks])
    size = np.array([_raw_features(lm)[8] for lm in track.landmarks]) * KPS_SIZE / np.sqrt(w * h)
    pose = np.array([head_pose(lm) for lm in track.landmarks])
    return kps, size, pose


def test_each_strategy_places_the_head_as_defined(hdtf_mesh):
    track = hdtf_mesh
    assert track.found.all()
    w, h = track.frame_size
    kps, size, pose = driving_series(track)
    j = 120
    portrait = shrunk_portrait(track, j)
    ref = kps_from_landmarks(portrait, w, h)
    # The portrait is frame j scaled: V-Express's ratio is scale-free, so frame j is the closest.
    assert closest_frame(ref, kps) == j
    face_w = np.linalg.norm(portrait[454, :2] - portrait[234, :2])
    centre = kps.mean(axis=1) * [w / KPS_SIZE, h / KPS_SIZE]

    off, scale, head = placement(kps, size, pose, portrait, (w, h), "fix_face")
    assert not off.any() and (scale == 1).all() and not head.any()

    off, scale, head = placement(kps, size, pose, portrait, (w, h), "no_retarget")
    # The head goes where the driving face is, at its size (twice the portrait's), with its absolute pose.
    np.testing.assert_allclose(off * face_w, centre - ref.mean(axis=0) * [w / KPS_SIZE, h / KPS_SIZE], atol=1e-2)
    np.testing.assert_allclose(scale, size / size[j] * 2, rtol=1e-4)
    np.testing.assert_allclose(head[j], pose[j] - head_pose(portrait), atol=1e-3)
    assert np.ptp(off[:, 0]) * face_w > 20  # she moves: the offsets follow absolute positions

    off, scale, head = placement(kps, size, pose, portrait, (w, h), "offset_retarget")
    np.testing.assert_allclose(off[j], 0, atol=1e-5)
    np.testing.assert_allclose(off * face_w, centre - centre[j], atol=1e-2)  # unscaled driving motion
    assert (scale == 1).all()
    np.testing.assert_allclose(head, pose - pose[j], atol=1e-9)

    n_off, n_scale, n_head = placement(kps, size, pose, portrait, (w, h), "naive_retarget")
    np.testing.assert_allclose(n_off[j], 0, atol=1e-5)
    np.testing.assert_allclose(n_off, off * 0.5, atol=2e-3)  # the motion scaled by the size ratio
    np.testing.assert_allclose(n_scale, size / size[j], rtol=1e-6)
    assert np.ptp(n_scale) > 0.05
    np.testing.assert_allclose(n_head, head)


def test_motion_track_from_real_footage(hdtf_mesh):
    track = hdtf_mesh
    w, h = track.frame_size
    portrait = shrunk_portrait(track, 120)
    m = motion_from_mesh(track, fps=25.0, retarget="offset_retarget", portrait_landmarks=portrait,
                         portrait_size=(w, h))
    assert len(m) == len(track.times) == 200 and m.fps == 25.0  # 25 fps video on a 25 fps grid
    assert np.abs(m.offset[120]).max() < 0.01 and np.abs(m.head[120]).max() < 0.5
    # A closed mouth maps to 0 and speech opens it; values stay in their ranges.
    assert np.percentile(m.jaw, 5) < 1e-3 and m.jaw.max() > 0.4 and m.jaw.max() <= 1
    assert 0 <= m.blink.min() and m.blink.max() <= 1 and 0 <= m.brow.min() and m.brow.max() <= 1
    assert np.abs(m.gaze).max() <= 1 and 0 <= m.lip_round.min() and m.lip_width.max() <= 1
    # Resampling by time: 12.5 fps takes every other frame's measures.
    half = motion_from_mesh(track, fps=12.5, retarget="offset_retarget", portrait_landmarks=portrait,
                            portrait_size=(w, h))
    assert len(half) == 100
    np.testing.assert_allclose(half.jaw, m.jaw[::2], atol=1e-6)
    # n_frames cuts or holds the last frame; start_s shifts the grid on the container clock.
    long = motion_from_mesh(track, fps=25.0, retarget="fix_face", portrait_landmarks=portrait,
                            portrait_size=(w, h), n_frames=230, start_s=0.4)
    assert len(long) == 230
    np.testing.assert_allclose(long.jaw[:190], m.jaw[10:], atol=1e-6)
    assert (long.jaw[190:] == m.jaw[-1]).all()


@pytest.mark.parametrize("name", [HDTF, VOX])
def test_driving_jaw_is_in_sync_with_its_own_speech(media, name):
    path = media / name
    track = mesh_video(path)
    w, h = track.frame_size
    m = motion_from_mesh(track, fps=25.0, portrait_landmarks=track.landmarks[0], portrait_size=(w, h))
    audio = load_audio(path)
    t = track.times[0] + np.arange(len(m)) / 25.0
    lead = Config.load().analysis["sync_natural_lead_s"]
    sound = SyncAudio.from_audio(audio)
    sync = sync_score(t, m.jaw[:, None], sound, t[0], t[-1], 25.0, lead_s=lead)
    assert abs(sync["offset_frames"]) <= 2 and sync["confidence"] > 2.0, sync
    # The same jaw against audio delayed by 8 frames moves the peak by 8: the jaw carries the timing.
    late = sync_score(t, m.jaw[:, None], sound.shifted(8 / 25.0), t[0], t[-1], 25.0, lead_s=lead)
    assert late["offset_frames"] - sync["offset_frames"] == 8, (sync, late)
    # Both eyes blink together. On the VoxCeleb face one eye alone read "closed" in 13% of frames; people
    # blink 15–20 times a minute for 100–300 ms, a few percent of frames. (The HDTF speaker glances down
    # at her notes every second or so: lowered lids that read as blinks, 10% of frames.)
    assert np.array_equal(m.blink[:, 0], m.blink[:, 1])
    if name == VOX:
        assert (m.blink[:, 0] > 0.5).mean() < 0.05


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["fix_face", "no_retarget", "offset_retarget", "naive_retarget"])
def test_motion_from_video_end_to_end(media, strategy):
    import cv2

    from talkset.vision.face import FaceDetector, FaceMesher

    img = cv2.cvtColor(cv2.imread(str(media / "images/woman_frontal_624.jpg")), cv2.COLOR_BGR2RGB)
    lm = FaceMesher(tracking=False)(img, FaceDetector()(img)[0])
    m = motion_from_video(media / "talking/man_worldmap_844.mp4", fps=25.0, retarget=strategy,
                          portrait_landmarks=lm, portrait_size=(img.shape[1], img.shape[0]))
    assert len(m) == 125  # 125 frames at 25 fps
    if strategy == "fix_face":
        assert not m.offset.any() and (m.scale == 1).all() and not m.head.any()
    else:
        assert np.abs(m.head).max() > 0.5 and np.isfinite(m.offset).all() and (m.scale > 0).all()


def test_errors_are_one_line_naming_the_file(tmp_path):
    lm = np.zeros((478, 3))
    write_rgb_video(tmp_path / "grey.mp4", [np.full((64, 64, 3), 128, np.uint8)] * 4)
    with pytest.raises(DrivingError, match=r"grey\.mp4: no face found in any of its 4 frames"):
        motion_from_video(tmp_path / "grey.mp4", portrait_landmarks=lm, portrait_size=(64, 64))
    with pytest.raises(DrivingError, match=r"missing\.mp4: no such file"):
        motion_from_video(tmp_path / "missing.mp4", portrait_landmarks=lm, portrait_size=(64, 64))
    with pytest.raises(DrivingError, match="unknown retarget strategy 'sideways'"):
        motion_from_video(tmp_path / "grey.mp4", retarget="sideways", portrait_landmarks=lm, portrait_size=(64, 64))
