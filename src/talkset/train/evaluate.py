"""Scoring motion without rendering: predicted mouth motion against a clip's own annotated motion.

All comparisons are in the canonical face space (``canonical``: pose and size removed, unit = inter-ocular
distance), on the clip's own frames, against its own rest face. Motion sources are compared the way ``animate``
uses them: a MotionTrack is put on the clip's rest face by the portrait rig (``RigProjection.displacements``),
so the rule-based motion and the learned model go through the same rig. Beside them:

* ``motion_lmd_mesh``: the model's mesh output before the rig (what the network itself predicts);
* ``still_motion_lmd``: the rest face on every frame (no motion at all), the floor any motion must beat;
* ``rig_ceiling_lmd``: the annotation projected onto the rig's shapes: the best any MotionTrack can score here.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from talkset.animate.track import MotionTrack
from talkset.train.canonical import mouth_lmd
from talkset.train.data import ClipSource, DataError, _load_audio, clip_truth, folder_sources
from talkset.train.model import MotionModel, RigProjection

log = logging.getLogger("talkset.train")

# metric → higher is better (all distances: lower is better)
MOTION_METRICS = {"motion_lmd": False, "rules_motion_lmd": False, "motion_lmd_mesh": False,
                  "still_motion_lmd": False, "rig_ceiling_lmd": False}


def _at(track: MotionTrack, proj: RigProjection, t: np.ndarray) -> np.ndarray:
    """The rig's displacements for a track, read at the annotation times (nearest frame)."""
    disp = proj.displacements(track)
    idx = np.clip(np.round(t * track.fps).astype(int), 0, len(track) - 1)
    return disp[idx]


def score_motion(src: ClipSource, model: MotionModel | None, *, rules: bool = True, vad=None) -> dict[str, Any]:
    """Mouth LMD of each motion source on one clip (see the module docstring); keys of ``MOTION_METRICS``.

    Raises:
        DataError: unreadable annotations or audio.
    """
    from talkset.audio.io import AudioError

    truth = clip_truth(src)
    try:
        audio = _load_audio(src)
    except AudioError as e:
        raise DataError(str(e)) from None
    t, true, valid = truth["t"], truth["disp"], truth["valid"]
    fps = float(1.0 / np.median(np.diff(t))) if len(t) > 1 else 25.0
    n = int(math.floor(t[-1] * fps + 1e-6)) + 1
    proj = RigProjection(truth["rest"])
    row: dict[str, Any] = {"frames": int(valid.sum()), "fps": round(fps, 3)}
    row["still_motion_lmd"] = mouth_lmd(np.zeros_like(true), true, valid)
    row["rig_ceiling_lmd"] = mouth_lmd(proj.reconstruct(np.where(np.isfinite(true), true, 0)), true, valid)
    if model is not None:
        disp, _ = model.predict(audio, t)
        row["motion_lmd_mesh"] = mouth_lmd(disp, true, valid)
        row["motion_lmd"] = mouth_lmd(_at(model.motion(audio, fps=fps, n_frames=n), proj, t), true, valid)
    if rules:
        from talkset.animate.motion import motion_from_audio

        lang = (src.metadata or {}).get("language")
        track = motion_from_audio(audio, fps=fps, language=lang, vad=vad)
        row["rules_motion_lmd"] = mouth_lmd(_at(track, proj, t), true, valid)
    return row


def score_sources(srcs: Iterable[ClipSource], model: MotionModel | None, *, rules: bool = True,
                  dims: Iterable[str] = (), progress: bool = True) -> list[dict[str, Any]]:
    """One row per clip: id, speaker, the ``dims`` metadata, and ``score_motion``'s metrics (or ``error``)."""
    from tqdm import tqdm

    vad = None
    if rules:
        from talkset.audio.vad import SileroVAD

        vad = SileroVAD()
    srcs = list(srcs)
    rows = []
    for src in tqdm(srcs, desc="motion eval", unit="clip", disable=not progress, leave=False):
        row: dict[str, Any] = {"id": src.id, "speaker": src.speaker,
                               **{d: (src.metadata or {}).get(d) for d in dims}}
        try:
            row.update(score_motion(src, model, rules=rules, vad=vad))
        except DataError as e:
            row["error"] = str(e)
            log.warning("%s", e)
        rows.append(row)
    return rows


def evaluate_bench_motion(bench, model_path: str | Path | None, *, ref_root: str | Path | None = None,
                          rules: bool = True, seed: int = 0, n_boot: int = 2000, progress: bool = True):
    """``talkset bench eval --motion-model``: motion scores of every benchmark clip, per group with bootstrap
    intervals (``bench.stats``), as an ``EvalResult`` the bench report writes.

    The clips' annotations come from the manifest the benchmark was drawn from (``bench.root``); a clip without
    keypoints is listed in ``missing``.
    """
    from talkset.bench.scoring import EvalResult
    from talkset.bench.stats import pool_stats
    from talkset.train.model import load_motion_model

    model = load_motion_model(model_path) if model_path is not None else None
    root = Path(ref_root or bench.root or ".")
    by_id = {s.id: s for s in folder_sources(root)}
    wanted = sorted(bench.clips)
    srcs = [by_id[i] for i in wanted if i in by_id]
    missing = [i for i in wanted if i not in by_id]
    rows = score_sources(srcs, model, rules=rules, dims=bench.dims, progress=progress)
    dimensions = pool_stats(rows, bench.pools, bench.dims, MOTION_METRICS, n_boot=n_boot, seed=seed)
    return EvalResult(clips=rows, dimensions=dimensions, dataset={}, missing=missing, seed=seed)
