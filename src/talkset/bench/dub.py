"""Scores of a dub against its source video: sync to the new speech, the rest of the frame kept, identity kept.

* ``sync``: curate's weight-free scorer (``talkset.bench.sync.weightfree_sync``) on the dub with the new
  speech, and with the source's own audio (which a good dub must no longer match).
* ``psnr_outside_db``: PSNR over the pixels outside the *lower face* of each source frame, pooled over frames
  (the total squared error over the total pixel count). The lower face is defined here from the source's
  own face mesh, independently of the dub's warp: everything below the line through the nose tip (across
  the face's own axis) that lies within the face oval's lower half scaled by ``LOWER_FACE_SCALE`` about the
  mouth centre.
* ``identity``: dlib face-descriptor distance (``talkset.vision.identity``) between each scored dub frame and
  the source frame it was made from (every ``every_n``-th frame).

Frames are paired by index through the dub's length policy (``talkset.animate.dub.source_index``).
"""
from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np

from talkset.animate.rig import FACE_OVAL, FaceFrame

LOWER_FACE_SCALE = 1.6
NOSE_TIP = 1


def lower_face_mask(lm: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(h, w) bool: the lower face of a frame with mesh ``lm`` (see the module doc)."""
    f = FaceFrame.of(lm)
    u, v = f.local(lm)
    oval = np.array(FACE_OVAL)
    low = oval[v[oval] > v[NOSE_TIP]]
    ring_u, ring_v = u[low] * LOWER_FACE_SCALE, v[low] * LOWER_FACE_SCALE
    ring_v = np.maximum(ring_v, v[NOSE_TIP])
    poly_u = np.concatenate([ring_u, [ring_u.max(), ring_u.min()]])
    poly_v = np.concatenate([ring_v, [v[NOSE_TIP], v[NOSE_TIP]]])
    order = np.argsort(np.arctan2(poly_v - 0.5 * v[NOSE_TIP], poly_u))
    pts = f.origin + np.outer(poly_u[order], f.ex) * f.unit_px + np.outer(poly_v[order], f.ey) * f.unit_px
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1)
    return mask.astype(bool)


def _frames(path: Path):
    with av.open(str(path)) as c:
        for frame in c.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def frame_scores(source: str | Path, dubbed: str | Path, *, fit: str = "pingpong", every_n: int = 5) -> dict:
    """PSNR outside the lower face (every frame) and identity distance (every ``every_n``-th frame).

    Returns:
        ``psnr_outside_db`` (pooled over frames), ``psnr_outside_min_db`` (the worst frame),
        ``identity_mean`` / ``identity_max`` (dlib distances, dub frame vs its source frame),
        ``frames`` (scored for PSNR), ``frames_without_face``.
    """
    from talkset.animate.dub import source_index
    from talkset.vision.face import FaceDetector, FaceMesher
    from talkset.vision.identity import FaceEmbedder, distance

    src = list(_frames(Path(source)))  # the sources scored here are seconds long
    detector, mesher = FaceDetector(), FaceMesher(tracking=False, refine=True)
    embedder = FaceEmbedder()
    masks: dict[int, np.ndarray | None] = {}
    sse = count = 0.0
    worst = np.inf
    dists = []
    frames = no_face = 0
    try:
        for j, out in enumerate(_frames(Path(dubbed))):
            s = source_index(j, len(src), fit)
            ref = src[s]
            h, w = out.shape[:2]
            ref = ref[:h, :w]
            if s not in masks:
                boxes = detector(ref)
                lm = mesher(ref, boxes[0]) if boxes else None
                mesher.reset()
                masks[s] = lower_face_mask(lm, (h, w)) if lm is not None and len(lm) == 478 else None
            mask = masks[s]
            if mask is None:
                no_face += 1
                continue
            keep = ~mask
            err = (out.astype(np.float64) - ref.astype(np.float64))[keep] ** 2
            sse += float(err.sum())
            count += err.size
            worst = min(worst, _psnr(float(err.mean())))
            frames += 1
            if j % every_n == 0:
                a, b = embedder.embed(ref), embedder.embed(out)
                if a is not None and b is not None:
                    dists.append(distance(a, b))
    finally:
        detector.close()
        mesher.reset()
    nan = float("nan")
    return {"psnr_outside_db": _psnr(sse / count) if count else nan,
            "psnr_outside_min_db": float(worst) if frames else nan,
            "identity_mean": float(np.mean(dists)) if dists else nan,
            "identity_max": float(np.max(dists)) if dists else nan,
            "frames": frames, "frames_without_face": no_face}


def _psnr(mse: float) -> float:
    from talkset.bench.metrics import PSNR_CAP_DB

    return PSNR_CAP_DB if mse <= 0 else min(PSNR_CAP_DB, 10 * np.log10(255.0 ** 2 / mse))


def sync_scores(dubbed: str | Path, new_audio: str | Path, original_audio: str | Path) -> dict:
    """curate's sync score of the dub with the new speech (``new``) and with the source's audio (``original``)."""
    from talkset.audio.io import load_audio
    from talkset.bench.sync import weightfree_sync
    from talkset.vision.face import FaceDetector, FaceMesher

    detector, mesher = FaceDetector(), FaceMesher()
    try:
        return {"new": weightfree_sync(dubbed, load_audio(new_audio), detector, mesher),
                "original": weightfree_sync(dubbed, load_audio(original_audio), detector, mesher)}
    finally:
        detector.close()
        mesher.reset()
