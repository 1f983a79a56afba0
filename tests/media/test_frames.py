"""Frames converted for the consumers have one size per video, whichever way they were made."""
import pytest

from talkset.media.frames import decode_frames


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
