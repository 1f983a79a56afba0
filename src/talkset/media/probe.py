"""Probe a media file with PyAV: streams, timing, rotation; bad files fail here with a one-line reason."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from talkset.errors import TalksetError, one_line


class ProbeError(TalksetError):
    """A file that cannot be used; the message is one line naming the file and why."""


@dataclass(frozen=True)
class VideoInfo:
    """What curate needs to know about a source before decoding it.

    Times are seconds on the container clock (presentation timestamps), the clock the audio uses too.
    """

    path: str
    width: int
    height: int
    video_codec: str
    fps: Fraction
    avg_fps: Fraction
    variable_frame_rate: bool
    video_start_s: float
    duration_s: float
    rotation_deg: int
    bit_rate: int
    has_audio: bool
    audio_codec: str | None = None
    audio_sample_rate: int | None = None

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) after rotation is applied."""
        if self.rotation_deg % 180:
            return self.height, self.width
        return self.width, self.height

    def to_dict(self) -> dict:
        d = asdict(self)
        d["fps"] = str(self.fps)
        d["avg_fps"] = str(self.avg_fps)
        return d


def probe(path: str | Path) -> VideoInfo:
    """Reads a video's streams and timing without decoding more than its first frame.

    Args:
        path: the video file.

    Raises:
        ProbeError: empty, unreadable, no video stream, or no decodable frame.
    """
    path = Path(path)
    if not path.exists():
        raise ProbeError(f"{path}: no such file" + (" (broken symlink)" if path.is_symlink() else ""))
    if not path.is_file():
        raise ProbeError(f"{path}: not a regular file")
    if os.path.getsize(path) == 0:
        raise ProbeError(f"{path}: empty file (0 bytes)")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as e:
        raise ProbeError(f"{path}: not a readable media file ({one_line(e)})") from None
    with container:
        if not container.streams.video:
            kind = "audio only" if container.streams.audio else "no video stream"
            raise ProbeError(f"{path}: {kind}")
        vs = container.streams.video[0]
        first = _first_frame(container, vs, path)
        nominal = vs.guessed_rate or vs.average_rate or vs.base_rate
        if not nominal or nominal <= 0 or nominal > 1000:
            raise ProbeError(f"{path}: implausible frame rate {nominal}")
        avg = vs.average_rate or nominal
        duration_s = _duration_s(container, vs)
        if duration_s <= 0:
            raise ProbeError(f"{path}: no duration")
        audio = container.streams.audio[0] if container.streams.audio else None
        return VideoInfo(
            path=str(path),
            width=vs.codec_context.width,
            height=vs.codec_context.height,
            video_codec=vs.codec_context.name,
            fps=Fraction(nominal),
            avg_fps=Fraction(avg),
            # A mean rate other than the nominal one, or frame durations that vary (a file can vary and still
            # average its nominal rate).
            variable_frame_rate=(abs(float(avg) - float(nominal)) > 0.01 * float(nominal)
                                 or _durations_vary(path)),
            video_start_s=float(first.time),
            duration_s=duration_s,
            rotation_deg=int(round(getattr(first, "rotation", 0) or 0)) % 360,
            bit_rate=int(container.bit_rate or 0),
            has_audio=audio is not None,
            audio_codec=audio.codec_context.name if audio else None,
            audio_sample_rate=audio.rate if audio else None,
        )


def _first_frame(container, vs, path: Path):
    try:
        for frame in container.decode(vs):
            if frame.time is not None:
                return frame
    except av.FFmpegError as e:
        raise ProbeError(f"{path}: video cannot be decoded ({one_line(e)})") from None
    raise ProbeError(f"{path}: video stream has no decodable frame (truncated?)")


VFR_PACKETS = 600  # video packets whose timestamps are read to see whether frame durations vary


def _durations_vary(path: Path) -> bool:
    """Whether the first ``VFR_PACKETS`` frame durations differ from their median by more than timestamp rounding.

    Only packets are read (nothing is decoded). A duration counts as different when it is off the median by more
    than 1.5 clock ticks and 5 %; more than 5 % of such durations make the file variable.
    """
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]  # the stream probe describes
            tick = float(stream.time_base) if stream.time_base else 0.0
            times = []
            for packet in container.demux(stream):
                if packet.pts is not None:
                    times.append(float(packet.pts * packet.time_base))
                if len(times) >= VFR_PACKETS:
                    break
    except av.FFmpegError:
        return False
    d = np.diff(np.unique(times))  # presentation order: B-frames arrive out of order
    if len(d) < 4:
        return False
    median = float(np.median(d))
    off = np.abs(d - median) > max(1.5 * tick, 0.05 * median)
    return bool(off.mean() > 0.05)


def _duration_s(container, vs) -> float:
    if vs.duration and vs.time_base:
        return float(vs.duration * vs.time_base)
    if container.duration:
        return container.duration / av.time_base
    return 0.0


def open_media(path: str | Path, error: type[Exception]):
    """``av.open(path)``, or ``error`` with one line naming the file and why it cannot be opened."""
    try:
        return av.open(str(path))
    except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError) as e:
        raise error(f"{path}: cannot open ({one_line(e)})") from None
