"""Exact probe values on real footage, and one-line reasons for files that cannot be used."""
from fractions import Fraction

import pytest

from talkset.media.probe import ProbeError, probe


def test_late_video_start_is_kept_on_the_container_clock(media):
    info = probe(media / "edge/stage_cuts_multiperson_640x360.mp4")
    assert info.video_start_s == pytest.approx(10214 / 11988)
    assert info.fps == Fraction(2997, 100) and not info.variable_frame_rate
    assert (info.width, info.height, info.video_codec, info.audio_codec) == (640, 360, "h264", "aac")


def test_variable_frame_rate_is_flagged(media):
    info = probe(media / "generated/real_man_suit_700_vfr.mp4")
    assert info.variable_frame_rate
    assert info.avg_fps == Fraction(1350, 61)


def test_audio_as_the_first_stream(media):
    """A QuickTime file whose first stream is its audio (stream 1 is the video)."""
    info = probe(media / "calibration/negatives/n16_real_talking_with_graphic_cutaway_720p30.mov")
    assert (info.width, info.height, info.has_audio, info.variable_frame_rate) == (1280, 720, True, False)


def test_portrait_hevc_and_mpeg4_and_no_audio(media):
    hevc = probe(media / "talking/woman_outdoor_1080x1920_hevc.mp4")
    assert (hevc.video_codec, hevc.display_size, hevc.rotation_deg) == ("hevc", (1080, 1920), 0)
    assert probe(media / "talking/hdtf_woman_flag_512_mpeg4.mp4").video_codec == "mpeg4"
    silent = probe(media / "talking/woman_headset_256_noaudio.mp4")
    assert not silent.has_audio and silent.audio_codec is None


@pytest.mark.parametrize("make, words", [
    (lambda p, m: p.write_bytes(b""), "empty file"),
    (lambda p, m: p.write_text("hello, not a video"), "not a readable media file"),
    (lambda p, m: p.write_bytes((m / "talking/vox_man_tv_224.mp4").read_bytes()[:5000]), ""),
    (lambda p, m: p.write_bytes((m / "audio/german_16k.wav").read_bytes()), "audio only"),
])
def test_unusable_files_raise_one_line_naming_the_file(media, tmp_path, make, words):
    path = tmp_path / "input file.mp4"
    make(path, media)
    with pytest.raises(ProbeError) as e:
        probe(path)
    msg = str(e.value)
    assert str(path) in msg and words in msg and "\n" not in msg


def test_variable_durations_with_the_nominal_average_are_flagged(tmp_path):
    """Frame durations of 34 to 46 ms average 40 ms: the mean rate is the nominal 25 fps, only the durations vary."""
    from fractions import Fraction

    import numpy as np

    from talkset.testing import write_rgb_video

    frames = [np.full((64, 64, 3), i * 4 % 255, np.uint8) for i in range(61)]
    steady, varying = tmp_path / "steady.mp4", tmp_path / "varying.mp4"
    write_rgb_video(steady, frames, fps=25)
    pts = np.cumsum([0] + [34, 46, 37, 43, 40] * 12).tolist()
    write_rgb_video(varying, frames, fps=25, pts=pts, time_base=Fraction(1, 1000))
    assert not probe(steady).variable_frame_rate
    info = probe(varying)
    assert info.fps == 25 and abs(info.avg_fps - 25) < 0.25  # the mean rate alone would not tell
    assert info.variable_frame_rate
