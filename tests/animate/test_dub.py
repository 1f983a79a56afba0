"""Unit tests of `dub`'s parts on synthetic input: length policies, the frame reader, the mouth difference,
the lower-face warp's reach, and the --motion-model option (a stand-in model behind the future loader)."""
from __future__ import annotations

import sys
import types

import av
import cv2
import numpy as np
import pytest

from talkset.animate.dub import (
    FITS,
    DubError,
    FrameReader,
    LowerFaceWarp,
    _motion,
    inner_gaps,
    motion_source,
    mouth_delta,
    output_frames,
    source_index,
)
from talkset.animate.track import MotionTrack
from talkset.audio.io import Audio
from talkset.testing import write_rgb_video


def test_length_policies():
    n = 4
    assert [source_index(j, n, "pingpong") for j in range(9)] == [0, 1, 2, 3, 2, 1, 0, 1, 2]
    assert [source_index(j, n, "loop") for j in range(9)] == [0, 1, 2, 3, 0, 1, 2, 3, 0]
    assert [source_index(j, n, "hold") for j in range(6)] == [0, 1, 2, 3, 3, 3]
    assert [source_index(j, n, "trim") for j in range(4)] == [0, 1, 2, 3]
    assert source_index(5, 1, "pingpong") == 0  # a one-frame video holds
    assert output_frames(10, 4, "trim") == 4 and output_frames(3, 4, "trim") == 3
    for fit in ("pingpong", "loop", "hold"):
        assert output_frames(10, 4, fit) == 10 and output_frames(3, 4, fit) == 3
    assert set(FITS) == {"pingpong", "loop", "trim", "hold"}


def _numbered_video(path, n: int, gop: int = 12):
    """Frames whose grey level encodes their index (8 levels apart: survives H.264)."""
    frames = [np.full((64, 64, 3), 8 * i + 4, np.uint8) for i in range(n)]
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width = s.height = 64
        s.pix_fmt = "yuv420p"
        s.codec_context.gop_size = gop
        for f in frames:
            c.mux(s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        c.mux(s.encode())
    with av.open(str(path)) as c:
        return np.array([f.time for f in c.decode(video=0)])


def _level(rgb) -> int:
    return int(round((float(rgb.mean()) - 4) / 8))


@pytest.mark.parametrize("fit", FITS)
def test_frame_reader_follows_every_policy(tmp_path, fit):
    n = 30
    times = _numbered_video(tmp_path / "n.mp4", n)
    reader = FrameReader(tmp_path / "n.mp4", times, 0, block=8)
    want = [source_index(j, n, fit) for j in range(output_frames(75, n, fit))]
    got = [_level(reader.get(i)) for i in want]
    assert got == want
    assert len(reader._cache) <= 8  # memory is bounded by the block, whatever the policy


def test_mouth_delta_is_new_minus_source():
    track = MotionTrack.rest(3)
    track.jaw[:] = [0.0, 0.5, 1.0]
    track.lip_width[:] = [0.4, -0.5, 0.0]
    track.lip_round[:] = [0.0, 0.2, 0.0]
    assert np.allclose(mouth_delta(track, 0, np.array([0.6, 0.1, 0.0])), [-0.6, 0.3, 0.0, 0.0])
    assert np.allclose(mouth_delta(track, 1, np.array([0.5, 0.0, 0.2])), [0.0, 0.0, 0.5, 0.0])
    # The source's own mouth cancels: the same mouth gives no change at all.
    assert np.allclose(mouth_delta(track, 2, np.array([1.0, 0.0, 0.0])), 0.0)


@pytest.fixture(scope="module")
def face_frame(media):
    """One real 512² frame and its mesh."""
    from talkset.vision.face import FaceDetector, FaceMesher

    with av.open(str(media / "calibration" / "talking" / "t10_hdtf_woman_radio2_512_mpeg4.mp4")) as c:
        rgb = next(c.decode(video=0)).to_ndarray(format="rgb24")
    det, mesher = FaceDetector(), FaceMesher(tracking=False)
    lm = mesher(rgb, det(rgb)[0]).astype(np.float64)
    det.close()
    mesher.reset()
    return rgb, lm


def test_warp_moves_only_the_lower_face(face_frame):
    rgb, lm = face_frame
    warp = LowerFaceWarp(rgb, lm)
    assert warp.apply(rgb, lm, np.zeros(4), inner_gaps(lm)) is rgb  # no change asked, none made
    out = warp.apply(rgb, lm, np.array([0.8, 0.3, 0.0, 0.0]), inner_gaps(lm))
    changed = np.abs(out.astype(int) - rgb.astype(int)).max(axis=2) > 0
    assert changed.sum() > 500  # the mouth opened
    ring = np.zeros(changed.shape, np.uint8)
    cv2.fillPoly(ring, [np.round(warp.lower_face(lm)).astype(np.int32)], 1)
    # Every changed pixel lies inside the fixed ring around the lower face...
    assert not (changed & ~ring.astype(bool)).any()
    # ...which lies below the eyes: the upper face is bit-identical.
    eyes_y = max(lm[33, 1], lm[263, 1], lm[159, 1], lm[386, 1])
    assert not changed[: int(eyes_y) + 1].any()
    # Opening wider than the source paints a dark inner mouth between the lips.
    x, y = np.round((lm[13, :2] + lm[14, :2]) / 2 + [0, 0.1 * np.linalg.norm(lm[263, :2] - lm[33, :2])]).astype(int)
    assert out[y - 1:y + 2, x - 1:x + 2].mean() < rgb[y - 1:y + 2, x - 1:x + 2].mean()


def test_motion_model_needs_talkset_train(monkeypatch):
    monkeypatch.setitem(sys.modules, "talkset.train", None)  # import fails as if the package were absent
    with pytest.raises(DubError, match=r"^m\.pt: --motion-model needs talkset\.train"):
        motion_source("m.pt")


class _FakeModel:
    """The interface `talkset train` will provide: ``motion(audio, *, fps, n_frames=None, seed=0)``."""

    def __init__(self):
        self.calls = []

    def motion(self, audio, *, fps, n_frames=None, seed=0):
        self.calls.append((fps, n_frames, seed))
        track = MotionTrack.rest(n_frames - 2, fps)  # shorter than asked: dub closes the mouth after it
        track.jaw[:] = 0.7
        return track


def test_motion_model_is_used_when_given(monkeypatch):
    model = _FakeModel()
    fake = types.ModuleType("talkset.train")
    fake.load_motion_model = lambda path: model if str(path) == "good.pt" else (_ for _ in ()).throw(
        ValueError("not a model"))
    monkeypatch.setitem(sys.modules, "talkset.train", fake)
    source = motion_source("good.pt")
    audio = Audio(np.zeros(16000, np.float32), 16000)
    track = _motion(source, audio, fps=25.0, n_frames=10, seed=4, text=None, language=None)
    assert model.calls == [(25.0, 10, 4)]
    assert len(track) == 10 and np.allclose(track.jaw[:8], 0.7) and np.allclose(track.jaw[8:], 0.0)
    with pytest.raises(DubError, match=r"^bad\.pt: cannot load motion model \(not a model\)$"):
        motion_source("bad.pt")


def test_no_face_is_a_one_line_error(tmp_path):
    from talkset.animate.dub import dub

    write_rgb_video(tmp_path / "blank.mp4", [np.full((64, 64, 3), 90, np.uint8)] * 10)
    import soundfile as sf

    sf.write(tmp_path / "s.wav", np.zeros(8000, np.float32), 16000)
    with pytest.raises(DubError, match=r"blank\.mp4: no face found in any of its 10 frames"):
        dub(tmp_path / "blank.mp4", tmp_path / "s.wav", tmp_path / "o.mp4", progress=False)
    assert not (tmp_path / "o.mp4").exists()
