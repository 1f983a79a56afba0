"""Per-clip pictures for the report: a JPEG thumbnail of the middle frame, a short looping WebP preview, and
the keypoints of the thumbnail frame (from the annotation npz) for the overlay.

One seek and a few seconds of decoding per clip, at low resolution.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
from PIL import Image

from talkset.errors import TalksetError, one_line
from talkset.media.frames import scaled_size, upright
from talkset.media.probe import open_media

THUMB_MAX_SIDE = 320
PREVIEW_MAX_SIDE = 128
PREVIEW_S = 3.0
PREVIEW_FPS = 6.0


class MediaError(TalksetError):
    """A video the report cannot take pictures from; one line naming the file."""


@dataclass
class Grab:
    """What one decode gives: the thumbnail, its time from the span's start, and preview frames."""

    thumb: Image.Image
    thumb_t: float
    preview: list[Image.Image] = field(default_factory=list)


def grab(path: str | Path, start_s: float | None, end_s: float | None, *, preview: bool = True) -> Grab:
    """Decodes the middle of a span of a video: its middle frame and ``PREVIEW_S`` seconds around it.

    Args:
        path: the video file.
        start_s: span start in seconds on the file's clock; None: the first frame.
        end_s: span end in seconds on the file's clock; None: the end of the stream.
        preview: also collect preview frames (at ``PREVIEW_FPS``, at most ``PREVIEW_MAX_SIDE`` pixels).

    Raises:
        MediaError: the file cannot be opened or has no decodable frame in the span.
    """
    container = open_media(path, MediaError)
    with container:
        if not container.streams.video:
            raise MediaError(f"{path}: no video stream")
        vs = container.streams.video[0]
        vs.thread_type = "AUTO"
        assert vs.time_base is not None  # PyAV gives None only for a 0/0 time base, which no demuxer leaves
        origin = float(vs.start_time * vs.time_base) if vs.start_time is not None else 0.0
        start = origin if start_s is None else start_s
        if end_s is None:
            dur = float(vs.duration * vs.time_base) if vs.duration else (container.duration or 0) / av.time_base
            end_s = origin + dur
        mid = (start + max(start, end_s)) / 2
        lo = max(start, mid - PREVIEW_S / 2) if preview else mid
        hi = min(max(end_s, start), mid + PREVIEW_S / 2) if preview else mid
        try:
            return _decode_window(container, vs, start, mid, lo, hi, preview)
        except av.FFmpegError as e:
            raise MediaError(f"{path}: cannot decode ({one_line(e)})") from None


def _decode_window(container, vs, start: float, mid: float, lo: float, hi: float, preview: bool) -> Grab:
    if lo > 0.5:
        container.seek(int(max(0.0, lo - 0.05) / vs.time_base), stream=vs, backward=True, any_frame=False)
    best = None  # (distance to mid, time, frame)
    frames: list[Image.Image] = []
    next_sample = lo
    for frame in container.decode(vs):
        if frame.time is None:
            continue
        t = float(frame.time)
        rot = int(round(getattr(frame, "rotation", 0) or 0)) % 360
        if best is None or abs(t - mid) < best[0]:
            best = (abs(t - mid), t, frame, rot)
        if preview and lo - 1e-3 <= t <= hi + 1e-3 and t >= next_sample - 1e-3:
            frames.append(_image(frame, rot, PREVIEW_MAX_SIDE, fast=True))
            next_sample += 1.0 / PREVIEW_FPS
        if t > hi and t > mid:
            break
    if best is None:
        raise MediaError(f"{getattr(container, 'name', '?')}: no decodable frame near {mid:.2f} s")
    _, t, frame, rot = best
    return Grab(_image(frame, rot, THUMB_MAX_SIDE), t - start, frames)


def _image(frame: av.VideoFrame, rotation_deg: int, max_side: int, fast: bool = False) -> Image.Image:
    """The frame as an upright RGB picture; ``fast``: bilinear scaling (previews are small and brief)."""
    w, h = scaled_size(frame.width, frame.height, max_side)
    rgb = frame.to_ndarray(width=w, height=h, format="rgb24", interpolation="FAST_BILINEAR" if fast else "AREA")
    return Image.fromarray(upright(rgb, rotation_deg))


def jpeg_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def webp_bytes(frames: list[Image.Image]) -> bytes:
    """An animated, looping WebP; ``method=0`` because encoding speed matters more than size here."""
    buf = io.BytesIO()
    frames[0].save(buf, format="WEBP", save_all=True, append_images=frames[1:], duration=int(1000 / PREVIEW_FPS),
                   loop=0, quality=60, method=0)
    return buf.getvalue()


@dataclass
class FramePoints:
    """The keypoints of one annotation frame, in clip pixels; absent parts are None."""

    size: tuple[int, int]
    t: float
    face: list | None
    body: list | None
    hands: list | None
    head_pose: tuple[float, float, float] | None  # median pitch, yaw, roll over the clip, degrees

    def to_json(self) -> dict:
        return {"size": list(self.size), "t": round(self.t, 3), "face": self.face, "body": self.body,
                "hands": self.hands}


def keypoints_at(npz_path: str | Path, t_s: float) -> FramePoints:
    """Reads an annotation file (see annot.md) and returns the points of the frame nearest ``t_s``.

    Args:
        npz_path: ``annotations/{id}.npz``.
        t_s: seconds from the clip's start (the thumbnail's time).

    Raises:
        MediaError: the file is missing or lacks the ``t``/``size`` arrays.
    """
    try:
        with np.load(npz_path) as z:
            t = np.asarray(z["t"], dtype=np.float64)
            size = (int(z["size"][0]), int(z["size"][1]))
            if not len(t):
                raise MediaError(f"{npz_path}: no frames")
            i = int(np.argmin(np.abs(t - t_s)))
            face = _points(z, "face", i, 2)
            body = _points(z, "body", i, 3)  # x, y, visibility
            hands = None
            if "hands" in z.files:
                hands = [_rows(np.asarray(z["hands"][i, k], dtype=np.float32)[:, :2]) for k in range(2)]
                hands = hands if any(h is not None for h in hands) else None
            pose = None
            if "head_pose" in z.files:
                hp = np.asarray(z["head_pose"], dtype=np.float64)
                ok = np.isfinite(hp).all(axis=1)
                if ok.any():
                    pitch, yaw, roll = (float(v) for v in np.median(hp[ok], axis=0))
                    pose = (pitch, yaw, roll)
    except (OSError, KeyError, ValueError, IndexError) as e:
        raise MediaError(f"{npz_path}: unreadable annotations ({one_line(e)})") from None
    return FramePoints(size, float(t[i]), face, body, hands, pose)


def _points(z, key: str, i: int, ncols: int) -> list | None:
    if key not in z.files:
        return None
    arr = np.asarray(z[key][i], dtype=np.float32)
    if key == "body":
        arr = arr[:, [0, 1, 3]] if arr.shape[1] >= 4 else arr[:, :2]
    return _rows(arr[:, :ncols])


def _rows(arr: np.ndarray) -> list | None:
    """Points as rounded lists; a NaN point becomes None; all NaN: None."""
    ok = np.isfinite(arr).all(axis=1)
    if not ok.any():
        return None
    return [[round(float(v), 1) for v in row] if good else None for row, good in zip(arr, ok)]
