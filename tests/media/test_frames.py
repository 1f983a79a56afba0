"""Frames converted for the consumers have one size per video, whichever way they were made."""
import av
import cv2
import numpy as np
import pytest

from talkset.media.frames import FrameView, decode_frames


@pytest.mark.parametrize("name", ["talking/woman_blazer_1920x1080.mp4", "talking/woman_outdoor_1080x1920_hevc.mp4",
                                  "talking/man_worldmap_844.mp4", "talking/vox_man_tv_224.mp4"])
def test_shot_frames_have_one_size_with_or_without_a_work_frame(media, name):
    sizes = set()
    for i, view in enumerate(decode_frames(media / name, 0, 640, 256)):
        if i % 2:
            _ = view.work_rgb  # as inside speech, where faces are measured first
        sizes.add(view.small_bgr.shape)
        if i > 6:
            break
    assert len(sizes) == 1, sizes
    (shape,) = sizes
    assert max(shape[:2]) <= 256


def test_rotated_frames_match_too(media):
    sizes = set()
    for i, view in enumerate(decode_frames(media / "talking/woman_blazer_1920x1080.mp4", 90, 640, 256)):
        if i % 2:
            _ = view.work_rgb
        sizes.add(view.small_bgr.shape)
        if i > 4:
            break
    assert len(sizes) == 1 and next(iter(sizes))[0] > next(iter(sizes))[1]


@pytest.mark.parametrize("max_side", [640, 256, 1 << 16])
def test_rgb_at_a_size_is_the_work_frame_of_a_decode_at_that_size(media, max_side):
    name = media / "talking/man_worldmap_844.mp4"
    for view, own in zip(decode_frames(name, 0, 1 << 16, 64), decode_frames(name, 0, max_side, 64)):
        assert (view.rgb(max_side) == own.work_rgb).all()
        assert view.rgb(max_side) is view.rgb(max_side)  # converted once
        if own.index >= 2:
            break


def _reference_rgb(frame, size):
    """The work frame made the plain way: copy the planes out, scale each, convert colour."""
    w, h = frame.width, frame.height
    arr = frame.to_ndarray()
    planes = arr[:h], arr[h:h + h // 4].reshape(h // 2, w // 2), arr[h + h // 4:].reshape(h // 2, w // 2)
    sw, sh = size
    y, u, v = (cv2.resize(p, (s[0], s[1]), interpolation=cv2.INTER_AREA)
               for p, s in zip(planes, ((sw, sh), (sw // 2, sh // 2), (sw // 2, sh // 2))))
    return cv2.cvtColor(np.concatenate([y, u.reshape(-1, sw), v.reshape(-1, sw)]), cv2.COLOR_YUV2RGB_I420)


@pytest.mark.parametrize("width,height", [(1920, 1080), (1280, 720), (854, 480), (1920, 1088), (1080, 1920), (224, 224)])
def test_planes_read_in_place_give_the_pixels_of_a_copy(width, height):
    # Whole factors scale U and V as one image; 854 wide (a padded line) and 1088 high are fractional factors.
    rng = np.random.default_rng(width)
    frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (height * 3 // 2, width), np.uint8), format="yuv420p")
    view = FrameView(frame, 0.0, 0, 0, 640, 256)
    w, h = view._size(640)
    assert (view.work_rgb == _reference_rgb(frame, (w, h))).all()
    assert not view.full_gray.flags.writeable  # a view of the decoder's buffer must not be written
    assert (view.full_gray == frame.to_ndarray()[:height]).all()
