"""One decode per video: a generated clip and its reference are read once, side by side, and every per-clip
metric is a consumer of those frames or a function of what the consumers return.

The two streams advance together by presentation time (``metrics.paired_views``), so the full-reference
metrics see each prediction frame beside its nearest reference frame while at most two reference frames are
held. Each stream is meshed once (``metrics.FaceMesh``); LMD, jitter and the sync mouth curves are computed
from those tracks afterwards, and sharpness measures inside each frame's mesh box. Face detections (the mesh's
every 10 frames, identity's every 0.4 s) are shared within a stream wherever both look at the same image
(``metrics.FaceFinder``). A ``ReferenceCache`` carries a reference's own results (its mesh, portrait and sync)
over to the next prediction scored against it, so several models cost one reference mesh.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from talkset.bench.identity import Identity, reference_embedding
from talkset.bench.metrics import (
    FULL_RES,
    FaceFinder,
    FaceMesh,
    FaceTrack,
    Fidelity,
    Sharpness,
    decode_video,
    pair_pixels,
    paired_views,
    timed_views,
)
from talkset.media.frames import FrameView, upright
from talkset.media.probe import VideoInfo
from talkset.vision.face import FaceDetector, FaceMesher
from talkset.vision.identity import FaceEmbedder


def portrait_rgb(view: FrameView) -> np.ndarray:
    """A frame as the identity reference portrait: full resolution, swscale's RGB, upright."""
    return upright(view.frame.to_ndarray(format="rgb24"), view.rotation_deg)


class Portrait:
    """Reference-stream consumer: the identity descriptor of the reference's first frame."""

    def __init__(self, embedder: FaceEmbedder):
        self.embedder = embedder
        self.embedding: np.ndarray | None = None
        self.error: str | None = None
        self._seen = False

    def process_frame(self, view: FrameView) -> None:
        if self._seen:
            return
        self._seen = True
        try:
            self.embedding = reference_embedding(portrait_rgb(view), self.embedder)
        except ValueError as e:  # no face in the reference's first frame: only identity is missing
            self.error = str(e)


@dataclass
class PairResults:
    """What the single pass over a prediction and its reference gives the metrics."""

    pred_face: FaceTrack
    ref_face: FaceTrack
    fidelity: dict
    sharpness: float
    identity: dict | None      # None when the reference's first frame has no face
    identity_error: str | None


@dataclass
class ReferenceSide:
    """What a reference's own frames give the pass, the same whichever prediction meets it."""

    face: FaceTrack
    portrait: np.ndarray | None  # the first frame's identity descriptor; None when it has no face
    portrait_error: str | None


class ReferenceCache:
    """Reference results kept across predictions, so several models scored against one benchmark in one
    process mesh (and phone-recognise) each reference once; the reference is still decoded for fidelity.

    Entries are keyed by kind and by the files' resolved paths, sizes and modification times, so a rewritten
    file is measured again. Mesh points are kept as float32, what the mesh gives (``FaceMesher``), so the
    float64 track handed back is the one first measured, at half the memory (~0.5 MB per 5 s at 25 fps).
    """

    def __init__(self) -> None:
        self._entries: dict[tuple, Any] = {}
        self.hits = 0

    @staticmethod
    def _key(kind: str, paths: tuple[Path, ...]) -> tuple:
        def one(p: Path) -> tuple:
            st = p.stat()
            return str(p.resolve()), st.st_size, st.st_mtime_ns

        return (kind, *(one(Path(p)) for p in paths))

    def get(self, kind: str, *paths: Path) -> Any:
        """The value stored for ``kind`` of these files, or None."""
        value = self._entries.get(self._key(kind, paths))
        if value is not None:
            self.hits += 1
        if isinstance(value, ReferenceSide):
            f = value.face
            value = ReferenceSide(FaceTrack(f.t, f.points.astype(np.float64), f.io), value.portrait,
                                  value.portrait_error)
        return value

    def put(self, kind: str, value: Any, *paths: Path) -> None:
        if isinstance(value, ReferenceSide):
            f = value.face
            value = ReferenceSide(FaceTrack(f.t, f.points.astype(np.float32), f.io), value.portrait,
                                  value.portrait_error)
        self._entries[self._key(kind, paths)] = value


@dataclass
class Backends:
    """Models loaded once for a whole evaluation; each stream has its own mesher (a mesher holds a crop)."""

    detector: FaceDetector
    pred_mesher: FaceMesher
    ref_mesher: FaceMesher
    embedder: FaceEmbedder

    @classmethod
    def create(cls) -> Backends:
        return cls(FaceDetector(), FaceMesher(tracking=False, refine=True), FaceMesher(tracking=False, refine=True),
                   FaceEmbedder())


def score_pair(pred: Path, ref: Path, pred_info: VideoInfo, ref_info: VideoInfo, backends: Backends,
               references: ReferenceCache | None = None) -> PairResults:
    """Decodes ``pred`` and ``ref`` once each, feeding every frame to the per-clip metrics' consumers.

    Args:
        pred: the generated video.
        ref: its reference video.
        pred_info: ``probe(pred)``.
        ref_info: ``probe(ref)``.
        backends: the evaluation's models.
        references: reference results from earlier predictions; the reference's mesh and portrait are taken
            from it when there, and stored in it otherwise.
    """
    known: ReferenceSide | None = references.get("pass", ref) if references is not None else None
    pred_faces, ref_faces = FaceFinder(backends.detector), FaceFinder(backends.detector)
    pred_mesh, ref_mesh = FaceMesh(pred_faces, backends.pred_mesher), FaceMesh(ref_faces, backends.ref_mesher)
    portrait = Portrait(backends.embedder)
    if known is not None:
        portrait.embedding, portrait.error = known.portrait, known.portrait_error
    sharp, fidelity = Sharpness(pred_mesh), Fidelity()
    identity: Identity | None = None
    unmatched = 0

    def on_ref(view: FrameView) -> None:
        ref_mesh.process_frame(view)
        portrait.process_frame(view)

    pred_views = timed_views(decode_video(pred, FULL_RES, pred_info.rotation_deg))
    ref_views = timed_views(decode_video(ref, FULL_RES, ref_info.rotation_deg))
    try:
        for _t, view, ref_view in paired_views(pred_views, ref_views, ref_name=ref,
                                               on_ref=on_ref if known is None else None):
            # The reference's first frame is read before the first pair, so the portrait is ready here.
            if identity is None and portrait.embedding is not None:
                identity = Identity(portrait.embedding, backends.embedder, faces=pred_faces)
            pred_mesh.process_frame(view)
            sharp.process_frame(view)  # measures inside the box of the mesh just made
            if identity is not None:
                identity.process_frame(view)
            if ref_view is None:
                unmatched += 1
            else:
                fidelity.add(*pair_pixels(view, ref_view))
    finally:
        backends.pred_mesher.reset()
        backends.ref_mesher.reset()
    side = known or ReferenceSide(ref_mesh.finish(), portrait.embedding, portrait.error)
    if references is not None and known is None:
        references.put("pass", side, ref)
    return PairResults(pred_face=pred_mesh.finish(), ref_face=side.face, fidelity=fidelity.result(unmatched),
                       sharpness=sharp.finish(), identity=identity.finish() if identity is not None else None,
                       identity_error=side.portrait_error)
