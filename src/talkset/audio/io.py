"""Decode a file's first audio stream with PyAV into mono float32 samples on the container clock."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from talkset.errors import TalksetError, one_line
from talkset.media.probe import open_media


class AudioError(TalksetError):
    """Audio that cannot be used; the message is one line naming the file and why."""


@dataclass(frozen=True, eq=False)  # eq=False: element-wise ndarray comparison has no single truth value
class Audio:
    """Mono audio placed on the container clock.

    Attributes:
        samples: 1-D float32 samples, nominally in [-1, 1].
        sr: sample rate in Hz.
        start_s: presentation time of ``samples[0]`` in seconds on the container clock, the clock
            video frames use too (it is not always 0: mp3 encoder delay, edit lists, muxer offsets).
    """

    samples: np.ndarray
    sr: int
    start_s: float = 0.0

    def __post_init__(self) -> None:
        samples = np.asarray(self.samples, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"Audio.samples must be 1-D, got shape {samples.shape}")
        if self.sr <= 0:
            raise ValueError(f"Audio.sr must be positive, got {self.sr}")
        object.__setattr__(self, "samples", samples)
        object.__setattr__(self, "start_s", float(self.start_s))

    @property
    def duration_s(self) -> float:
        """Length of the decoded samples in seconds."""
        return len(self.samples) / self.sr

    def slice(self, start_s: float, end_s: float) -> np.ndarray:
        """Samples between two container-clock times, zero-padded outside the decoded range.

        The length is ``round((end_s - start_s) * sr)`` wherever the window lies, so equally long
        windows always give equally long arrays.

        Args:
            start_s: window start, seconds on the container clock.
            end_s: window end, seconds on the container clock.

        Returns:
            A new float32 array (never a view of ``samples``).

        Raises:
            ValueError: ``end_s`` is before ``start_s``.
        """
        if end_s < start_s:
            raise ValueError(f"slice end {end_s} is before start {start_s}")
        n = int(round((end_s - start_s) * self.sr))
        i0 = int(round((start_s - self.start_s) * self.sr))
        out = np.zeros(n, dtype=np.float32)
        lo, hi = max(i0, 0), min(i0 + n, len(self.samples))
        if hi > lo:
            out[lo - i0 : hi - i0] = self.samples[lo:hi]
        return out


def load_audio(path: str | Path, sr: int = 16000) -> Audio:
    """Decodes the first audio stream of a video or audio file to mono float32 at ``sr``.

    Only audio packets are demuxed, so video frames are never decoded. Channels are averaged
    after resampling (see ``_downmix``).

    Args:
        path: any file FFmpeg can read (mp4, mkv, wav, mp3, ...).
        sr: output sample rate in Hz.

    Returns:
        The samples with ``start_s`` set to the presentation time of the first decoded sample.

    Raises:
        AudioError: the file cannot be opened, has no audio stream, or yields no decodable audio.
    """
    path = Path(path)
    container = open_media(path, AudioError)
    with container:
        if not container.streams.audio:
            raise AudioError(f"{path}: no audio stream")
        stream = container.streams.audio[0]
        # layout=None keeps the source channels; averaging them ourselves is the plain mean silero
        # and most tools expect, while swresample's mono matrix is (L+R)/sqrt(2), +3 dB that can clip.
        resampler = av.AudioResampler(format="fltp", layout=None, rate=sr)
        placer = _Placer(sr)
        try:
            for packet in container.demux(stream):
                for frame in packet.decode():
                    t = _frame_time_s(frame)
                    if placer.needs_restart(t, frame.samples / frame.sample_rate):
                        # A jump in the timestamps (a concatenated file, a dropped packet): flush what the
                        # resampler holds, then start the next piece at its own time.
                        placer.add(_drain(resampler.resample(None)))
                        resampler = av.AudioResampler(format="fltp", layout=None, rate=sr)
                        assert t is not None  # needs_restart is only true for a timestamped frame
                        placer.restart(t)
                    elif placer.start_s is None:
                        placer.restart(t if t is not None else _stream_start_s(stream))
                    placer.add(_drain(resampler.resample(frame)))
            placer.add(_drain(resampler.resample(None)))  # flush the filter tail
        except (av.FFmpegError, ValueError) as e:  # ValueError: the resampler rejects a mid-stream layout change
            # Damage after some audio (a truncated file) keeps what was decoded, as video decoding does.
            if not placer.chunks:
                raise AudioError(f"{path}: cannot decode audio ({one_line(e)})") from e
        chunks, start_s = placer.chunks, placer.start_s
    if start_s is None or not chunks:
        raise AudioError(f"{path}: no audio samples decoded")
    return Audio(samples=np.concatenate(chunks), sr=sr, start_s=start_s)


GAP_TOLERANCE_S = 0.02  # timestamp jumps smaller than this are encoder rounding, not gaps


class _Placer:
    """Puts decoded pieces on the container clock: silence fills a gap in the timestamps, an overlap is cut."""

    def __init__(self, sr: int):
        self.sr = sr
        self.start_s: float | None = None
        self.chunks: list[np.ndarray] = []
        self.n = 0  # samples placed so far
        self._expected_s: float | None = None  # where the next input frame should start

    def needs_restart(self, t: float | None, duration_s: float) -> bool:
        expected, self._expected_s = self._expected_s, (t if t is not None else self._expected_s or 0.0) + duration_s
        return t is not None and expected is not None and abs(t - expected) > GAP_TOLERANCE_S

    def restart(self, t: float) -> None:
        """The next samples belong at container time ``t``."""
        if self.start_s is None:
            self.start_s = t
        else:
            target = max(0, int(round((t - self.start_s) * self.sr)))
            if target > self.n:
                self.add([np.zeros(target - self.n, np.float32)])
            while self.n > target:  # overlap: the later piece wins
                last = self.chunks.pop()
                self.n -= len(last)
                if self.n < target:
                    self.chunks.append(last[: target - self.n])
                    self.n = target

    def add(self, pieces: list[np.ndarray]) -> None:
        for x in pieces:
            self.chunks.append(x)
            self.n += len(x)


def _drain(frames) -> list[np.ndarray]:
    return [_downmix(f.to_ndarray()) for f in frames]


def _frame_time_s(frame: av.AudioFrame) -> float | None:
    """Presentation time of a decoded frame, or None without a timestamp."""
    if frame.pts is not None and frame.time_base is not None:
        return float(frame.pts * frame.time_base)
    return None


def _stream_start_s(stream: av.audio.stream.AudioStream) -> float:
    """The stream's start time, else 0."""
    if stream.start_time is not None and stream.time_base is not None:
        return float(stream.start_time * stream.time_base)
    return 0.0


def _downmix(planes: np.ndarray) -> np.ndarray:
    """(channels, n) float32 planes to an (n,) float32 mean."""
    if planes.shape[0] == 1:
        return planes[0]
    return planes.mean(axis=0, dtype=np.float32)
