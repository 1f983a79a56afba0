"""Curate's weight-free sync scorer applied to a whole generated video and its driving audio."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from talkset.audio.io import Audio
from talkset.curate.analyze import FaceConsumer
from talkset.curate.config import Config
from talkset.curate.scores.sync import av_offset
from talkset.media.frames import decode_frames
from talkset.media.probe import probe
from talkset.vision.face import FaceDetector, FaceMesher


def mouth_series(path: str | Path, detector: FaceDetector, mesher: FaceMesher) -> tuple[np.ndarray, np.ndarray, float]:
    """Mouth shape of every frame (curate's measure) → (times, (n, 3) mouth, nominal fps)."""
    info = probe(path)
    cfg = Config.load().analysis
    faces = FaceConsumer(detector, mesher, [(-np.inf, np.inf)], cfg["face_sample_fps"])
    mesher.reset()
    for view in decode_frames(path, info.rotation_deg, cfg["work_max_side"], cfg["shot_max_side"]):
        faces.process_frame(view)
    series, _ = faces.result()
    return series["t"], series["mouth"], float(info.fps)


def weightfree_sync(path: str | Path, audio: Audio, detector: FaceDetector, mesher: FaceMesher,
                    lead_s: float | None = None) -> dict:
    """Offset (frames, relative to the natural lead of lips over sound) and confidence of a whole video.

    Args:
        path: the video.
        audio: its driving audio (16 kHz mono), on the video's clock.
        detector: face detector backend.
        mesher: face mesh backend.
        lead_s: natural lead in seconds (default: curate's configured one).
    """
    t, mouth, fps = mouth_series(path, detector, mesher)
    if lead_s is None:
        lead_s = Config.load().analysis["sync_natural_lead_s"]
    if not len(t):
        return av_offset(t, mouth, audio.samples, audio.start_s, audio.sr, 0.0, 0.0, fps, lead_s=lead_s)
    return av_offset(t, mouth, audio.samples, audio.start_s, audio.sr, float(t[0]), float(t[-1]) + 1 / fps, fps,
                     lead_s=lead_s)
