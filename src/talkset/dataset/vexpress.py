"""Export a curated folder in the layout V-Express and TalkVid train and infer from.

Their training dataset (TalkVid ``src/dataset/talking_face_video.py``, which V-Express's
``datasets/talking_face_video.py`` mirrors) reads a JSON list of ``{"video", "face_info", "audio_embeds"}``
(and in TalkVid an optional ``info`` whose ``language`` must be ``"English"`` for its stage-3 ``lang='en'``).
Per sample it opens the three paths as given (relative ones against the process's working directory):

- ``video``: decoded with ``torchvision.io.read_video``; every frame is a training frame, at any size (its
  transforms make 512×512).
- ``face_info``: ``torch.load``; a list with one entry per decoded frame, each a list of face dicts of which
  the first is used: ``bbox`` (x1, y1, x2, y2, the face mask), ``kps`` (InsightFace's five points; the first
  three are drawn as the keypoint image) and ``landmark_2d_106`` (52–71, the mouth, give the lip mask's box),
  all in pixels of the video's frames.
- ``audio_embeds``: ``torch.load(...)["global_embeds"]``, wav2vec2-base-960h's last hidden states (n, 1, 768),
  stretched to two per video frame: the audio must last as long as the video.

Written here, per clip, in ``DEST/{clip_id}/``:

- ``gt.mp4``: by default a 512×512 face-centred crop (``talkset.dataset.facecrop``, TalkVid's convention)
  with the clip's audio; with ``crop="none"`` the clip itself (hard-linked, copied or symlinked). ``fps``
  resamples to a fixed rate (TalkVid's checks expect 24); without it the clip's own rate is kept.
- ``face_info.pt``: one entry per frame of ``gt.mp4``, from the clip's face mesh (annotation npz; frames
  without a face take the nearest earlier face's values): ``bbox`` (the mesh's extent), ``kps`` [image-left
  eye, image-right eye, nose tip, image-left and image-right mouth corner], ``landmark_2d_106`` (all 106,
  ``talkset.vision.lm106``), ``pose`` (pitch, yaw, roll in degrees), ``det_score`` 1.0; ``landmark_3d_68``,
  ``gender``, ``age`` and ``embedding`` are None (nothing here makes them; neither trainer reads them). All
  coordinates are in ``gt.mp4``'s pixels, and every value is a tensor, a number or None, so the file loads
  with ``torch.load(weights_only=True)`` (the default since torch 2.6).
- ``kps.pth``: V-Express's inference keypoints (``talkset.vision.kps``), at 512×512 of ``gt.mp4`` stretched;
  with the default crop that is ``gt.mp4``'s own pixels.
- ``aud.wav`` (the clip's audio file, placed as ``gt.mp4`` is when not cropped) and ``aud_embeds.pt``,
  computed when a wav2vec2 model folder is given.

``DEST/vexpress.json`` lists complete samples only (all three files present) unless ``allow_incomplete``;
paths are absolute by default (TalkVid's ``create_data_json.py`` writes absolute paths), or relative to DEST.
Each entry has an ``info`` block from the record's metadata.
"""
from __future__ import annotations

import errno
import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from talkset.dataset.facecrop import CROP_SIZE, Crop, cropped_frames, face_crop, frame_schedule
from talkset.dataset.records import KEPT
from talkset.dataset.webdataset import (
    ExportError,
    ExportResult,
    Skipped,
    load_manifest,
    media_files,
    resolve,
    select_clips,
)
from talkset.errors import one_line
from talkset.files import atomic_file, atomic_write_bytes
from talkset.vision.face import MOUTH_CORNER_L, MOUTH_CORNER_R
from talkset.vision.kps import EYE_RING_L, EYE_RING_R, KPS_SIZE, fill_missing, kps_from_landmarks, save_kps
from talkset.vision.lm106 import MOUTH, landmarks_106

log = logging.getLogger("talkset.export")

INDEX_NAME = "vexpress.json"
LIP_SLICE = MOUTH
LINK_MODES = ("hardlink", "copy", "symlink")
CROPS = ("face", "none")
PATH_MODES = ("absolute", "relative")
FILES = ("gt.mp4", "face_info.pt", "aud_embeds.pt")
HOW_TO_EMBED = ("rerun with --wav2vec2 DIR (a local copy of facebook/wav2vec2-base-960h), or run V-Express's "
                "scripts/prepare_dataset/extract_audio_embeddings.py on each gt.mp4")


@dataclass
class ClipSource:
    """What the exporter reads from one manifest record (the only place that knows the record's fields)."""

    id: str
    video: Path
    audio: Path | None
    annotation: Path
    fps: float | None
    duration_s: float | None
    info: dict[str, Any]


def clip_source(root: Path, rec: dict[str, Any]) -> ClipSource:
    """The files and facts of one record.

    Raises:
        ValueError: an id that is not a folder name, or a missing video, audio or annotation file.
    """
    from talkset.dataset.talkvid import LANGUAGE_NAMES

    cid = rec["id"]
    if "/" in cid or cid in (".", ".."):
        raise ValueError(f"clip id {cid!r} is not a folder name")
    video, audio = media_files(root, rec)
    ann = resolve(root, (rec.get("annotations") or {}).get("keypoints"))
    if ann is None or not ann.is_file():
        raise ValueError(f"no annotation npz ({ann or 'annotations.keypoints is null'})")
    meta = rec.get("metadata") or {}
    language = meta.get("language")
    info = {"language": LANGUAGE_NAMES.get(language, language) if language is not None else None, "gender": meta.get("gender"),
            "age_group": meta.get("age_group"), "ethnicity": meta.get("ethnicity"),
            "speaker_id": meta.get("speaker_id"), "clip_id": cid}
    raw_fps = meta.get("fps")
    fps = raw_fps if isinstance(raw_fps, (int, float)) and raw_fps > 0 else None
    duration = meta.get("duration") if isinstance(meta.get("duration"), (int, float)) else None
    return ClipSource(cid, video, audio, ann, fps, duration, info)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path) as z:
            arrays = {k: z[k] for k in ("face", "size")}
            for k in ("t", "head_pose"):
                if k in z:
                    arrays[k] = z[k]
    except (OSError, ValueError, KeyError, EOFError) as e:
        raise ValueError(f"{path}: unreadable annotation npz ({e})") from None
    return arrays


def _mesh(arrays: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, int]:
    """(n, 478, 3) mesh with gaps filled, (n, 3) head pose, frames that had no face."""
    face = np.asarray(arrays["face"], np.float32)
    if face.ndim != 3 or face.shape[1:] != (478, 3) or len(face) == 0:
        raise ValueError(f"face points of shape {face.shape}, expected (frames, 478, 3)")
    found = np.asarray(np.isfinite(face[:, :, :2]).all(axis=(1, 2)))
    if not found.any():
        raise ValueError(f"no face on any of its {len(face)} frames")
    pose = np.asarray(arrays.get("head_pose", np.zeros((len(face), 3))), np.float32)
    if pose.shape != (len(face), 3):
        pose = np.zeros((len(face), 3), np.float32)
    pose_ok = np.asarray(found & np.isfinite(pose).all(axis=1))
    pose = fill_missing(pose, pose_ok) if pose_ok.any() else np.zeros_like(pose)
    return fill_missing(face, found), pose, int((~found).sum())


def face_entry(lm: np.ndarray, pose: np.ndarray | None, width: int, height: int) -> dict[str, Any]:
    """One face dict of ``face_info.pt`` from one frame's mesh, in the frame's pixels (``width``×``height``).

    Every array is a float32 tensor, so the file loads with ``torch.load(weights_only=True)``.
    """
    import torch

    xy = np.asarray(lm, np.float32)[:, :2]
    five = np.stack([xy[list(EYE_RING_R)].mean(axis=0), xy[list(EYE_RING_L)].mean(axis=0),
                     xy[1], xy[MOUTH_CORNER_R], xy[MOUTH_CORNER_L]])
    x1, y1 = np.clip(xy.min(axis=0), 0, [width - 1, height - 1])
    x2, y2 = np.clip(xy.max(axis=0), 0, [width - 1, height - 1])
    return {"bbox": torch.tensor([x1, y1, x2, y2], dtype=torch.float32),
            "kps": torch.from_numpy(five.astype(np.float32)),
            "det_score": 1.0, "landmark_3d_68": None,
            "pose": torch.from_numpy(np.asarray(pose, np.float32)) if pose is not None else None,
            "landmark_2d_106": torch.from_numpy(landmarks_106(xy)),
            "gender": None, "age": None, "embedding": None}


def face_info_from_npz(npz: dict[str, np.ndarray]) -> tuple[list[np.ndarray], list[list[dict[str, Any]]], int]:
    """V-Express keypoints (512×512) and face_info entries for every frame of one annotated clip, uncropped.

    Args:
        npz: the clip's annotation arrays (``face`` (N, 478, 3) pixels, ``size`` (2,) width, height;
            optionally ``head_pose`` (N, 3)).

    Returns:
        The kps.pth list (float32 (3, 2) per frame), the face_info list (per frame, a one-face list) and the
        number of frames that had no face and took a neighbour's values.

    Raises:
        ValueError: no face on any frame, or arrays of the wrong shape.
    """
    face, pose, filled = _mesh(npz)
    width, height = (int(v) for v in np.asarray(npz["size"]).reshape(2))
    kps = [kps_from_landmarks(lm, width, height, KPS_SIZE) for lm in face]
    info = [[face_entry(lm, p, width, height)] for lm, p in zip(face, pose)]
    return kps, info, filled


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


def _audio(path: Path, duration_s: float, sr: int | None = None):
    """The clip's audio from its first sample on, mono, ``duration_s`` long (at its own rate by default)."""
    import av

    from talkset.audio.io import Audio, AudioError, load_audio
    from talkset.media.encode import aac_rate

    try:
        if sr is None:
            with av.open(str(path)) as c:
                if not c.streams.audio:
                    raise ValueError(f"{path}: no audio stream")
                sr = aac_rate(c.streams.audio[0].rate)
        sound = load_audio(path, sr=sr)
    except (AudioError, av.FFmpegError, OSError) as e:
        raise ValueError(one_line(e)) from None
    return Audio(sound.slice(0.0, duration_s), sr)


@dataclass
class VExpressOptions:
    """How clips are written (see ``export_vexpress``)."""

    link: str = "hardlink"
    crop: str = "face"
    size: int = CROP_SIZE
    fps: float | None = None
    paths: str = "absolute"
    allow_incomplete: bool = False


def export_vexpress(out: str | Path, dest: str | Path, *, statuses: tuple[str, ...] = (KEPT,),
                    link: str = "hardlink", force: bool = False, crop: str = "face", size: int = CROP_SIZE,
                    fps: float | None = None, paths: str = "absolute", wav2vec2: str | Path | None = None,
                    audio_embedder: Callable[[np.ndarray], Any] | None = None, allow_incomplete: bool = False,
                    progress: Callable[[int], None] | None = None) -> ExportResult:
    """Writes the training JSON and per-clip folders (see the module docstring).

    Args:
        out: the output folder of ``talkset curate`` (or its manifest.json).
        dest: the export folder; created if missing.
        statuses: which records to export.
        link: how uncropped clip files get into the export: ``hardlink`` (copy across file systems), ``copy``
            or ``symlink`` (absolute).
        force: write into a folder that holds an earlier export (its files are replaced clip by clip).
        crop: ``face`` (a ``size``×``size`` face-centred crop, TalkVid's convention) or ``none`` (the clip).
        size: side of the crop, pixels.
        fps: frames per second of ``gt.mp4`` (TalkVid: 24); None keeps the clip's rate.
        paths: ``absolute`` or ``relative`` (to ``dest``) paths in the JSON.
        wav2vec2: a local wav2vec2-base-960h folder; ``aud_embeds.pt`` is computed with it.
        audio_embedder: instead of ``wav2vec2``, any callable: 16 kHz mono float32 samples → tensor (n, 1, 768).
        allow_incomplete: list clips without ``aud_embeds.pt`` in the JSON too.
        progress: called with 1 after each clip.

    Returns:
        The written files, the number of listed samples, skipped clips, and incomplete clips (written but
        missing ``aud_embeds.pt``) with a note on how to complete them.

    Raises:
        ExportError: unreadable manifest, a bad option, an unusable model folder, or an earlier export in
            ``dest`` without ``force``.
    """
    for value, allowed, name in ((link, LINK_MODES, "link mode"), (crop, CROPS, "crop"),
                                 (paths, PATH_MODES, "path mode")):
        if value not in allowed:
            raise ExportError(f"unknown {name} {value!r} (choose {', '.join(allowed)})")
    if size < 16 or size % 2 or (fps is not None and not fps > 0):
        raise ExportError("the crop size must be even and at least 16, the frame rate positive")
    if wav2vec2 is not None:
        from talkset.dataset.wav2vec2 import EmbedderError, Wav2Vec2Embedder

        try:
            audio_embedder = Wav2Vec2Embedder(wav2vec2)
            audio_embedder.setup()
        except EmbedderError as e:
            raise ExportError(str(e)) from None
    root, records = load_manifest(out)
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise ExportError(f"{dest}: exists and is not a folder")
    if (dest / INDEX_NAME).exists() and not force:
        raise ExportError(f"{dest}: holds an earlier export ({INDEX_NAME}); pass --force to replace it")
    dest.mkdir(parents=True, exist_ok=True)
    options = VExpressOptions(link, crop, size, fps, paths, allow_incomplete)

    result = ExportResult(dest=str(dest))
    entries = []
    for rec in select_clips(records, statuses):
        cid = rec["id"]
        try:
            source = clip_source(root, rec)
            filled = _export_clip(source, dest, options, audio_embedder)
        except (OSError, ValueError, KeyError) as e:
            reason = one_line(e)
            log.warning("export: skipping clip %s: %s", cid, reason)
            result.skipped.append(Skipped(cid, reason))
            if progress is not None:
                progress(1)
            continue
        if filled:
            log.info("export: clip %s: %d frames without a face took the nearest earlier face's values",
                     cid, filled)
        folder = dest / cid
        result.files.append(str(folder))
        missing = [name for name in FILES if not (folder / name).is_file()]
        if missing:
            result.incomplete.append(Skipped(cid, f"no {', '.join(str(folder / m) for m in missing)}"))
        if not missing or allow_incomplete:
            entries.append(_entry(dest, source, options.paths))
        if progress is not None:
            progress(1)
    if result.incomplete:
        listed = "listed anyway (--allow-incomplete)" if allow_incomplete else f"left out of {INDEX_NAME}"
        result.notes.append(f"{len(result.incomplete)} clips have no aud_embeds.pt ({listed}): {HOW_TO_EMBED}")
    result.samples = len(entries)
    atomic_write_bytes(dest / INDEX_NAME, json.dumps(entries, indent=1, ensure_ascii=False).encode("utf-8"))
    result.files.insert(0, str(dest / INDEX_NAME))
    return result


def _entry(dest: Path, source: ClipSource, paths: str) -> dict[str, Any]:
    base = dest.resolve() / source.id if paths == "absolute" else Path(source.id)
    return {"video": str(base / "gt.mp4"), "face_info": str(base / "face_info.pt"),
            "audio_embeds": str(base / "aud_embeds.pt"), "info": source.info}


def _export_clip(source: ClipSource, dest: Path, options: VExpressOptions,
                 audio_embedder: Callable[[np.ndarray], Any] | None) -> int:
    """Writes one clip's folder; returns how many frames had no face."""
    arrays = _read_npz(source.annotation)
    try:
        face, pose, filled = _mesh(arrays)
    except ValueError as e:
        raise ValueError(f"{source.annotation}: {e}") from None
    width, height = (int(v) for v in np.asarray(arrays["size"]).reshape(2))
    n = len(face)
    times = np.asarray(arrays["t"], np.float64) if "t" in arrays and len(arrays["t"]) == n else None
    folder = dest / source.id
    folder.mkdir(exist_ok=True)
    rewrite = options.crop != "none" or options.fps is not None
    if rewrite:
        schedule, fps = _schedule(source, times, n, options.fps)
        crop = face_crop(_boxes(face), width, height, size=options.size) if options.crop == "face" else None
        _write_gt(source, folder / "gt.mp4", schedule, crop, fps, (width, height))
        face, pose = face[schedule], pose[schedule]
        if crop is not None:
            face = face.copy()
            face[:, :, :2] = crop.to_crop(face[:, :, :2])
            width = height = crop.size
    else:
        _place(source.video, folder / "gt.mp4", options.link)
    if source.audio is not None:
        _place(source.audio, folder / f"aud{source.audio.suffix.lower()}", options.link)
    save_kps([kps_from_landmarks(lm, width, height, KPS_SIZE) for lm in face], folder / "kps.pth")
    _save_torch([[face_entry(lm, p, width, height)] for lm, p in zip(face, pose)], folder / "face_info.pt")
    if audio_embedder is not None:
        # From gt.mp4, as V-Express's extractor does: the embeddings then last exactly as long as its frames.
        duration = len(face) / fps if rewrite else (source.duration_s or n / (source.fps or 25.0))
        samples = _audio(folder / "gt.mp4" if rewrite or source.audio is None else source.audio, duration,
                         sr=16000).samples
        _save_torch({"global_embeds": audio_embedder(samples)}, folder / "aud_embeds.pt")
    return filled


def _boxes(face: np.ndarray) -> np.ndarray:
    xy = face[:, :, :2]
    return np.concatenate([xy.min(axis=1), xy.max(axis=1)], axis=1)


def _schedule(source: ClipSource, times: np.ndarray | None, n: int, fps: float | None) -> tuple[np.ndarray, float]:
    """The source frame of every output frame, and the output rate."""
    native = source.fps
    if times is not None and n > 1:
        step = float(np.median(np.diff(times)))
        native = native or (1.0 / step if step > 0 else None)
    native = native or 25.0
    rate = float(fps or native)
    if times is None:
        times = np.arange(n) / native
    duration = source.duration_s or (float(times[-1]) + 1.0 / native)
    return frame_schedule(times, rate, duration), rate


def _write_gt(source: ClipSource, path: Path, schedule: np.ndarray, crop: Crop | None, fps: float,
              size: tuple[int, int]) -> None:
    """gt.mp4: the scheduled frames (cropped), H.264, with the clip's audio (AAC, mono) over the same span."""
    from talkset.animate.api import write_video

    frame_size = (crop.size, crop.size) if crop is not None else (size[0] - size[0] % 2, size[1] - size[1] % 2)
    frames = cropped_frames(source.video, schedule, crop)
    if crop is None:
        frames = (f[:frame_size[1], :frame_size[0]] for f in frames)
    sound = _audio(source.audio or source.video, len(schedule) / fps)
    write_video(path, frames, frame_size, fps, sound)
