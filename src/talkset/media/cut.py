"""Frame-exact clip cutting: re-encode a time span of a video to H.264/AAC MP4."""
from __future__ import annotations

import math
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import overload

import av
import numpy as np

from talkset.errors import TalksetError, one_line
from talkset.files import atomic_output
from talkset.media.encode import AAC_FRAME, aac_rate, add_aac, add_h264, x264_options

__all__ = ["ClipWriteError", "write_clip"]

# Decode from this far before start_s: the demuxer seeks by decode timestamps, so with
# B-frames the keyframe it lands on can present after start_s; the AAC decoder also
# needs a frame of warm-up after a seek before its output is clean.
_PREROLL_S = 0.5
# Sample positions recomputed from float timestamps can jitter by a sample or two;
# smaller differences are treated as continuous audio rather than a gap or overlap.
_AUDIO_JITTER = 2


class ClipWriteError(TalksetError):
    """The source could not be read or the requested span holds nothing to write."""


def write_clip(
    video_path: Path,
    start_s: float,
    end_s: float,
    out_path: Path,
    *,
    audio_path: Path | None = None,
    rotation_deg: int = 0,
    preset: str = "veryfast",
    crf: int = 20,
) -> None:
    """Cut ``[start_s, end_s)`` from a video and write it as an H.264/AAC MP4.

    The cut is frame exact, not keyframe aligned: decoding starts at a keyframe
    before ``start_s`` and only frames whose presentation time (``frame.time``,
    seconds on the container clock) lies in ``[start_s, end_s)`` are re-encoded
    (libx264, yuv420p, preset veryfast, crf 20). Odd widths/heights are cropped
    by one pixel. The source's per-frame timing is kept (variable frame rate
    stays variable), shifted by ``start_s``; the first frame is pinned to 0 so
    both streams start together, which stretches it by the gap between
    ``start_s`` and its own time (under one frame unless the video stream starts
    late). Every later frame keeps exact sync with the audio.

    Audio comes from ``audio_path`` if given (its time 0 is the video
    container's time 0), else from the video's own audio stream, else there is
    none and the clip is video only. It is trimmed sample-accurately to
    ``[start_s, end_s)`` on the same clock (gaps inside the span are filled
    with silence to keep sync) and encoded AAC at 128 kb/s, mono or stereo as
    the source, at the source sample rate.

    Frames are streamed, so memory does not grow with the clip length. The
    file is written under a temporary name and renamed when complete.

    Args:
        video_path: Source video, any container/codec FFmpeg decodes.
        start_s: Span start in seconds on the source container clock (inclusive).
        end_s: Span end in seconds on the same clock (exclusive).
        out_path: Destination ``.mp4``; parent directories are created.
        audio_path: Optional separate audio file (e.g. a ``.wav``) to use
            instead of the video's own audio.
        rotation_deg: Display rotation of the source, counter-clockwise, as
            FFmpeg's display matrix reports it (PyAV: ``VideoFrame.rotation``,
            in [-180, 180]; -90 is the same as 270). The pixels are rotated
            counter-clockwise by this angle, as ``ffmpeg`` autorotation does,
            so a source flagged 90 comes out upright with width and height
            swapped and the source's left edge at the bottom.
        preset: libx264 speed preset (``ultrafast`` … ``veryslow``): faster
            presets encode sooner into larger files.
        crf: libx264 constant rate factor (lower is better quality).

    Raises:
        ClipWriteError: The source or audio file cannot be read, has no video
            stream, or the span contains no video frame.
        ValueError: ``rotation_deg`` is not a multiple of 90.
    """
    video_path, out_path = Path(video_path), Path(out_path)
    if rotation_deg % 90:
        raise ValueError(f"rotation_deg must be a multiple of 90, got {rotation_deg}")
    quarter_turns = (rotation_deg // 90) % 4
    if not end_s > start_s:
        raise ClipWriteError(f"{video_path}: empty span [{start_s}, {end_s}) s")

    containers: list[av.container.InputContainer] = []
    try:
        vin = _open_input(video_path)
        containers.append(vin)
        if not vin.streams.video:
            raise ClipWriteError(f"{video_path}: no video stream")
        vstream = vin.streams.video[0]
        vstream.thread_type = "AUTO"  # frame threads: decoding dominates the run time

        ain: av.container.InputContainer | None
        if audio_path is not None:
            audio_src = Path(audio_path)
            ain = _open_input(audio_src)
            containers.append(ain)
            if not ain.streams.audio:
                raise ClipWriteError(f"{audio_src}: no audio stream")
        else:
            audio_src = video_path
            # A second demuxer on the same file lets audio seek with its own pre-roll
            # and be read in lockstep with video without buffering either stream.
            ain = _open_input(video_path) if vin.streams.audio else None
            if ain is not None:
                containers.append(ain)

        frames = _video_frames(vin, vstream, video_path, start_s, end_s, quarter_turns)
        first = next(frames, None)
        if first is None:
            raise ClipWriteError(f"{video_path}: no video frame in [{start_s}, {end_s}) s")

        _write(out_path, vstream, first, frames, ain, audio_src, start_s, end_s, x264_options(preset, crf))
    finally:
        for container in containers:
            container.close()


def _open_input(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise ClipWriteError(f"{path}: cannot open: {one_line(exc)}") from exc


def _write(
    out_path: Path,
    vstream: av.video.stream.VideoStream,
    first: av.VideoFrame,
    frames: Iterator[av.VideoFrame],
    ain: av.container.InputContainer | None,
    audio_src: Path,
    start_s: float,
    end_s: float,
    video_options: dict[str, str],
) -> None:
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # Written under a temporary name: a crash never leaves a truncated clip that looks finished at out_path.
    with atomic_output(out_path) as part:
        with av.open(str(part), "w", format="mp4") as out:
            rate = vstream.average_rate or vstream.guessed_rate or Fraction(25)
            venc = add_h264(out, rate, (first.width, first.height), video_options)  # rate informs rate control
            venc.codec_context.time_base = first.time_base  # source ticks: VFR timing survives

            chunks: Iterator[av.AudioFrame] = iter(())
            aenc = None
            if ain is not None:
                astream = ain.streams.audio[0]
                layout = "mono" if astream.codec_context.layout.nb_channels == 1 else "stereo"
                sample_rate = aac_rate(astream.codec_context.sample_rate)
                aenc = add_aac(out, sample_rate, layout)
                chunks = _audio_chunks(ain, astream, audio_src, start_s, end_s, layout, sample_rate)

            # libx264 hands frame durations to packets in coding order, not display
            # order, so they come out shuffled when B-frames are reordered; the muxer
            # needs the right one on the final frame to get the clip length right.
            # Only frames inside the encoder's lookahead are held here.
            durations: dict[int, int] = {}

            def mux_video(frame: av.VideoFrame | None) -> None:
                if frame is not None:
                    assert frame.pts is not None  # _video_frames sets every frame's pts
                    durations[frame.pts] = frame.duration
                for packet in venc.encode(frame):
                    packet.duration = durations.pop(packet.pts, packet.duration)
                    out.mux(packet)

            # Interleave by time so the muxer never has to hold one stream back.
            vnext: av.VideoFrame | None = first
            anext = next(chunks, None)
            while vnext is not None or anext is not None:
                # _audio_chunks sets every chunk's pts and time base, so its time is never None
                if anext is None or (vnext is not None and vnext.time <= _time(anext)):
                    mux_video(vnext)
                    vnext = next(frames, None)
                else:
                    assert aenc is not None  # chunks is empty without an audio encoder
                    out.mux(aenc.encode(anext))
                    anext = next(chunks, None)
            mux_video(None)
            if aenc is not None:
                out.mux(aenc.encode(None))


def _time(frame: av.AudioFrame) -> float:
    """``frame.time`` of a frame that has a pts."""
    t = frame.time
    assert t is not None
    return t


def _time_base(stream: av.stream.Stream) -> Fraction:
    tb = stream.time_base
    assert tb is not None  # PyAV gives None only for a 0/0 time base, which no demuxer leaves
    return tb


def _seek(
    container: av.container.InputContainer, stream: av.stream.Stream, time_s: float, path: Path
) -> None:
    target = math.floor(Fraction(time_s) / _time_base(stream)) if time_s > 0 else 0
    try:
        container.seek(target, stream=stream, backward=True)
    except av.FFmpegError:
        # Some inputs (raw streams, broken indexes) cannot seek to a time; rewind and
        # decode from the start instead, the time filter still cuts exactly.
        try:
            container.seek(0)
        except av.FFmpegError as exc:
            raise ClipWriteError(f"{path}: cannot seek: {one_line(exc)}") from exc


def _video_frames(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    path: Path,
    start_s: float,
    end_s: float,
    quarter_turns: int,
) -> Iterator[av.VideoFrame]:
    """Yield upright, even-sized yuv420p frames of the span with output pts set."""
    tb = _time_base(stream)
    offset = math.floor(Fraction(start_s) / tb)
    end_ticks = math.floor(Fraction(end_s) / tb) - offset

    preroll = _PREROLL_S
    fresh = True  # a freshly opened container already sits at the start
    while True:
        seek_s = start_s - preroll
        if seek_s > 0 or not fresh:
            _seek(container, stream, seek_s, path)
        fresh = False
        decoded = _decode(container, stream, path)
        head = next(decoded, None)
        # Landing after start_s means the keyframe index pointed past a frame we
        # need; seek further back (the stream start bounds the loop).
        if head is None or head.time is None or head.time <= start_s or seek_s <= 0:
            break
        preroll *= 4

    pending: av.VideoFrame | None = None  # held back one frame to learn its duration
    src_duration = interval = 0
    last_pts = -1
    source = decoded if head is None else _chain(head, decoded)
    for frame in source:
        t = frame.time
        if t is None or t < start_s:
            continue
        if t >= end_s:
            break  # decoder output is in presentation order: nothing later fits
        assert frame.pts is not None  # it has a time
        # Pin the first frame to 0 so audio and video both start at the clip's start;
        # later frames keep their exact offset from start_s, which keeps lip sync.
        pts = 0 if pending is None else max(frame.pts - offset, last_pts + 1)
        upright = _upright(frame, quarter_turns)
        upright.pts = pts
        upright.time_base = tb
        if pending is not None:
            pending.duration = interval = pts - last_pts  # last_pts is pending's pts
            yield pending
        pending, last_pts, src_duration = upright, pts, frame.duration or 0
    if pending is not None:
        # The last frame lasts as in the source (or as its predecessor), cut at end_s.
        fallback = src_duration or interval or 1
        pending.duration = max(1, min(fallback, end_ticks - last_pts))  # last_pts is pending's pts
        yield pending


def _chain(head: av.VideoFrame, rest: Iterator[av.VideoFrame]) -> Iterator[av.VideoFrame]:
    yield head
    yield from rest


@overload
def _decode(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, path: Path
) -> Iterator[av.VideoFrame]: ...


@overload
def _decode(
    container: av.container.InputContainer, stream: av.audio.stream.AudioStream, path: Path
) -> Iterator[av.AudioFrame]: ...


# The return type is what PyAV's stubs give decode() for a stream of either kind; the overloads above say which.
def _decode(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream | av.audio.stream.AudioStream,
    path: Path,
) -> Iterator[av.VideoFrame | av.AudioFrame | av.subtitles.subtitle.SubtitleSet]:
    try:
        yield from container.decode(stream)
    except av.FFmpegError as exc:
        raise ClipWriteError(f"{path}: cannot decode: {one_line(exc)}") from exc


def _upright(frame: av.VideoFrame, quarter_turns: int) -> av.VideoFrame:
    """Crop to even size, rotate counter-clockwise by quarter turns, return yuv420p."""
    w, h = frame.width, frame.height
    if w % 2 == 0 and h % 2 == 0:
        if quarter_turns == 0:
            return frame if frame.format.name == "yuv420p" else frame.reformat(format="yuv420p")
        # Rotate the planes themselves: avoids a lossy YUV->RGB->YUV round trip, and
        # with even sides the 2x2 chroma blocks map onto 2x2 blocks exactly.
        yuv = frame.to_ndarray(format="yuv420p")
        y = yuv[:h]
        chroma = yuv[h:].reshape(2, h // 2, w // 2)
        planes = [np.rot90(p, quarter_turns) for p in (y, chroma[0], chroma[1])]
        out_w = planes[0].shape[1]
        packed = np.concatenate([p.ravel() for p in planes]).reshape(-1, out_w)
        return av.VideoFrame.from_ndarray(packed, format="yuv420p")
    # Odd sides cannot be split into 2x2 chroma blocks, so crop in RGB and let
    # swscale build the 4:2:0 planes.
    rgb: np.ndarray = frame.to_ndarray(format="rgb24")[: h - h % 2, : w - w % 2]
    rgb = np.ascontiguousarray(np.rot90(rgb, quarter_turns))
    return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")


def _audio_chunks(
    container: av.container.InputContainer,
    stream: av.audio.stream.AudioStream,
    path: Path,
    start_s: float,
    end_s: float,
    layout: str,
    rate: int,
) -> Iterator[av.AudioFrame]:
    """Yield fltp AAC-sized frames of the span, pts counted in samples from 0."""
    first_sample = round(start_s * rate)
    total = round(end_s * rate) - first_sample
    channels = 1 if layout == "mono" else 2
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)

    if start_s - _PREROLL_S > 0:
        _seek(container, stream, start_s - _PREROLL_S, path)
    written = 0  # samples placed so far; output sample i is at start_s + i / rate
    expected: int | None = None  # where the next decoded sample should land
    buffer: list[np.ndarray] = []
    buffered = 0
    emitted = 0

    def frames_out(final: bool) -> Iterator[av.AudioFrame]:
        nonlocal buffer, buffered, emitted
        if not buffer:
            return
        data = np.concatenate(buffer, axis=1)
        cut = buffered if final else buffered - buffered % AAC_FRAME
        for i in range(0, cut, AAC_FRAME):
            piece = np.ascontiguousarray(data[:, i : min(i + AAC_FRAME, cut)])
            frame = av.AudioFrame.from_ndarray(piece, format="fltp", layout=layout)
            frame.sample_rate = rate
            frame.pts = emitted
            frame.time_base = Fraction(1, rate)
            emitted += piece.shape[1]
            yield frame
        buffer = [data[:, cut:]] if cut < buffered else []
        buffered -= cut

    def place(out: av.AudioFrame) -> np.ndarray:
        """Trim/pad one resampled frame to its place in the output timeline."""
        nonlocal written, expected
        t = out.time  # None exactly when pts is None
        pos = round(t * rate) if t is not None and out.time_base else expected
        if pos is None:
            pos = first_sample  # untimed input: assume it starts on the container's 0
        if expected is not None and abs(pos - expected) <= _AUDIO_JITTER:
            pos = expected
        data = out.to_ndarray().reshape(channels, -1)
        expected = pos + data.shape[1]
        rel = pos - first_sample
        if rel < written:  # before the span, or overlapping what is already placed
            data = data[:, written - rel :]
        elif rel > written:  # a gap in the source: silence keeps later audio in sync
            gap = np.zeros((channels, min(rel, total) - written), np.float32)
            data = np.concatenate([gap, data], axis=1)
        data = data[:, : total - written]
        written += data.shape[1]
        return data

    for frame in _decode(container, stream, path):
        for out in resampler.resample(frame):
            data = place(out)
            if data.shape[1]:
                buffer.append(data)
                buffered += data.shape[1]
        yield from frames_out(final=False)
        if written >= total:
            break
    else:
        for out in resampler.resample(None):  # only holds samples when the rate changed
            data = place(out)
            buffer.append(data)
            buffered += data.shape[1]
    yield from frames_out(final=True)
