"""V-Express keypoints: the convention on real footage, the file format, safe loading, and the CLI."""
from __future__ import annotations

import io
import logging
import os
import zipfile

import av
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from talkset.cli import app
from talkset.testing import write_rgb_video
from talkset.vision.face import FaceDetector
from talkset.vision.kps import (
    KpsError,
    kps_from_landmarks,
    load_kps,
    save_kps,
    video_kps,
)

FAST = ["talking/vox_man_tv_224.mp4", "talking/hdtf_woman_flag_512_mpeg4.mp4"]
SLOW = ["talking/woman_blazer_1920x1080.mp4", "talking/woman_outdoor_1080x1920_hevc.mp4",
        "talking/vox_woman_hand_occlusion_224.mp4"]


def count_frames(path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def first_frame(path) -> np.ndarray:
    with av.open(str(path)) as c:
        return next(c.decode(video=0)).to_ndarray(format="rgb24")


def test_kps_from_landmarks_orders_by_image_side_and_stretches_to_size():
    lm = np.zeros((478, 3), np.float32)
    from talkset.vision.kps import EYE_RING_L, EYE_RING_R

    lm[list(EYE_RING_R), :2] = (100, 50)  # subject's right eye: the image's left
    lm[list(EYE_RING_L), :2] = (300, 60)
    lm[1, :2] = (200, 150)
    k = kps_from_landmarks(lm, width=400, height=200, size=512)
    assert k.dtype == np.float32 and k.shape == (3, 2)
    np.testing.assert_allclose(k, [[128, 128], [384, 153.6], [256, 384]], rtol=1e-6)


def check_convention(path, kps):
    assert len(kps) == count_frames(path)
    k = np.stack(kps)
    assert k.dtype == np.float32 and k.shape[1:] == (3, 2)
    assert (k >= 0).all() and (k < 512).all()
    # insightface: point 0 is the eye on the image's left; the nose tip lies below both eyes.
    assert (k[:, 0, 0] < k[:, 1, 0]).all()
    assert (k[:, 2, 1] > k[:, :2, 1].max(axis=1)).all()
    # The first frame's points lie inside an independent face detection (mediapipe's box, stretched alike).
    rgb = first_frame(path)
    h, w = rgb.shape[:2]
    box = FaceDetector()(rgb)[0]
    sx, sy = 512 / w, 512 / h
    assert (k[0, :, 0] > box.x0 * sx).all() and (k[0, :, 0] < box.x1 * sx).all()
    assert (k[0, :, 1] > box.y0 * sy).all() and (k[0, :, 1] < box.y1 * sy).all()
    # Eye distance is a plausible part of the detected face width (about 0.3–0.6 frontal, less in profile).
    eye = np.linalg.norm(k[0, 1] - k[0, 0]) / ((box.x1 - box.x0) * sx)
    assert 0.15 < eye < 0.7, eye


@pytest.mark.parametrize("name", FAST)
def test_video_kps_on_real_footage(media, name):
    check_convention(media / name, video_kps(media / name))


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW)
def test_video_kps_on_real_footage_more(media, name):
    check_convention(media / name, video_kps(media / name))


def real_frames(path, n):
    out = []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            out.append(f.to_ndarray(format="rgb24"))
            if len(out) == n:
                return out


def test_frames_without_a_face_hold_the_nearest_keypoints_and_warn(media, tmp_path, caplog):
    frames = real_frames(media / FAST[1], 12)
    grey = np.full_like(frames[0], 128)
    write_rgb_video(tmp_path / "plain.mp4", frames)
    write_rgb_video(tmp_path / "gaps.mp4", [grey, grey] + frames[2:6] + [grey] * 3 + frames[9:])
    with caplog.at_level(logging.WARNING, logger="talkset"):
        k = np.stack(video_kps(tmp_path / "gaps.mp4"))
    assert len(k) == 12
    assert "no face on 5 of 12 frames" in caplog.text
    np.testing.assert_array_equal(k[0], k[2])  # leading gap takes the first face
    np.testing.assert_array_equal(k[1], k[2])
    for i in (6, 7, 8):  # inner gap holds the last face
        np.testing.assert_array_equal(k[i], k[5])
    face = [2, 3, 4, 5, 9, 10, 11]  # frames with a face measure as they do without the gaps
    assert np.abs(k[face] - np.stack(video_kps(tmp_path / "plain.mp4"))[face]).max() < 3


def test_no_face_at_all_is_a_clear_error(media, tmp_path):
    write_rgb_video(tmp_path / "grey.mp4", [np.full((64, 64, 3), 128, np.uint8)] * 5)
    with pytest.raises(KpsError, match=r"grey\.mp4: no face found in any of its 5 frames"):
        video_kps(tmp_path / "grey.mp4")


def test_save_writes_what_v_express_reads_and_load_reads_it_back(tmp_path):
    kps = [np.random.default_rng(i).uniform(0, 512, (3, 2)).astype(np.float64) for i in range(4)]
    save_kps(kps, tmp_path / "kps.pth")
    # V-Express: torch.tensor(torch.load(path)) -> [len, 3, 2]; it used torch < 2.6 (weights_only=False).
    raw = torch.load(tmp_path / "kps.pth", weights_only=False)
    assert isinstance(raw, list) and all(type(k) is np.ndarray and k.dtype == np.float32 for k in raw)
    assert torch.tensor(np.stack(raw)).shape == (4, 3, 2)
    back = load_kps(tmp_path / "kps.pth")
    np.testing.assert_allclose(np.stack(back), np.stack(kps), rtol=1e-6)
    assert not [p for p in os.listdir(tmp_path) if p != "kps.pth"]  # no temporary left behind


def test_load_reads_a_plain_torch_save_of_arrays_and_a_tensor(tmp_path):
    kps = [np.arange(6, dtype=np.float32).reshape(3, 2) + i for i in range(3)]
    torch.save(kps, tmp_path / "plain.pth")
    np.testing.assert_array_equal(np.stack(load_kps(tmp_path / "plain.pth")), np.stack(kps))
    torch.save(torch.tensor(np.stack(kps)), tmp_path / "tensor.pth")
    np.testing.assert_array_equal(np.stack(load_kps(tmp_path / "tensor.pth")), np.stack(kps))


def test_load_reads_a_file_pickled_under_numpy_1_module_names(tmp_path):
    # Files from V-Express's era name numpy.core.multiarray (numpy 2 moved it to numpy._core).
    kps = [np.ones((3, 2), np.float32)]
    buf = io.BytesIO()
    torch.save(kps, buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    with zipfile.ZipFile(tmp_path / "old.pth", "w", zipfile.ZIP_STORED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith("data.pkl"):
                assert b"numpy._core.multiarray" in data
                data = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
            dst.writestr(item, data)
    np.testing.assert_array_equal(load_kps(tmp_path / "old.pth")[0], kps[0])


class Payload:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_load_refuses_a_pickle_with_any_other_global(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save([np.zeros((3, 2), np.float32), Payload()], tmp_path / "evil.pth")
    with pytest.raises(KpsError, match=r"evil\.pth: refused to unpickle .*(posix|os)\.system"):
        load_kps(tmp_path / "evil.pth")
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("content, message", [
    ([np.zeros((5, 2), np.float32)], r"frame 0 is \(5, 2\), expected a \(3, 2\) array"),
    ({"kps": 1}, r"expected a non-empty list"),
    ([], r"expected a non-empty list"),
])
def test_load_rejects_what_is_not_a_keypoint_list(tmp_path, content, message):
    torch.save(content, tmp_path / "k.pth")
    with pytest.raises(KpsError, match=r"k\.pth: " + message):
        load_kps(tmp_path / "k.pth")


def test_load_rejects_missing_and_garbage_files(tmp_path):
    with pytest.raises(KpsError, match="nope.pth: no such file"):
        load_kps(tmp_path / "nope.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a zip")
    with pytest.raises(KpsError, match=r"junk\.pth: "):
        load_kps(tmp_path / "junk.pth")


runner = CliRunner()


def test_cli_round_trip_and_refuses_to_overwrite(media, tmp_path):
    video, out = media / FAST[0], tmp_path / "kps.pth"
    result = runner.invoke(app, ["kps", str(video), "-o", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    k = load_kps(out)
    assert len(k) == count_frames(video) and f"{len(k)} frames" in result.output
    np.testing.assert_array_equal(np.stack(k), np.stack(video_kps(video)))
    stamp = out.stat().st_mtime_ns
    result = runner.invoke(app, ["kps", str(video), "-o", str(out), "--no-progress"])
    assert result.exit_code == 2 and "--force" in result.output and out.stat().st_mtime_ns == stamp
    result = runner.invoke(app, ["kps", str(video), "-o", str(out), "--size", "256", "--force", "--no-progress"])
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(np.stack(load_kps(out)), np.stack(k) / 2, atol=1e-3)


@pytest.mark.parametrize("make", ["missing", "text", "audio_only"])
def test_cli_bad_input_is_one_line_without_traceback(media, tmp_path, make):
    bad = {"missing": tmp_path / "missing.mp4", "text": tmp_path / "notes.mp4",
           "audio_only": media / "audio/german_16k.wav"}[make]
    if make == "text":
        bad.write_text("hello")
    result = runner.invoke(app, ["kps", str(bad), "-o", str(tmp_path / "k.pth"), "--no-progress"])
    assert result.exit_code == 1
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert lines == [lines[0]] and lines[0].startswith(f"talkset: error: {bad}: ")
    assert isinstance(result.exception, SystemExit) and not (tmp_path / "k.pth").exists()
