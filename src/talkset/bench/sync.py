"""Curate's weight-free sync scorer applied to a whole generated video and its driving audio."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from talkset.audio.io import Audio
from talkset.curate.analyze import FaceConsumer
from talkset.curate.config import Config
from talkset.curate.scores.sync import SyncAudio, sync_score
from talkset.media.frames import decode_frames
from talkset.media.probe import probe
from talkset.vision.face import FaceDetector, FaceMesher


def mouth_series(path: str | Path, detector: FaceDetector, mesher: FaceMesher) -> tuple[np.ndarray, np.ndarray, float]:
    """Mouth measures of every frame (curate's ``mouth_measures``) → (times, (n, 5) mouth, nominal fps)."""
    info = probe(path)
    cfg = Config.load().analysis
    faces = FaceConsumer(detector, mesher, [(-np.inf, np.inf)], cfg["face_sample_fps"], cfg["face_search_fps"])
    mesher.reset()
    for view in decode_frames(path, info.rotation_deg, cfg["work_max_side"], cfg["shot_max_side"]):
        faces.process_frame(view)
    series = faces.finish(np.inf).faces
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
    cfg = Config.load().analysis
    lead_s = cfg["sync_natural_lead_s"] if lead_s is None else lead_s
    end = float(t[-1]) + 1 / fps if len(t) else 0.0
    return sync_score(t, mouth, SyncAudio.from_audio(audio, phones=cfg["sync_phones"]), float(t[0]) if len(t) else 0.0,
                      end, fps, max_lag=cfg["sync_max_lag_frames"], lead_s=lead_s, null_min_s=cfg["sync_null_min_s"])
