"""The motion track: the one contract between motion sources (audio, driving video) and the renderer.

Every field is one value per output frame. Expression values are unitless and relative to the portrait's rest
face, so one track drives any portrait; head pose is in degrees and offsets are in face widths.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


@dataclass
class MotionTrack:
    """Per-frame motion at ``fps`` frames per second; all arrays have the same first dimension N.

    Attributes:
        fps: Frames per second of the output video.
        jaw: (N,) mouth opening, 0 closed (lips touching) to 1 wide open (as a shouted "ah").
        lip_width: (N,) -1 narrow/puckered to 1 spread (a smile, "ee"); 0 at rest.
        lip_round: (N,) 0 neutral to 1 rounded and protruded ("oo", "w").
        blink: (N, 2) eyelid closure of the subject's left and right eye, 0 open to 1 closed.
        brow: (N,) eyebrow raise, 0 rest to 1 fully raised.
        head: (N, 3) pitch, yaw, roll in degrees, relative to the portrait's pose.
        offset: (N, 2) head translation (x right, y down) in face widths, relative to the portrait.
        scale: (N,) head size relative to the portrait's (1 = unchanged).
        gaze: (N, 2) eye direction, x right and y down, -1 to 1 (1 = iris at the eye corner).
    """

    fps: float
    jaw: np.ndarray
    lip_width: np.ndarray
    lip_round: np.ndarray
    blink: np.ndarray
    brow: np.ndarray
    head: np.ndarray
    offset: np.ndarray
    scale: np.ndarray
    gaze: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.jaw)
        for f in fields(self):
            if f.name == "fps":
                continue
            value = np.asarray(getattr(self, f.name), dtype=np.float32)
            if len(value) != n:
                raise ValueError(f"MotionTrack.{f.name} has {len(value)} frames, jaw has {n}")
            setattr(self, f.name, value)

    def __len__(self) -> int:
        return len(self.jaw)

    @classmethod
    def rest(cls, n_frames: int, fps: float = 25.0) -> MotionTrack:
        """A still face: mouth closed, eyes open, head at the portrait's pose."""
        def z():  # each field its own array: tracks are edited in place
            return np.zeros(n_frames, np.float32)

        return cls(fps=fps, jaw=z(), lip_width=z(), lip_round=z(), blink=np.zeros((n_frames, 2), np.float32), brow=z(),
                   head=np.zeros((n_frames, 3), np.float32), offset=np.zeros((n_frames, 2), np.float32),
                   scale=np.ones(n_frames, np.float32), gaze=np.zeros((n_frames, 2), np.float32))

    def slice(self, start: int, stop: int) -> MotionTrack:
        """Frames [start, stop), for streaming a long track in chunks."""
        return MotionTrack(self.fps, **{f.name: getattr(self, f.name)[start:stop]
                                        for f in fields(self) if f.name != "fps"})
