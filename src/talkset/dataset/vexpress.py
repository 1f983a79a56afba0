"""Export a curated folder in the layout V-Express trains and infers from.

V-Express (tencent-ailab/V-Express) reads:

- training (``datasets/talking_face_video.py``, ``scripts/prepare_dataset/README.md``): a JSON list of
  ``{"video", "face_info", "audio_embeds"}``. ``video`` is an mp4 with its audio (read with
  ``torchvision.io.read_video``); ``face_info`` a ``torch.save`` list with, per frame, a list of face dicts of
  which the first is used: ``bbox`` (x1, y1, x2, y2 pixels, the face mask), ``kps`` (insightface's five points,
  the first three drawn as the keypoint image) and ``landmark_2d_106`` (only points 52–71, the mouth, used for
  the lip mask's box); ``audio_embeds`` a ``torch.save`` dict ``{"global_embeds": (n, 1, 768)}`` of
  wav2vec2-base-960h hidden states.
- inference (``inference.py``, ``test_samples/*/``): ``kps.pth``, a ``torch.save`` list of float32 (3, 2)
  keypoints per frame at 512×512, and the driving audio.

Written here, per clip, in ``DEST/{clip_id}/``: ``gt.mp4`` and ``aud.wav`` (the clip's files, hard-linked,
or copied across file systems / with ``link="copy"``), ``kps.pth`` and ``face_info.pt``, both from the clip's
annotation npz (mediapipe face mesh; one entry per frame, frames without a face take the nearest earlier
face's values as ``talkset.vision.kps.fill_missing`` does). ``DEST/vexpress.json`` is the training list with
paths relative to DEST. ``audio_embeds`` points at ``DEST/{clip_id}/aud_embeds.pt``, which is written only
when an ``audio_embedder`` is given: wav2vec2's weights are not shipped, so by default run V-Express's
``scripts/prepare_dataset/extract_audio_embeddings.py`` on ``gt.mp4``.

mediapipe stands in for insightface: ``kps`` = [image-left eye centre, image-right eye centre, nose tip,
image-left mouth corner, image-right mouth corner]; ``bbox`` = the box of the mesh points (x1, y1, x2, y2);
``landmark_2d_106`` holds mediapipe's 20 outer-lip points at 52–71 and NaN elsewhere (no 106-point model is
available offline; V-Express reads only 52–71).
"""
from __future__ import annotations

import errno
import json
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from talkset.dataset.manifest import KEPT
from talkset.dataset.webdataset import ExportError, ExportResult, Skipped, load_manifest, resolve, select_clips
from talkset.files import atomic_file, atomic_write_bytes
from talkset.vision.face import MOUTH_CORNER_L, MOUTH_CORNER_R
from talkset.vision.kps import KPS_SIZE, fill_missing, kps_from_landmarks, save_kps

log = logging.getLogger("talkset.export")

INDEX_NAME = "vexpress.json"
# mediapipe's FACEMESH_LIPS outer contour (mediapipe/python/solutions/face_mesh_connections.py), 20 points,
# standing in for insightface 2d106's mouth points 52–71.
OUTER_LIP = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
LIP_SLICE = slice(52, 72)
LINK_MODES = ("hardlink", "copy", "symlink")


def face_info_from_npz(npz: dict[str, np.ndarray]) -> tuple[list[np.ndarray], list[list[dict[str, Any]]], int]:
    """V-Express keypoints (512×512) and face_info entries for every frame of one annotated clip.

    Args:
        npz: the clip's annotation arrays (``face`` (N, 478, 3) pixels, ``size`` (2,) width, height).

    Returns:
        The kps.pth list (float32 (3, 2) per frame), the face_info list (per frame, a one-face list) and the
        number of frames that had no face and took a neighbour's values.

    Raises:
        ValueError: no face on any frame, or arrays of the wrong shape.
    """
    face = np.asarray(npz["face"], np.float32)
    width, height = (int(v) for v in np.asarray(npz["size"]).reshape(2))
    if face.ndim != 3 or face.shape[1:] != (478, 3) or len(face) == 0:
        raise ValueError(f"face points of shape {face.shape}, expected (frames, 478, 3)")
    found = np.isfinite(face[:, :, :2]).all(axis=(1, 2))
    if not found.any():
        raise ValueError(f"no face on any of its {len(face)} frames")
    face = fill_missing(face, found)
    kps, info = [], []
    to_px = np.array([width / KPS_SIZE, height / KPS_SIZE], np.float32)
    for lm in face:
        k3 = kps_from_landmarks(lm, width, height, KPS_SIZE)
        kps.append(k3)
        xy = lm[:, :2]
        five = np.concatenate([k3 * to_px, xy[[MOUTH_CORNER_R, MOUTH_CORNER_L]]]).astype(np.float32)
        lm106 = np.full((106, 2), np.nan, np.float32)
        lm106[LIP_SLICE] = xy[list(OUTER_LIP)]
        bbox = np.array([*xy.min(axis=0), *xy.max(axis=0)], np.float32)
        info.append([{"bbox": bbox, "kps": five, "det_score": np.float32(1.0), "landmark_2d_106": lm106}])
    return kps, info, int((~found).sum())


def _place(src: Path, dst: Path, link: str) -> None:
    """``dst`` becomes the content of ``src``: a hard link (a copy across file systems), a copy or a symlink."""
    tmp = dst.with_name(f".{dst.name}.tmp{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        if link == "symlink":
            os.symlink(src.resolve(), tmp)
        elif link == "hardlink":
            try:
                os.link(src, tmp)
            except OSError as e:
                if e.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                    raise
                shutil.copyfile(src, tmp)
        else:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def _save_torch(obj: Any, path: Path) -> None:
    import torch

    with atomic_file(path) as f:
        torch.save(obj, f)


def _audio_16k_mono(path: Path) -> np.ndarray:
    from talkset.audio.io import AudioError, load_audio

    try:
        return np.asarray(load_audio(path, sr=16000).samples, np.float32)
    except AudioError as e:
        raise ValueError(str(e)) from None


def export_vexpress(out: str | Path, dest: str | Path, *, statuses: tuple[str, ...] = (KEPT,),
                    link: str = "hardlink", force: bool = False,
                    audio_embedder: Callable[[np.ndarray], Any] | None = None) -> ExportResult:
    """Writes V-Express's training JSON and per-clip folders (see the module docstring).

    Args:
        out: the output folder of ``talkset curate`` (or its manifest.json).
        dest: the export folder; created if missing.
        statuses: which records to export.
        link: how the clip's mp4 and wav get into the export: ``hardlink`` (copy across file systems),
            ``copy`` or ``symlink`` (absolute).
        force: write into a folder that holds an earlier export (its files are replaced clip by clip).
        audio_embedder: optional; 16 kHz mono float32 samples → a tensor (n, 1, 768) saved as
            ``{"global_embeds": tensor}`` in ``aud_embeds.pt`` (wav2vec2-base-960h's ``last_hidden_state``
            permuted, as V-Express's ``extract_audio_embeddings.py`` makes).

    Returns:
        The written per-clip folders, the number of clips and the skipped clips with reasons.

    Raises:
        ExportError: unreadable manifest, unknown ``link``, or an earlier export in ``dest`` without ``force``.
    """
    if link not in LINK_MODES:
        raise ExportError(f"unknown link mode {link!r} (choose {', '.join(LINK_MODES)})")
    root, records = load_manifest(out)
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise ExportError(f"{dest}: exists and is not a folder")
    if (dest / INDEX_NAME).exists() and not force:
        raise ExportError(f"{dest}: holds an earlier export ({INDEX_NAME}); pass --force to replace it")
    dest.mkdir(parents=True, exist_ok=True)

    result = ExportResult(dest=str(dest))
    entries = []
    for rec in select_clips(records, statuses):
        cid = rec["id"]
        try:
            entry, filled = _export_clip(root, rec, dest, link, audio_embedder)
        except (OSError, ValueError, KeyError) as e:
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            log.warning("export: skipping clip %s: %s", cid, reason)
            result.skipped.append(Skipped(cid, reason))
            continue
        if filled:
            log.info("export: clip %s: %d frames without a face took the nearest earlier face's keypoints",
                     cid, filled)
        entries.append(entry)
        result.files.append(str(dest / cid))
    result.samples = len(entries)
    atomic_write_bytes(dest / INDEX_NAME, json.dumps(entries, indent=1, ensure_ascii=False).encode("utf-8"))
    result.files.insert(0, str(dest / INDEX_NAME))
    return result


def _export_clip(root: Path, rec: dict[str, Any], dest: Path, link: str,
                 audio_embedder: Callable[[np.ndarray], Any] | None) -> tuple[dict[str, Any], int]:
    cid = rec["id"]
    if "/" in cid or cid in (".", ".."):
        raise ValueError(f"clip id {cid!r} is not a folder name")
    video = resolve(root, rec.get("video-path"))
    if video is None or not video.is_file():
        raise ValueError(f"missing video file {video}")
    audio = resolve(root, rec.get("audio-path"))
    if audio is not None and not audio.is_file():
        raise ValueError(f"missing audio file {audio}")
    kps_path = resolve(root, (rec.get("annotations") or {}).get("keypoints"))
    if kps_path is None or not kps_path.is_file():
        raise ValueError(f"no annotation npz ({kps_path or 'annotations.keypoints is null'})")
    try:
        with np.load(kps_path) as z:
            arrays = {k: z[k] for k in ("face", "size")}
    except (OSError, ValueError, KeyError, EOFError) as e:
        raise ValueError(f"{kps_path}: unreadable annotation npz ({e})") from None
    try:
        kps, face_info, filled = face_info_from_npz(arrays)
    except ValueError as e:
        raise ValueError(f"{kps_path}: {e}") from None

    folder = dest / cid
    folder.mkdir(exist_ok=True)
    _place(video, folder / "gt.mp4", link)
    if audio is not None:
        _place(audio, folder / f"aud{audio.suffix.lower()}", link)
    save_kps(kps, folder / "kps.pth")
    _save_torch(face_info, folder / "face_info.pt")
    if audio_embedder is not None:
        embeds = audio_embedder(_audio_16k_mono(audio if audio is not None else video))
        _save_torch({"global_embeds": embeds}, folder / "aud_embeds.pt")
    entry = {"video": f"{cid}/gt.mp4", "face_info": f"{cid}/face_info.pt", "audio_embeds": f"{cid}/aud_embeds.pt"}
    return entry, filled
