"""`talkset animate`: outputs on disk, refusal to overwrite, one-line errors without tracebacks."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from talkset.audio.io import load_audio
from talkset.cli import app
from talkset.media.probe import probe
from talkset.vision.kps import load_kps

runner = CliRunner()


@pytest.fixture(scope="module")
def speech(media, tmp_path_factory):
    """2.5 s of German speech as 44.1 kHz stereo FLAC: another rate, channel count and container."""
    audio = load_audio(media / "audio" / "german_16k.wav", sr=44100)
    path = tmp_path_factory.mktemp("audio") / "speech.flac"
    sf.write(path, np.stack([audio.samples[: int(2.5 * 44100)]] * 2, axis=1), 44100)
    return path


def _run(*args: str):
    return runner.invoke(app, ["animate", *args, "--no-progress"])


def test_writes_video_audio_and_kps(media, speech, tmp_path):
    out, kps = tmp_path / "out.mp4", tmp_path / "kps.pth"
    result = _run("--image", str(media / "images" / "man_cropped_256.png"), "--audio", str(speech), "-o", str(out),
                  "--size", "256", "--export-kps", str(kps), "--language", "de", "--seed", "3")
    assert result.exit_code == 0, result.output
    info = probe(out)
    assert (info.width, info.height) == (256, 256)
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert info.audio_sample_rate == 44100
    assert abs(info.duration_s - 2.5) < 0.1
    frames = load_kps(kps)
    assert len(frames) == int(np.ceil(2.5 * 25))
    assert all(f.shape == (3, 2) and f.dtype == np.float32 for f in frames)
    assert not [f for f in tmp_path.iterdir() if ".part" in f.name]
    # A seed makes the output reproducible, to the byte.
    twin = tmp_path / "twin.mp4"
    result = _run("--image", str(media / "images" / "man_cropped_256.png"), "--audio", str(speech), "-o", str(twin),
                  "--size", "256", "--language", "de", "--seed", "3")
    assert result.exit_code == 0, result.output
    assert twin.read_bytes() == out.read_bytes()
    # Never overwritten silently; --force replaces.
    again = _run("--image", str(media / "images" / "man_cropped_256.png"), "--audio", str(speech), "-o", str(out))
    assert again.exit_code != 0
    assert "already exists" in again.output and "Traceback" not in again.output


@pytest.mark.parametrize("image,problem", [("two_faces_1126x661.jpg", "2 faces found"),
                                           ("missing.png", "no such file")])
def test_bad_portrait_is_one_line(media, speech, tmp_path, image, problem):
    result = _run("--image", str(media / "images" / image), "--audio", str(speech), "-o", str(tmp_path / "o.mp4"))
    assert result.exit_code == 1
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"talkset: error: {media / 'images' / image}: {problem}")
    assert not (tmp_path / "o.mp4").exists()


def test_bad_audio_and_options_are_errors(media, tmp_path):
    portrait = str(media / "images" / "man_cropped_256.png")
    not_audio = tmp_path / "notes.txt"
    not_audio.write_text("hello")
    result = _run("--image", portrait, "--audio", str(not_audio), "-o", str(tmp_path / "o.mp4"))
    assert result.exit_code == 1 and f"talkset: error: {not_audio}:" in result.output
    result = _run("--image", portrait, "-o", str(tmp_path / "o.mp4"))
    assert result.exit_code != 0 and "--audio" in result.output
    result = _run("--image", portrait, "--audio", str(not_audio), "--driving", str(not_audio), "--retarget", "bogus",
                  "-o", str(tmp_path / "o.mp4"))
    assert result.exit_code == 1 and "unknown retarget strategy 'bogus'" in result.output
    assert "Traceback" not in result.output
