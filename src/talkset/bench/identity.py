"""Identity preservation of a generated video: how close its face stays to a reference portrait."""
from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from talkset.media.frames import FrameView, decode_frames
from talkset.media.probe import probe
from talkset.vision.face import FaceBox
from talkset.vision.identity import SAME_PERSON_DISTANCE, FaceEmbedder, cosine_similarity, distance

# Seconds between scored frames. dlib's descriptor costs ~0.1 s a face on one core here (the wheel has no BLAS),
# the largest single cost of a bench clip when every 5th frame was scored. A talking head's descriptor barely
# moves within a second: on shared/media/generated the clip mean at one frame every 0.4 s stays within 0.0004
# cosine of the every-frame mean (every 5th frame: 0.0007, every 0.5 s: 0.0010; the closest two models differ by
# 0.0014; benchmarks/bench_sampling.py).
IDENTITY_INTERVAL_S = 0.4
_EPS_T = 1e-6  # seconds; timestamp rounding slack


class EveryInterval:
    """``due(t)`` is true for the first frame at or after each multiple of ``interval_s`` from the first frame
    (times in seconds, rising); 0 takes every frame. A gap longer than the interval skips the samples in it."""

    def __init__(self, interval_s: float):
        if interval_s < 0:
            raise ValueError("interval_s must not be negative")
        self.interval_s = interval_s
        self._t0: float | None = None
        self._next_s = 0.0  # the next sample's time from the first frame

    def due(self, t: float) -> bool:
        if self._t0 is None:
            self._t0 = t
        rel = t - self._t0
        if rel + _EPS_T < self._next_s:
            return False
        if self.interval_s > 0:
            self._next_s = (math.floor((rel + _EPS_T) / self.interval_s) + 1) * self.interval_s
        return True


class Identity:
    """Frame consumer of ``identity_similarity``: ``process_frame(view)`` per frame, ``finish()`` → the dict.

    Scores a frame every ``interval_s`` seconds (``EveryInterval``), so the sampling follows time, not the
    frame rate: two renderings of one clip at 22 and 30 fps are scored at the same moments.

    Args:
        reference: the reference face's descriptor (``FaceEmbedder.embed``).
        embedder: the descriptor models (loaded once, reused).
        interval_s: seconds between scored frames; 0 scores every frame.
        max_side: frames are scaled down to this longer side first.
        faces: ``(view, max_side) -> boxes`` (``talkset.bench.metrics.FaceFinder``) to share the stream's
            detections; without it the embedder finds the faces itself.
    """

    def __init__(self, reference: np.ndarray, embedder: FaceEmbedder, interval_s: float = IDENTITY_INTERVAL_S,
                 max_side: int = 1280, faces: Callable[[FrameView, int], list[FaceBox]] | None = None):
        self.sample = EveryInterval(interval_s)
        self.reference = reference
        self.embedder = embedder
        self.max_side = max_side
        self.faces = faces
        self.dists: list[float] = []
        self.sims: list[float] = []
        self.missing = 0

    def process_frame(self, view: FrameView) -> None:
        if not self.sample.due(view.t):
            return
        rgb = view.rgb(self.max_side)
        if self.faces is None:
            emb = self.embedder.embed(rgb)
        else:
            boxes = self.faces(view, self.max_side)
            emb = self.embedder.embed(rgb, boxes[0]) if boxes else None
        if emb is None:
            self.missing += 1
            return
        self.dists.append(distance(self.reference, emb))
        self.sims.append(cosine_similarity(self.reference, emb))

    def finish(self) -> dict:
        d = np.asarray(self.dists)
        return {"mean_distance": float(d.mean()) if d.size else float("nan"),
                "mean_cosine_similarity": float(np.mean(self.sims)) if self.sims else float("nan"),
                "frames": int(d.size), "frames_without_face": self.missing,
                "same_person_fraction": float((d < SAME_PERSON_DISTANCE).mean()) if d.size else float("nan")}


def reference_embedding(reference_rgb: np.ndarray, embedder: FaceEmbedder) -> np.ndarray:
    """The reference image's face descriptor.

    Raises:
        ValueError: no face in the reference image.
    """
    ref = embedder.embed(reference_rgb)
    if ref is None:
        raise ValueError("no face found in the reference image")
    return ref


def identity_similarity(reference_rgb: np.ndarray, video_path: str | Path,
                        interval_s: float = IDENTITY_INTERVAL_S, embedder: FaceEmbedder | None = None,
                        max_side: int = 1280) -> dict:
    """Compares the largest face of a frame every ``interval_s`` seconds with the reference face.

    Args:
        reference_rgb: the reference image (RGB uint8), e.g. the source portrait of a generated clip.
        video_path: the video to score.
        interval_s: seconds between scored frames (``Identity``); 0 scores every frame.
        embedder: reused across calls to keep the models loaded; a new one when None.
        max_side: frames are scaled down to this longer side first (upscaled 1408-pixel outputs gain
            nothing above it and cost detection time).

    Returns:
        ``mean_distance`` (Euclidean, dlib convention), ``mean_cosine_similarity``, ``frames`` (frames
        with a face that were scored), ``frames_without_face``, and ``same_person_fraction``: the share
        of scored frames closer than ``SAME_PERSON_DISTANCE``. Means are NaN when no frame had a face.

    Raises:
        ValueError: no face in the reference image.
    """
    embedder = embedder or FaceEmbedder()
    consumer = Identity(reference_embedding(reference_rgb, embedder), embedder, interval_s, max_side)
    for view in decode_frames(video_path, probe(video_path).rotation_deg, work_max_side=max_side,
                              shot_max_side=max_side):
        consumer.process_frame(view)
    return consumer.finish()
