"""One decode pass: each frame is converted lazily to the sizes its consumers ask for, at most once."""
from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import av
import cv2
import numpy as np

if TYPE_CHECKING:
    from talkset.vision.face import FaceBox


def scaled_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """(w, h) scaled so the longer side is at most ``max_side``, both even."""
    s = min(1.0, max_side / max(width, height))
    return max(2, int(width * s) // 2 * 2), max(2, int(height * s) // 2 * 2)


def upright(img: np.ndarray, rotation_deg: int) -> np.ndarray:
    """Applies a display rotation (PyAV's ``frame.rotation``, degrees counter-clockwise) to pixels."""
    k = (rotation_deg // 90) % 4
    return np.ascontiguousarray(np.rot90(img, k)) if k else img


class FrameView:
    """A decoded frame and its time; the scaled copies are made on first use and shared."""

    def __init__(self, frame: av.VideoFrame, t: float, index: int, rotation_deg: int,
                 work_max_side: int, shot_max_side: int):
        self.frame = frame
        self.t = t
        self.index = index
        # The face box the face consumer found or tracks at this frame (work-frame pixels), for later consumers.
        self.face: FaceBox | None = None
        # This frame's face mesh (work-frame pixels) and the face box that follows it, when one was meshed.
        self.mesh: np.ndarray | None = None
        self.mesh_box: FaceBox | None = None
        self.rotation_deg = rotation_deg
        self._work_max_side = work_max_side
        self._shot_max_side = shot_max_side

    def _size(self, max_side: int) -> tuple[int, int]:
        """(w, h) of a converted frame before rotation: the same for every frame of a video."""
        w, h = self.frame.width, self.frame.height
        if self._planes is not None:
            k = max(1, -(-max(w, h) // max_side))  # a whole factor keeps OpenCV's area scaling fast
            return max(2, (w // k) // 2 * 2), max(4, (h // k) // 4 * 4)
        return scaled_size(w, h, max_side)

    def _convert(self, max_side: int, fmt: str) -> np.ndarray:
        w, h = self._size(max_side)
        if self._planes is not None:
            img = _i420_scaled(*self._planes, (w, h), fmt == "bgr24")
        else:
            img = self.frame.to_ndarray(width=w, height=h, format=fmt, interpolation="AREA")
        return upright(img, self.rotation_deg)

    @cached_property
    def _planes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Y, U, V of a 4:2:0 frame as read-only views of the decoder's buffers (``to_ndarray`` copies them
        with ``np.hstack``: half a millisecond a 1080p frame), or None for other layouts."""
        w, h = self.frame.width, self.frame.height
        if self.frame.format.name not in ("yuv420p", "yuvj420p") or w % 2 or h % 4:
            return None
        planes = []
        for plane, (pw, ph) in zip(self.frame.planes, ((w, h), (w // 2, h // 2), (w // 2, h // 2))):
            arr = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)[:ph, :pw]
            arr.flags.writeable = False
            planes.append(arr)
        return planes[0], planes[1], planes[2]

    @cached_property
    def small_bgr(self) -> np.ndarray:
        """For shot detection (PySceneDetect works in BGR) and motion: always scaled from the work frame, so
        shot detectors, which compare consecutive frames pixel by pixel, see one pipeline in and out of speech.
        It is also the cheap way: the sizes that keep I420's layout are fractional factors of most sources,
        and OpenCV's area scaling at a fractional factor costs 6-17 ms a full 1080p frame against ~5 ms for
        the work frame (whole factor) and this step together."""
        w, h = self._size(self._shot_max_side)
        if (self.rotation_deg // 90) % 2:
            w, h = h, w
        small = cv2.resize(self.work_rgb, (w, h), interpolation=cv2.INTER_LINEAR)
        return cv2.cvtColor(small, cv2.COLOR_RGB2BGR)

    @cached_property
    def small_gray(self) -> np.ndarray:
        return cv2.cvtColor(self.small_bgr, cv2.COLOR_BGR2GRAY)

    @cached_property
    def work_rgb(self) -> np.ndarray:
        """For face detection and mesh."""
        return self._convert(self._work_max_side, "rgb24")

    def rgb(self, max_side: int) -> np.ndarray:
        """RGB scaled so the longer side is at most ``max_side``: the pixels ``work_rgb`` would be for a
        decode at that work size. Each size is converted once per frame and shared (bench runs metrics that
        measure at different sizes over one decode)."""
        if self._size(max_side) == self._size(self._work_max_side):
            return self.work_rgb
        sizes = self.__dict__.setdefault("_rgb_by_size", {})
        key = self._size(max_side)
        if key not in sizes:
            sizes[key] = self._convert(max_side, "rgb24")
        return sizes[key]

    @cached_property
    def full_rgb(self) -> np.ndarray:
        """Full resolution RGB, upright, for the few frames an identity descriptor is taken from."""
        return upright(self.frame.to_ndarray(format="rgb24"), self.rotation_deg)

    @cached_property
    def full_gray(self) -> np.ndarray:
        """Full resolution luma, for quality samples only."""
        if self._planes is not None:
            return upright(self._planes[0], self.rotation_deg)
        return upright(self.frame.to_ndarray(format="gray"), self.rotation_deg)


def _i420_scaled(y: np.ndarray, u: np.ndarray, v: np.ndarray, size: tuple[int, int], bgr: bool) -> np.ndarray:
    """Scales the planes first and converts colour on the small image.

    swscale's scaled RGB conversion of a 1080p frame costs ~4 ms; shrinking the planes with OpenCV and
    converting afterwards costs well under 1 ms.
    """
    sw, sh = size
    h, w = y.shape
    if w - sw < 2 and h - sh < 4:  # no scaling: crop to the even size I420 needs
        ys, us, vs = y[:sh, :sw], u[:sh // 2, :sw // 2], v[:sh // 2, :sw // 2]
    elif w % sw == 0 and h % sh == 0:
        # A whole factor averages separate blocks, so U above V scale as one image (one call, not two) to the
        # same pixels; fractional factors weigh rows by float positions, so they keep their own calls.
        ys = cv2.resize(y, (sw, sh), interpolation=cv2.INTER_AREA)
        uv = cv2.resize(np.concatenate([u, v]), (sw // 2, sh), interpolation=cv2.INTER_AREA)
        us, vs = uv[:sh // 2], uv[sh // 2:]
    else:
        ys = cv2.resize(y, (sw, sh), interpolation=cv2.INTER_AREA)
        us = cv2.resize(u, (sw // 2, sh // 2), interpolation=cv2.INTER_AREA)
        vs = cv2.resize(v, (sw // 2, sh // 2), interpolation=cv2.INTER_AREA)
    i420 = np.concatenate([ys, us.reshape(-1, sw), vs.reshape(-1, sw)])
    return cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420 if bgr else cv2.COLOR_YUV2RGB_I420)


def rising_frames(path: str | Path, seek_s: float | None = None) -> Iterator[tuple[av.VideoFrame, float]]:
    """(frame, presentation time in seconds) of the first video stream, each once, times strictly rising; from the
    keyframe before ``seek_s`` when given.

    Frames without a timestamp get the previous time plus one nominal frame; a duplicate or out-of-order time is
    skipped; corrupt packets past the first frame end the stream early rather than failing the video (what was
    decoded is still used).
    """
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if seek_s is not None and seek_s > 0:
            assert stream.time_base is not None  # a demuxed video stream has one
            container.seek(int(seek_s / stream.time_base), stream=stream, backward=True, any_frame=False)
        step = 1.0 / float(stream.guessed_rate or 25)
        last_t: float | None = None
        frames = container.decode(stream)
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                return
            except av.FFmpegError:
                if last_t is None:
                    raise
                return
            t = frame.time if frame.time is not None else (last_t + step if last_t is not None else 0.0)
            if last_t is not None and t <= last_t:
                continue
            last_t = float(t)
            yield frame, last_t


def decode_frames(path: str | Path, rotation_deg: int, work_max_side: int, shot_max_side: int
                  ) -> Iterator[FrameView]:
    """Yields every frame of the first video stream once (``rising_frames``) as a shared ``FrameView``."""
    for index, (frame, t) in enumerate(rising_frames(path)):
        yield FrameView(frame, t, index, rotation_deg, work_max_side, shot_max_side)
