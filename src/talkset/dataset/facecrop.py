"""Face-centred square crops of a clip, as TalkVid's preprocessing makes them, and frame-rate resampling.

TalkVid (``src/data_preprocess/scripts/data_process/face_crop.py``) crops each clip once, not per frame: the
union of the face boxes over all frames, centre ``(int((x1+x2)/2), int((y1+y2)/2))``, side
``int(max(union w, union h) × 1.6)``, resized to 512×512; frames are first brought to 24 fps (``ffmpeg -r
24``). Two differences here, both to keep the face undistorted: TalkVid clamps only the left and top edges, so
near the right or bottom edge its crop is not square and the resize stretches it; here the square is shifted
back inside the frame (and is at most the frame's shorter side). And it resizes with nearest-neighbour
sampling; here with area averaging when shrinking and bicubic when enlarging. The face boxes are the extent
of the face mesh (InsightFace's detector box, which TalkVid uses, spans about the same hairline-to-chin,
ear-to-ear region).

Resampling follows ffmpeg's ``fps`` filter: a source frame presented at ``t`` lands in output slot
``round(t × fps)``; each output frame shows the last source frame whose slot is not after it (frames are
repeated or dropped, never blended).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CROP_SIZE = 512
CROP_SCALE = 1.6  # TalkVid face_crop.py


@dataclass(frozen=True)
class Crop:
    """A square region of the clip's frames, in clip pixels, scaled to ``size``×``size``."""

    left: int
    top: int
    side: int
    size: int = CROP_SIZE

    def to_crop(self, xy: np.ndarray) -> np.ndarray:
        """Points (..., 2) in clip pixels → pixels of the ``size``×``size`` crop."""
        return ((np.asarray(xy, np.float64) - (self.left, self.top)) * (self.size / self.side)).astype(np.float32)


def face_crop(boxes: np.ndarray, width: int, height: int, *, scale: float = CROP_SCALE,
              size: int = CROP_SIZE) -> Crop:
    """The one crop for a whole clip from its per-frame face boxes (see the module docstring).

    Args:
        boxes: (n, 4) x1, y1, x2, y2 in clip pixels; rows with NaN are ignored (at least one must be finite).
        width: clip width, pixels.
        height: clip height, pixels.
        scale: crop side over the union box's longer side (TalkVid: 1.6).
        size: output side, pixels.
    """
    b = np.asarray(boxes, np.float64)
    b = b[np.isfinite(b).all(axis=1)]
    x1, y1, x2, y2 = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
    cx, cy = int((x1 + x2) / 2), int((y1 + y2) / 2)
    side = min(2 * int(int(max(x2 - x1, y2 - y1) * scale) / 2), width, height)
    side = max(side, 2)
    left = min(max(cx - side // 2, 0), width - side)
    top = min(max(cy - side // 2, 0), height - side)
    return Crop(int(left), int(top), int(side), size)


def frame_schedule(times: np.ndarray, fps: float, duration_s: float) -> np.ndarray:
    """Which source frame each output frame at ``fps`` shows (ffmpeg ``fps`` filter, rounding to nearest).

    Args:
        times: (n,) source frame times, seconds from the clip's start, increasing.
        fps: output frame rate.
        duration_s: clip duration, seconds: the output has ``round(duration_s × fps)`` frames.

    Returns:
        (m,) int indices into ``times``, non-decreasing.
    """
    t = np.asarray(times, np.float64) - float(times[0])
    slots = np.round(t * fps)
    m = max(1, int(round(duration_s * fps)))
    idx = np.searchsorted(slots, np.arange(m), side="right") - 1
    return np.clip(idx, 0, len(t) - 1)


def cropped_frames(video: str | Path, schedule: np.ndarray, crop: Crop | None) -> Iterator[np.ndarray]:
    """RGB frames of ``video`` in schedule order, cropped and scaled (or as decoded when ``crop`` is None)."""
    import av
    import cv2

    wanted = iter(schedule.tolist())
    want = next(wanted, None)
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for j, frame in enumerate(container.decode(stream)):
            if want is None:
                return
            if j < want:
                continue
            rgb: np.ndarray = frame.to_ndarray(format="rgb24")
            if crop is not None:
                part = rgb[crop.top:crop.top + crop.side, crop.left:crop.left + crop.side]
                shrink = crop.side > crop.size
                rgb = cv2.resize(part, (crop.size, crop.size),
                                 interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
            while want == j:
                yield rgb
                want = next(wanted, None)
    while want is not None:  # fewer decodable frames than annotated: repeat the last one
        yield rgb
        want = next(wanted, None)
