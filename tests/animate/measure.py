"""Measurements of a rendered talking video for the animate tests: face mesh per frame, mouth, sync, identity."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from talkset.audio.io import load_audio
from talkset.curate.config import Config
from talkset.curate.scores.sync import SyncAudio, sync_score
from talkset.vision.face import MOUTH_MEASURES, FaceDetector, FaceMesher, mouth_measures


@dataclass
class VideoMeasure:
    t: np.ndarray  # frame times, seconds
    mouth: np.ndarray  # (n, 5) mouth_measures per frame, NaN where no face was meshed
    found: np.ndarray  # (n,) bool: the face mesh found a face
    frames: list[np.ndarray]  # a few RGB frames (every ``keep_every``-th)
    fps: float


def measure_video(path: Path, keep_every: int = 25) -> VideoMeasure:
    """Meshes every frame of ``path`` as curate does (detector, then the mesh tracking in its crop)."""
    detector, mesher = FaceDetector(), FaceMesher()
    t, mouth, found, kept = [], [], [], []
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        fps = float(stream.average_rate)
        for i, frame in enumerate(c.decode(stream)):
            rgb = frame.to_ndarray(format="rgb24")
            boxes = detector(rgb) if i % 5 == 0 else None
            lm = mesher(rgb, boxes[0] if boxes else None)
            t.append(frame.time)
            found.append(lm is not None)
            mouth.append(mouth_measures(lm) if lm is not None else np.full(len(MOUTH_MEASURES), np.nan))
            if i % keep_every == 0:
                kept.append(rgb)
    detector.close()
    mesher.reset()
    return VideoMeasure(np.asarray(t), np.asarray(mouth, float), np.asarray(found), kept, fps)


def sync_of(path: Path, m: VideoMeasure) -> dict:
    """curate's weight-free sync score of the whole video against its own audio track, default config."""
    ana = Config().analysis
    audio = load_audio(path)
    end = m.t[-1] + 1 / m.fps
    return sync_score(m.t, m.mouth, SyncAudio.from_audio(audio), float(m.t[0]), float(end), m.fps,
                      max_lag=ana["sync_max_lag_frames"], lead_s=ana["sync_natural_lead_s"],
                      null_min_s=ana["sync_null_min_s"])
