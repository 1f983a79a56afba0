"""Score generated videos against a benchmark split and report the gaps between subgroups.

Each benchmark clip is matched by id to ``PRED_DIR/<id>.<ext>``; per clip the metrics below are computed
against the reference clip (the curated one) and its audio; then, for every dimension of the split, each
metric is summarised per group with a seeded bootstrap interval, and the gap between groups with its own.
Metrics that need weights we cannot ship (SyncNet, Inception, I3D) run only when the user gives the file,
and are reported as skipped otherwise — never faked.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from talkset.audio.io import AudioError, load_audio
from talkset.bench.split import Benchmark
from talkset.bench.stats import pool_stats
from talkset.errors import one_line
from talkset.media.probe import ProbeError, probe

if TYPE_CHECKING:
    from talkset.bench.clip_pass import ReferenceCache

log = logging.getLogger("talkset.bench")

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".webm", ".avi")
# metric name → higher is better (decides the "worst group").
METRICS = {"sync_confidence": True, "sync_abs_offset_vs_reference": False, "lse_d": False, "lse_c": True,
           "ssim": True, "psnr": True, "l1": False, "lmd_norm": False, "sharpness": True, "jitter": False,
           "identity_similarity": True}


@dataclass
class EvalResult:
    """Per-clip rows, per-dimension statistics and dataset-level scores."""

    clips: list[dict[str, Any]]
    dimensions: list[dict[str, Any]]
    dataset: dict[str, Any]
    missing: list[str] = field(default_factory=list)
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"type": "bench_eval", "seed": self.seed, "clips": self.clips, "dimensions": self.dimensions,
                "dataset": self.dataset, "missing": self.missing}


def find_prediction(pred_dir: Path, clip_id: str) -> Path | None:
    for ext in VIDEO_EXTENSIONS:
        p = pred_dir / f"{clip_id}{ext}"
        if p.is_file():
            return p
    return None


def _first_frame_rgb(path: Path) -> np.ndarray:
    """The identity portrait of a video: its first frame (``clip_pass.portrait_rgb``)."""
    from talkset.bench.clip_pass import portrait_rgb
    from talkset.media.frames import decode_frames

    for view in decode_frames(path, probe(path).rotation_deg, 1 << 16, 64):
        return portrait_rgb(view)
    raise ProbeError(f"{path}: no video frame")


class _Scorers:
    """Models loaded once for the whole evaluation."""

    def __init__(self, syncnet_path: Path | None, references: ReferenceCache | None = None):
        from talkset.bench.clip_pass import Backends

        self.backends = Backends.create()
        self.references = references
        self.syncnet = None
        if syncnet_path is not None:
            from talkset.bench.syncnet import load_syncnet

            self.syncnet = load_syncnet(syncnet_path)


def score_clip(pred: Path, ref: Path, ref_audio: Path, scorers: _Scorers) -> dict[str, Any]:
    """Every per-clip metric of one generated video against its reference; a failing metric is noted.

    Each video is decoded and meshed once (``clip_pass.score_pair``); the metrics are functions of that.
    """
    from talkset.bench import metrics
    from talkset.bench.clip_pass import score_pair
    from talkset.bench.sync import sync_audio, track_sync

    row: dict[str, Any] = {"notes": []}
    pred_info, ref_info = probe(pred), probe(ref)
    shared = score_pair(pred, ref, pred_info, ref_info, scorers.backends, scorers.references)
    cache = scorers.references
    known = cache.get("sync", ref, ref_audio) if cache is not None else None
    if known is None:
        ref_sync_audio = sync_audio(load_audio(ref_audio))
        known = ref_sync_audio, track_sync(shared.ref_face, ref_sync_audio, float(ref_info.fps))
        if cache is not None:
            cache.put("sync", known, ref, ref_audio)
    ref_sync_audio, ref_sync = known
    # A prediction without audio is driven by the reference's.
    pred_sound = load_audio(pred) if pred_info.has_audio else None
    driving = sync_audio(pred_sound) if pred_sound is not None else ref_sync_audio
    sync = track_sync(shared.pred_face, driving, float(pred_info.fps))
    row["sync_offset_frames"] = sync["offset_frames"]
    row["sync_confidence"] = sync["confidence"]
    if sync["offset_frames"] is not None and ref_sync["offset_frames"] is not None:
        # The reference's own offset is the zero: a generated clip as in sync as the real one scores 0. The
        # sub-frame offsets are compared, so two measurements a hair apart do not round to different frames.
        fps = pred_info.fps
        row["sync_offset_vs_reference"] = int(round((sync["offset_s"] - ref_sync["offset_s"]) * float(fps)))
        row["sync_abs_offset_vs_reference"] = abs(row["sync_offset_vs_reference"])
    if scorers.syncnet is not None:
        from talkset.bench.syncnet import lse

        samples = (pred_sound if pred_sound is not None else load_audio(ref_audio)).samples
        row.update({k: v for k, v in lse(pred, samples, scorers.syncnet).items()
                    if k in ("lse_d", "lse_c")})
    fid = shared.fidelity
    row.update(ssim=fid["ssim"], psnr=fid["psnr"], psnr_capped=fid.get("psnr_capped", False), l1=fid["l1"],
               frames_compared=fid["frames_compared"])
    pred_track, ref_track = shared.pred_face.track, shared.ref_face.track
    lmd = metrics.lmd(pred, ref, pred_mouth=metrics.mouth_landmarks(pred, face=pred_track),
                      ref_mouth=metrics.mouth_landmarks(ref, face=ref_track),
                      sizes=(pred_info.display_size, ref_info.display_size))
    row.update(lmd_px=lmd["lmd_px"], lmd_norm=lmd["lmd_norm"])
    row["sharpness"] = shared.sharpness
    row["jitter"] = metrics.jitter(pred, face=pred_track)
    if shared.identity is not None:
        row["identity_similarity"] = shared.identity.get("mean_cosine_similarity")
        row["identity_distance"] = shared.identity.get("mean_distance")
    else:
        row["notes"].append(f"identity: {shared.identity_error}")
    return row


def evaluate(bench: Benchmark, pred_dir: str | Path, *, ref_root: str | Path | None = None,
             syncnet: str | Path | None = None, inception: str | Path | None = None,
             i3d: str | Path | None = None, seed: int = 0, n_boot: int = 2000, progress: bool = True,
             references: ReferenceCache | None = None) -> EvalResult:
    """Scores every benchmark clip that has a generated video in ``pred_dir``.

    Args:
        bench: the split (``talkset bench build``).
        pred_dir: folder of generated videos named ``<clip id>.mp4`` (or .mov/.mkv/.webm/.avi).
        ref_root: folder the clips' paths are relative to (default: the one stored in the split).
        syncnet: SyncNet weights (syncnet_python's ``syncnet_v2.model``) for LSE-D/LSE-C.
        inception: TorchScript Inception feature network for FID.
        i3d: TorchScript I3D feature network for FVD.
        seed: bootstrap seed.
        n_boot: bootstrap resamples.
        progress: show a progress bar.
        references: reference results kept from an earlier evaluation against the same benchmark (pass the
            same ``ReferenceCache`` when scoring several models): each reference is then meshed once.
    """
    from tqdm import tqdm

    pred_dir = Path(pred_dir)
    root = Path(ref_root or bench.root or ".")
    scorers = _Scorers(Path(syncnet) if syncnet else None, references)
    rows, missing, pairs = [], [], []
    for clip_id in tqdm(sorted(bench.clips), desc="bench eval", unit="clip", disable=not progress):
        clip = bench.clips[clip_id]
        pred = find_prediction(pred_dir, clip_id)
        if pred is None:
            missing.append(clip_id)
            continue
        ref = root / clip["video-path"]
        ref_audio = root / (clip.get("audio-path") or clip["video-path"])
        row = {"id": clip_id, "pred": str(pred), **{d: (clip.get("metadata") or {}).get(d) for d in bench.dims}}
        try:
            row.update(score_clip(pred, ref, ref_audio, scorers))
            pairs.append((pred, ref))
        except (ProbeError, AudioError, OSError) as e:
            row["error"] = one_line(e)
            log.warning("%s", row["error"])
        rows.append(row)
    dimensions = pool_stats(rows, bench.pools, bench.dims, METRICS, n_boot=n_boot, seed=seed)
    dataset = {"fid": _distribution_metric("fid", inception, pairs), "fvd": _distribution_metric("fvd", i3d, pairs)}
    return EvalResult(clips=rows, dimensions=dimensions, dataset=dataset, missing=missing, seed=seed)


def _distribution_metric(name: str, network_path, pairs) -> dict[str, Any]:
    """FID/FVD over all clips with the user's feature network, or a note saying why it was skipped."""
    from talkset.bench import fid

    if network_path is None:
        flag = "--inception" if name == "fid" else "--i3d"
        return fid.skipped(f"no feature network given ({flag} FILE)")
    if not pairs:
        return fid.skipped("no generated clip to compare")
    network = fid.load_feature_network(network_path)
    preds, refs = [p for p, _ in pairs], [r for _, r in pairs]
    value = fid.fid(preds, refs, network) if name == "fid" else fid.fvd(preds, refs, network)
    return {"value": value, "skipped": False}
