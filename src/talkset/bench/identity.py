"""Identity preservation of a generated video: how close its face stays to a reference portrait."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from talkset.media.frames import decode_frames
from talkset.media.probe import probe
from talkset.vision.identity import SAME_PERSON_DISTANCE, FaceEmbedder, cosine_similarity, distance


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
    ref = embedder.embed(reference_rgb)
    if ref is None:
        raise ValueError("no face found in the reference image")
    rotation = probe(video_path).rotation_deg
    dists, sims, missing = [], [], 0
    for view in decode_frames(video_path, rotation, work_max_side=max_side, shot_max_side=max_side):
        if view.index % every_n_frames:
            continue
        emb = embedder.embed(view.work_rgb)
        if emb is None:
            missing += 1
            continue
        dists.append(distance(ref, emb))
        sims.append(cosine_similarity(ref, emb))
    d = np.asarray(dists)
    return {"mean_distance": float(d.mean()) if d.size else float("nan"),
            "mean_cosine_similarity": float(np.mean(sims)) if sims else float("nan"),
            "frames": int(d.size), "frames_without_face": missing,
            "same_person_fraction": float((d < SAME_PERSON_DISTANCE).mean()) if d.size else float("nan")}
