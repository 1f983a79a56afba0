"""load_audio on real footage (durations, rates, container-clock start, downmix) and Audio.slice."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from talkset.audio.io import Audio, AudioError, load_audio


def test_wav_16k_mono_is_passed_through(media: Path) -> None:
    audio = load_audio(media / "audio" / "german_16k.wav")
    assert audio.sr == 16000
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert len(audio.samples) == 139392  # the file's exact sample count: no resampling at 16 kHz
    assert audio.duration_s == pytest.approx(8.712)
    assert audio.start_s == 0.0


def test_mp3_24k_is_resampled_and_keeps_its_encoder_delay_start(media: Path) -> None:
    audio = load_audio(media / "audio" / "english_tts_31s.mp3")
    assert audio.sr == 16000
    assert audio.duration_s == pytest.approx(31.115, abs=0.01)
    # mp3 decoders drop the encoder delay, so the first sample is presented at ~46 ms, not 0.
    assert audio.start_s == pytest.approx(0.046, abs=0.002)
    native = load_audio(media / "audio" / "english_tts_31s.mp3", sr=24000)
    assert len(native.samples) == 746752
    assert native.start_s == audio.start_s


def test_aac_in_mp4(media: Path) -> None:
    audio = load_audio(media / "talking" / "vox_man_tv_224.mp4")
    assert audio.sr == 16000
    # The README's 7.02 s is the container; the audio track decodes to 6.976 s.
    assert audio.duration_s == pytest.approx(6.976, abs=0.03)
    assert audio.start_s == 0.0
    assert np.abs(audio.samples).max() > 0.1


def test_video_with_audio_starting_after_zero(media: Path) -> None:
    # Its first audio packet is stamped 353/44100 s; that offset must survive resampling.
    audio = load_audio(media / "edge" / "stage_cuts_multiperson_640x360.mp4")
    assert audio.start_s == pytest.approx(353 / 44100)
    assert audio.duration_s == pytest.approx(10.008, abs=0.01)


def test_stereo_is_averaged_not_summed(media: Path) -> None:
    path = media / "audio" / "english_hdtf_16k_stereo.wav"
    with av.open(str(path)) as c:
        raw = np.concatenate([f.to_ndarray() for f in c.decode(c.streams.audio[0])], axis=1)
    # s16 interleaved comes back as (1, 2 * n): L R L R ...
    stereo = raw.reshape(-1, 2).T.astype(np.float32) / 32768.0
    audio = load_audio(path)
    np.testing.assert_allclose(audio.samples, stereo.mean(axis=0), atol=1e-6)


def test_video_without_audio_raises(media: Path) -> None:
    with pytest.raises(AudioError, match=r"woman_headset_256_noaudio\.mp4: no audio stream") as info:
        load_audio(media / "talking" / "woman_headset_256_noaudio.mp4")
    assert "\n" not in str(info.value)


def test_missing_and_garbage_files_raise(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match=r"nothing\.wav: cannot open"):
        load_audio(tmp_path / "nothing.wav")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a media file at all" * 100)
    with pytest.raises(AudioError, match=r"junk\.mp4") as info:
        load_audio(junk)
    assert "\n" not in str(info.value)


def test_slice_uses_the_container_clock_and_zero_pads() -> None:
    audio = Audio(np.arange(1, 11, dtype=np.float32), sr=10, start_s=1.0)  # samples 1..10 at t = 1.0 .. 1.9
    assert audio.duration_s == pytest.approx(1.0)
    np.testing.assert_array_equal(audio.slice(1.2, 1.5), [3, 4, 5])
    np.testing.assert_array_equal(audio.slice(0.7, 1.2), [0, 0, 0, 1, 2])
    np.testing.assert_array_equal(audio.slice(1.8, 2.3), [9, 10, 0, 0, 0])
    np.testing.assert_array_equal(audio.slice(5.0, 5.3), [0, 0, 0])
    assert audio.slice(1.5, 1.5).size == 0
    out = audio.slice(1.0, 2.0)
    out[:] = 0
    assert audio.samples[0] == 1  # a copy, never a view
    with pytest.raises(ValueError):
        audio.slice(2.0, 1.0)


def test_audio_validates_and_coerces() -> None:
    audio = Audio(np.zeros(4, dtype=np.float64), sr=16000, start_s=0)
    assert audio.samples.dtype == np.float32
    with pytest.raises(ValueError):
        Audio(np.zeros((2, 4), dtype=np.float32), sr=16000)
    with pytest.raises(ValueError):
        Audio(np.zeros(4, dtype=np.float32), sr=0)


def _aac_with_a_gap(path: Path, gap_s: float, sr: int = 16000) -> None:
    """4 s of AAC whose second half is stamped ``gap_s`` later than it was encoded (a concatenated file).

    A click marks the middle of each second of the encoded audio.
    """
    seconds = 4
    samples = np.zeros(seconds * sr, np.float32)
    for k in range(seconds):
        samples[k * sr + sr // 2: k * sr + sr // 2 + 80] = 0.8
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=sr)
        stream.layout = "mono"
        packets = []
        for i in range(0, len(samples), 1024):
            frame = av.AudioFrame.from_ndarray(samples[None, i:i + 1024], format="flt", layout="mono")
            frame.sample_rate, frame.pts = sr, i
            packets += stream.encode(frame)
        packets += stream.encode(None)
        shift = int(gap_s * sr)
        for packet in packets:
            if packet.pts is not None and packet.pts >= 2 * sr:
                packet.pts += shift
                packet.dts += shift
            out.mux(packet)


def test_a_gap_in_the_audio_timestamps_is_kept_as_silence(tmp_path: Path) -> None:
    path = tmp_path / "gap.m4a"
    _aac_with_a_gap(path, 0.5)
    audio = load_audio(path)
    clicks = [audio.start_s + i / audio.sr for i in np.flatnonzero(np.abs(audio.samples) > 0.4)]
    seconds = sorted({round(c, 1) for c in clicks})
    # The clicks encoded at 2.5 s and 3.5 s are stamped 0.5 s later and must be heard there (not at 2.5, 3.5).
    assert seconds == pytest.approx([0.5, 1.5, 3.0, 4.0], abs=0.03)
    assert audio.duration_s == pytest.approx(4.5, abs=0.1)
