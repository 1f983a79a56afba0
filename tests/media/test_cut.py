"""Tests for talkset.media.cut.write_clip on real footage and tiny synthetic videos."""
from __future__ import annotations

import hashlib
from pathlib import Path

import av
import numpy as np
import pytest

from talkset.media.cut import ClipWriteError, write_clip

VOX = "talking/vox_man_tv_224.mp4"
VFR = "generated/real_man_suit_700_vfr.mp4"
STAGE = "edge/stage_cuts_multiperson_640x360.mp4"
HEADSET = "talking/woman_headset_256_noaudio.mp4"
HEADSET_WAV = "talking/woman_headset_256_noaudio.wav"


def _frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        return [f.time for f in c.decode(video=0)]


def _grey_at(path: Path, t: float) -> tuple[float, np.ndarray]:
    """The first source frame whose presentation time is >= t, as grey float."""
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            if f.time >= t:
                return f.time, f.to_ndarray(format="gray").astype(np.float32)
    raise AssertionError(f"no frame at or after {t} s in {path}")


def _first_grey(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return next(c.decode(video=0)).to_ndarray(format="gray").astype(np.float32)


def _seconds(stream: av.stream.Stream) -> float:
    return float(stream.duration * stream.time_base)


def _decoded_audio(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(audio=0)]).astype(np.float32)


def test_cut_is_frame_exact_h264_aac(media, tmp_path):
    src, out = media / VOX, tmp_path / "clip.mp4"
    write_clip(src, 2.0, 5.0, out)

    with av.open(str(out)) as c:
        video, audio = c.streams.video[0], c.streams.audio[0]
        assert video.codec_context.name == "h264"
        assert audio.codec_context.name == "aac"
        assert video.codec_context.format.name == "yuv420p"
        assert (video.codec_context.width, video.codec_context.height) == (224, 224)
        assert audio.codec_context.sample_rate == 16000
        assert audio.codec_context.layout.nb_channels == 1
        assert _seconds(video) == pytest.approx(3.0, abs=1 / 25)
        assert _seconds(audio) == pytest.approx(3.0, abs=0.03)
    times = _frame_times(out)
    # 25 fps, frames at multiples of 0.04 s: [2.0, 5.0) holds exactly 75 of them.
    assert len(times) == 75
    assert times[0] == 0.0

    first = _first_grey(out)
    t_same, same = _grey_at(src, 2.0)
    _, far = _grey_at(src, 6.5)
    _, previous = _grey_at(src, 1.96)
    assert t_same == pytest.approx(2.0)
    diff_same = np.abs(first - same).mean()
    # Re-encoding noise only; the neighbouring and a distant frame are clearly off,
    # so a cut at a keyframe or one frame early would fail here.
    assert diff_same < 3.0
    assert np.abs(first - previous).mean() > 2 * diff_same
    assert np.abs(first - far).mean() > 10.0


def test_variable_frame_rate_keeps_its_timing(media, tmp_path):
    src, out = media / VFR, tmp_path / "vfr.mp4"
    src_times = _frame_times(src)
    start = next(t for t in src_times if t >= 1.0)  # start on a frame: a pure shift
    end = start + 3.0
    expected = [t - start for t in src_times if start <= t < end]

    write_clip(src, start, end, out)

    got = _frame_times(out)
    assert len(got) == len(expected)
    np.testing.assert_allclose(got, expected, atol=1e-3)
    # The span really is variable rate, so a constant-rate rewrite would fail above.
    assert len({round(d, 3) for d in np.diff(got)}) > 1


def test_times_are_on_the_container_clock_when_video_starts_late(media, tmp_path):
    src, out = media / STAGE, tmp_path / "stage.mp4"
    src_times = _frame_times(src)
    assert src_times[0] == pytest.approx(0.852, abs=1e-3)  # video starts after the audio

    write_clip(src, 1.0, 2.0, out)

    in_span = [t for t in src_times if 1.0 <= t < 2.0]
    got = _frame_times(out)
    assert len(got) == len(in_span)
    # First frame pinned to 0; the rest keep their offset from start_s (lip sync).
    assert got[0] == 0.0
    np.testing.assert_allclose(got[1:], [t - 1.0 for t in in_span[1:]], atol=1e-3)

    first = _first_grey(out)
    _, same = _grey_at(src, 1.0)
    _, other_shot = _grey_at(src, 3.0)  # after the scene cut at about 1.5 s
    assert np.abs(first - same).mean() < 3.0
    assert np.abs(first - other_shot).mean() > 10.0
    with av.open(str(out)) as c:
        assert c.streams.audio[0].codec_context.layout.nb_channels == 2
        assert c.streams.audio[0].codec_context.sample_rate == 44100
        assert _seconds(c.streams.audio[0]) == pytest.approx(1.0, abs=0.03)


def test_audio_from_separate_wav_is_sample_accurate(media, tmp_path):
    out = tmp_path / "headset.mp4"
    write_clip(media / HEADSET, 2.0, 5.0, out, audio_path=media / HEADSET_WAV)

    with av.open(str(out)) as c:
        audio = c.streams.audio[0]
        assert audio.codec_context.name == "aac"
        assert audio.codec_context.sample_rate == 16000
        assert audio.codec_context.layout.nb_channels == 1
        assert _seconds(audio) == pytest.approx(3.0, abs=0.03)
        assert _seconds(c.streams.video[0]) == pytest.approx(3.0, abs=1 / 30)

    got = _decoded_audio(out)
    wav = _decoded_audio(media / HEADSET_WAV) / 32768.0  # s16 samples
    want = wav[2 * 16000 : 5 * 16000]
    n = len(want) - 100
    lags = range(-50, 51)
    corr = [np.corrcoef(got[50 + lag : 50 + lag + n], want[50 : 50 + n])[0, 1] for lag in lags]
    assert lags[int(np.argmax(corr))] == 0  # aligned to the sample
    assert max(corr) > 0.99


def test_video_without_audio_writes_video_only(media, tmp_path):
    out = tmp_path / "silent.mp4"
    write_clip(media / HEADSET, 1.0, 2.0, out)
    with av.open(str(out)) as c:
        assert len(c.streams.audio) == 0
        assert len(list(c.decode(video=0))) == 30


def _synthetic(path: Path, width: int, height: int, display_rotation: int | None = None) -> None:
    """A 5-frame video whose left half is white and right half black."""
    img = np.zeros((height, width, 3), np.uint8)
    img[:, : width // 2] = 255
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height = width, height
        # 4:4:4 so odd sizes can be encoded too.
        stream.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
        if display_rotation is not None:
            stream.set_display_rotation(display_rotation)
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def _bright_side(grey: np.ndarray) -> str:
    h, w = grey.shape
    halves = {
        "left": grey[:, : w // 2 - 2], "right": grey[:, w // 2 + 2 :],
        "top": grey[: h // 2 - 2], "bottom": grey[h // 2 + 2 :],
    }
    bright = [name for name, part in halves.items() if part.mean() > 200]
    assert len(bright) == 1, {name: part.mean() for name, part in halves.items()}
    return bright[0]


def test_rotation_from_display_matrix_makes_output_upright(tmp_path):
    src, out = tmp_path / "rot.mp4", tmp_path / "upright.mp4"
    _synthetic(src, 64, 32, display_rotation=90)
    with av.open(str(src)) as c:
        rotation = next(c.decode(video=0)).rotation  # PyAV 18: per-frame, CCW degrees
    assert rotation == 90

    write_clip(src, 0.0, 1.0, out, rotation_deg=rotation)

    grey = _first_grey(out)
    # 90 degrees counter-clockwise: the left edge ends up at the bottom.
    assert grey.shape == (64, 32)
    assert _bright_side(grey) == "bottom"
    with av.open(str(out)) as c:
        assert len(c.streams.audio) == 0
        assert next(c.decode(video=0)).rotation == 0  # no display matrix left to apply twice


@pytest.mark.parametrize(
    ("size", "rotation", "shape", "side"),
    [
        ((64, 32), 0, (32, 64), "left"),
        ((64, 32), 180, (32, 64), "right"),
        ((64, 32), 270, (64, 32), "top"),
        ((64, 32), -90, (64, 32), "top"),
        ((65, 33), 0, (32, 64), "left"),  # odd sides are cropped by one pixel
        ((65, 33), 90, (64, 32), "bottom"),
    ],
)
def test_rotation_and_even_size(tmp_path, size, rotation, shape, side):
    src, out = tmp_path / "src.mp4", tmp_path / "out.mp4"
    _synthetic(src, *size)
    write_clip(src, 0.0, 1.0, out, rotation_deg=rotation)
    grey = _first_grey(out)
    assert grey.shape == shape
    assert _bright_side(grey) == side


def _assert_fails_cleanly(exc: pytest.ExceptionInfo, name: str, out: Path) -> None:
    message = str(exc.value)
    assert name in message and "\n" not in message
    assert not out.exists()
    assert not out.parent.exists() or not [f for f in out.parent.iterdir() if ".part" in f.name]


@pytest.mark.parametrize("content", [b"", b"this is not a video" * 100])
def test_unreadable_input_raises(tmp_path, content):
    bad, out = tmp_path / "broken.mp4", tmp_path / "out" / "clip.mp4"
    bad.write_bytes(content)
    with pytest.raises(ClipWriteError) as exc:
        write_clip(bad, 0.0, 1.0, out)
    _assert_fails_cleanly(exc, "broken.mp4", out)


def test_missing_input_raises(tmp_path):
    out = tmp_path / "clip.mp4"
    with pytest.raises(ClipWriteError) as exc:
        write_clip(tmp_path / "missing.mp4", 0.0, 1.0, out)
    _assert_fails_cleanly(exc, "missing.mp4", out)


def test_audio_only_file_as_video_raises(media, tmp_path):
    out = tmp_path / "clip.mp4"
    with pytest.raises(ClipWriteError, match="no video stream") as exc:
        write_clip(media / HEADSET_WAV, 0.0, 1.0, out)
    _assert_fails_cleanly(exc, HEADSET_WAV.split("/")[-1], out)


def test_unreadable_audio_path_raises(media, tmp_path):
    bad, out = tmp_path / "noise.wav", tmp_path / "clip.mp4"
    bad.write_bytes(b"RIFF junk" * 10)
    with pytest.raises(ClipWriteError) as exc:
        write_clip(media / HEADSET, 0.0, 1.0, out, audio_path=bad)
    assert "noise.wav" in str(exc.value)
    assert not out.exists()


@pytest.mark.parametrize(("start", "end"), [(2.0, 2.0), (3.0, 1.0), (50.0, 51.0)])
def test_empty_span_raises(media, tmp_path, start, end):
    out = tmp_path / "clip.mp4"
    with pytest.raises(ClipWriteError) as exc:
        write_clip(media / VOX, start, end, out)
    _assert_fails_cleanly(exc, "vox_man_tv_224.mp4", out)


def test_rotation_must_be_a_quarter_turn(media, tmp_path):
    with pytest.raises(ValueError, match="multiple of 90"):
        write_clip(media / VOX, 0.0, 1.0, tmp_path / "clip.mp4", rotation_deg=45)


def test_encoder_settings_reach_x264(media, tmp_path):
    fast, default = tmp_path / "fast.mp4", tmp_path / "default.mp4"
    write_clip(media / VOX, 1.0, 3.0, fast, preset="ultrafast", crf=30)
    write_clip(media / VOX, 1.0, 3.0, default)
    with av.open(str(fast)) as a, av.open(str(default)) as b:
        assert a.streams.video[0].frames == b.streams.video[0].frames == 50
    assert fast.stat().st_size != default.stat().st_size


def test_same_clip_twice_gives_the_same_bytes(media, tmp_path):
    # x264's AVX-512 code wrote this clip in up to 4 versions over 8 writes in one process (other clips
    # written in between); rerun and resume guarantees rest on equal bytes.
    src = media / "talking" / "vox_woman_hand_occlusion_224.mp4"
    digests = set()
    for i in range(6):
        write_clip(media / "talking" / "man_worldmap_844.mp4", 0.0, 1.0, tmp_path / "other.mp4")
        out = tmp_path / f"c{i}.mp4"
        write_clip(src, 0.0, 5.04, out)
        digests.add(hashlib.sha1(out.read_bytes()).hexdigest())
    assert len(digests) == 1
