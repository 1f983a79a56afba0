"""Curate's weight-free sync scorer applied to a whole generated video and its driving audio.

The mouth comes from bench's face track (``metrics.FaceMesh``, the per-image mesh every metric shares), so a
video meshed once for LMD and jitter gives its sync mouth curve for free.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from talkset.audio.io import Audio
from talkset.bench.metrics import FaceTrack, face_track
from talkset.curate.config import Config
from talkset.curate.scores.sync import SyncAudio, sync_score
from talkset.media.probe import probe
from talkset.vision.face import MOUTH_MEASURES, FaceDetector, FaceMesher, mouth_measures


def sync_audio(audio: Audio) -> SyncAudio:
    """The audio side of the scorer, with curate's configured views."""
    return SyncAudio.from_audio(audio, phones=Config.load().analysis["sync_phones"])


def mouth_series(face: FaceTrack) -> np.ndarray:
    """(n, 5) ``mouth_measures`` of every frame of the track; NaN rows where no face."""
    out = np.full((len(face.t), len(MOUTH_MEASURES)), np.nan)
    for i, pts in enumerate(face.points):
        if np.isfinite(face.io[i]):
            out[i] = mouth_measures(pts)
    return out


def track_sync(face: FaceTrack, audio: SyncAudio, fps: float, lead_s: float | None = None) -> dict:
    """Offset (frames, relative to the natural lead of lips over sound) and confidence of a face track.

    Args:
        face: the video's face track (times on the container clock, the audio's).
        audio: its driving audio (``sync_audio``).
        fps: the video's nominal frame rate; offsets are in these frames.
        lead_s: natural lead in seconds (default: curate's configured one).
    """
    cfg = Config.load().analysis
    lead_s = cfg["sync_natural_lead_s"] if lead_s is None else lead_s
    t = face.t
    end = float(t[-1]) + 1 / fps if len(t) else 0.0
    return sync_score(t, mouth_series(face), audio, float(t[0]) if len(t) else 0.0, end, fps,
                      max_lag=cfg["sync_max_lag_frames"], lead_s=lead_s, null_min_s=cfg["sync_null_min_s"])


def weightfree_sync(path: str | Path, audio: Audio, detector: FaceDetector | None = None,
                    mesher: FaceMesher | None = None, lead_s: float | None = None) -> dict:
    """Offset (frames, relative to the natural lead of lips over sound) and confidence of a whole video.

    Args:
        path: the video.
        audio: its driving audio (16 kHz mono), on the video's clock.
        detector: face detector backend (a new one when None).
        mesher: face mesh backend; bench's track is per image (``FaceMesher(tracking=False)``, the default
            when None), which is what ``bench eval`` measures.
        lead_s: natural lead in seconds (default: curate's configured one).
    """
    face = face_track(path, detector, mesher)
    return track_sync(face, sync_audio(audio), float(probe(path).fps), lead_s)
