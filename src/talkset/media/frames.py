"""One decode pass: each frame is converted lazily to the sizes its consumers ask for, at most once."""
from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from pathlib import Path

import av
import cv2
import numpy as np


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
        self.rotation_deg = rotation_deg
        self._work_max_side = work_max_side
        self._shot_max_side = shot_max_side

    def _convert(self, max_side: int, fmt: str) -> np.ndarray:
        w, h = scaled_size(self.frame.width, self.frame.height, max_side)
        img = self.frame.to_ndarray(width=w, height=h, format=fmt, interpolation="AREA")
        return upright(img, self.rotation_deg)

    @cached_property
    def small_bgr(self) -> np.ndarray:
        """For shot detection (PySceneDetect works in BGR)."""
        return self._convert(self._shot_max_side, "bgr24")

    @cached_property
    def small_gray(self) -> np.ndarray:
        return cv2.cvtColor(self.small_bgr, cv2.COLOR_BGR2GRAY)

    @cached_property
    def work_rgb(self) -> np.ndarray:
        """For face detection and mesh."""
        return self._convert(self._work_max_side, "rgb24")

    @cached_property
    def full_gray(self) -> np.ndarray:
        """Full resolution luma, for quality samples only."""
        return upright(self.frame.to_ndarray(format="gray"), self.rotation_deg)


def decode_frames(path: str | Path, rotation_deg: int, work_max_side: int, shot_max_side: int
                  ) -> Iterator[FrameView]:
    """Yields every frame of the first video stream once, with its presentation time in seconds.

    Frames without a timestamp get the previous time plus one nominal frame; corrupt packets past the first
    frame end the stream early rather than failing the video (what was decoded is still used).
    """
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        step = 1.0 / float(stream.guessed_rate or 25)
        last_t = None
        index = 0
        frames = container.decode(stream)
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                return
            except av.FFmpegError:
                if index == 0:
                    raise
                return
            t = frame.time if frame.time is not None else (last_t + step if last_t is not None else 0.0)
            if last_t is not None and t <= last_t:
                continue  # duplicate or out-of-order timestamp: keep time monotonic
            last_t = t
            yield FrameView(frame, float(t), index, rotation_deg, work_max_side, shot_max_side)
            index += 1
