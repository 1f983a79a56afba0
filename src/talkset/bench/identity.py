"""Identity preservation of a generated video: how close its face stays to a reference portrait."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from talkset.media.frames import FrameView, decode_frames
from talkset.media.probe import probe
from talkset.vision.face import FaceBox
from talkset.vision.identity import SAME_PERSON_DISTANCE, FaceEmbedder, cosine_similarity, distance


class Identity:
    """Frame consumer of ``identity_similarity``: ``process_frame(view)`` per frame, ``finish()`` → the dict.

    Args:
        reference: the reference face's descriptor (``FaceEmbedder.embed``).
        embedder: the descriptor models (loaded once, reused).
        every_n_frames: stride between scored frames.
        max_side: frames are scaled down to this longer side first.
        faces: ``(view, max_side) -> boxes`` (``talkset.bench.metrics.FaceFinder``) to share the stream's
            detections; without it the embedder finds the faces itself.
    """

    def __init__(self, reference: np.ndarray, embedder: FaceEmbedder, every_n_frames: int = 5,
                 max_side: int = 1280, faces: Callable[[FrameView, int], list[FaceBox]] | None = None):
        if every_n_frames < 1:
            raise ValueError("every_n_frames must be at least 1")
        self.reference = reference
        self.embedder = embedder
        self.every_n_frames = every_n_frames
        self.max_side = max_side
        self.faces = faces
        self.dists: list[float] = []
        self.sims: list[float] = []
        self.missing = 0

    def process_frame(self, view: FrameView) -> None:
        if view.index % self.every_n_frames:
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


def identity_similarity(reference_rgb: np.ndarray, video_path: str | Path, every_n_frames: int = 5,
                        embedder: FaceEmbedder | None = None, max_side: int = 1280) -> dict:
    """Compares the largest face of every ``every_n_frames``-th frame with the reference face.

    Args:
        reference_rgb: the reference image (RGB uint8), e.g. the source portrait of a generated clip.
        video_path: the video to score.
        every_n_frames: stride between scored frames (1 scores every frame).
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
    if every_n_frames < 1:
        raise ValueError("every_n_frames must be at least 1")
    embedder = embedder or FaceEmbedder()
    consumer = Identity(reference_embedding(reference_rgb, embedder), embedder, every_n_frames, max_side)
    for view in decode_frames(video_path, probe(video_path).rotation_deg, work_max_side=max_side,
                              shot_max_side=max_side):
        consumer.process_frame(view)
    return consumer.finish()
