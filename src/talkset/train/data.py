"""Training data: curated clips (folders or WebDataset shards) → per-clip features and motion targets → windows.

A clip becomes a :class:`ClipExample` on the model's fixed frame grid (``MODEL_FPS``): audio features
(``features.audio_features``) and targets (``canonical``: lip, jaw, lid and brow displacements from the clip's rest
face, plus head pose relative to the clip's median pose). Clips are read one at a time and cut into windows that
pass through a bounded shuffle buffer, so the data never has to fit in memory; examples are cached up to a byte
budget because recomputing them is the slow part.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import tarfile
import tempfile
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from talkset.audio.io import Audio, AudioError, load_audio
from talkset.errors import TalksetError, one_line
from talkset.train import canonical
from talkset.train.features import SR, audio_features

log = logging.getLogger("talkset.train")

MODEL_FPS = 25.0  # the grid the model runs on; other rates are interpolated to and from it


class DataError(TalksetError):
    """A clip or input that cannot be used; one line naming the file and why."""


@dataclass
class ClipSource:
    """Where one clip's audio and annotations are, and who speaks in it.

    ``audio``/``keypoints`` are paths, or bytes (a WebDataset member) with ``audio_suffix`` telling the format.
    """

    id: str
    speaker: str
    metadata: dict[str, Any]
    audio: Path | bytes
    keypoints: Path | bytes
    audio_suffix: str = ".wav"
    origin: str = ""  # the folder or shard it came from, for messages


@dataclass
class ClipExample:
    """One clip on the model grid (``MODEL_FPS``); T frames."""

    id: str
    speaker: str
    metadata: dict[str, Any]
    features: np.ndarray  # (T, FEATURE_DIM) float32
    targets: np.ndarray  # (T, OUTPUT_DIM) float32: displacements (P*2, canonical units) then head pose (3, deg)
    valid: np.ndarray  # (T,) bool: a face was annotated near the frame
    rest: np.ndarray = field(repr=False)  # (478, 3) the clip's rest face, canonical units

    @property
    def nbytes(self) -> int:
        return self.features.nbytes + self.targets.nbytes + self.valid.nbytes + self.rest.nbytes


OUTPUT_DIM = len(canonical.TARGET_POINTS) * 2 + 3


# ---------------------------------------------------------------------------------------------- sources


def folder_sources(folder: str | Path) -> list[ClipSource]:
    """The kept clips of one curated folder that have audio and keypoint annotations.

    The only place training reads manifest records (``talkset.dataset`` does the reading), so a change of the
    manifest model touches this function alone.

    Raises:
        DataError: no readable manifest in ``folder``.
    """
    from talkset.dataset.webdataset import ExportError, load_manifest, resolve, select_clips

    try:
        root, records = load_manifest(folder)
    except ExportError as e:
        raise DataError(str(e)) from None
    out = []
    for rec in select_clips(records):
        meta = dict(rec.get("metadata") or {})
        kps = resolve(root, (rec.get("annotations") or {}).get("keypoints"))
        audio = resolve(root, rec.get("audio-path") or rec.get("video-path"))
        if kps is None or audio is None:
            log.warning("%s: clip %s has no %s; skipped", folder, rec["id"], "keypoints" if kps is None else "audio")
            continue
        out.append(ClipSource(rec["id"], str(meta.get("speaker_id") or rec.get("video-id") or rec["id"]), meta,
                              audio, kps, audio.suffix or ".wav", str(folder)))
    return out


def shard_sources(shard: str | Path) -> Iterator[ClipSource]:
    """Clips of one WebDataset shard from ``talkset export``, streamed member by member (a sample's members are
    consecutive in the tar). Samples without a ``kps.npz`` or audio member are skipped with a warning."""
    shard = Path(shard)

    def emit(key: str, members: dict[str, bytes]) -> ClipSource | None:
        rec = json.loads(members["json"]) if "json" in members else {}
        audio_ext = next((e for e in members if e not in ("json", "kps.npz", "caption.json", "mp4")), None)
        audio_ext = audio_ext or ("mp4" if "mp4" in members else None)
        if "kps.npz" not in members or audio_ext is None:
            log.warning("%s: sample %s has no keypoints or audio; skipped", shard, key)
            return None
        meta = dict(rec.get("metadata") or {})
        return ClipSource(rec.get("id", key), str(meta.get("speaker_id") or rec.get("video-id") or key), meta,
                          members[audio_ext], members["kps.npz"], "." + audio_ext, str(shard))

    try:
        with tarfile.open(shard, "r|*") as tar:
            key, members = None, {}
            for info in tar:
                if not info.isfile():
                    continue
                name = Path(info.name).name
                k, _, ext = name.partition(".")
                if k != key and key is not None:
                    got = emit(key, members)
                    if got is not None:
                        yield got
                    members = {}
                key = k
                member = tar.extractfile(info)
                assert member is not None  # a regular file (checked above)
                members[ext] = member.read()
            if key is not None:
                got = emit(key, members)
                if got is not None:
                    yield got
    except (OSError, tarfile.TarError) as e:
        raise DataError(f"{shard}: cannot read shard ({one_line(e)})") from None


def sources(inputs: Iterable[str | Path]) -> list[ClipSource]:
    """Clip sources of curated folders (or manifest.json files), shards (``.tar``) and folders of shards.

    Raises:
        DataError: an input is missing, or not a curated folder nor a shard.
    """
    out: list[ClipSource] = []
    for raw in inputs:
        p = Path(raw)
        if p.is_file() and p.suffix == ".tar":
            out += list(shard_sources(p))
        elif p.is_dir() and not (p / "manifest.json").is_file() and sorted(p.glob("*.tar")):
            for shard in sorted(p.glob("*.tar")):
                out += list(shard_sources(shard))
        elif p.exists():
            out += folder_sources(p)
        else:
            raise DataError(f"{p}: no such file or folder")
    ids = [s.id for s in out]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise DataError(f"clip id {dup!r} appears in more than one input")
    return out


# ---------------------------------------------------------------------------------------------- examples


def _load_audio(src: ClipSource) -> Audio:
    if isinstance(src.audio, Path):
        return load_audio(src.audio, sr=SR)
    with tempfile.NamedTemporaryFile(suffix=src.audio_suffix) as f:
        f.write(src.audio)
        f.flush()
        return load_audio(f.name, sr=SR)


def _load_npz(src: ClipSource) -> dict[str, np.ndarray]:
    data = src.keypoints if isinstance(src.keypoints, Path) else io.BytesIO(src.keypoints)
    with np.load(data) as z:
        return {k: z[k] for k in ("t", "face", "head_pose")}


def clip_truth(src: ClipSource) -> dict[str, np.ndarray]:
    """The annotated motion of a clip at its own frames: ``t`` (s), ``disp`` (N, P, 2), ``head`` (N, 3)
    relative to the clip's median pose, ``valid`` (N,), ``rest`` (478, 3).

    Raises:
        DataError: unreadable annotations or no face in any frame.
    """
    name = src.keypoints if isinstance(src.keypoints, Path) else f"{src.origin}:{src.id}.kps.npz"
    try:
        arrays = _load_npz(src)
    except (OSError, ValueError, KeyError) as e:
        raise DataError(f"{name}: cannot read annotations ({one_line(e)})") from None
    canon = canonical.canonical_faces(arrays["face"])
    valid = np.isfinite(canon).all(axis=(1, 2))
    if valid.sum() < 2:
        raise DataError(f"{name}: fewer than two frames with a face")
    rest = canonical.rest_face(canon)
    pose = arrays["head_pose"].astype(np.float64)
    head = pose - np.nanmedian(pose[valid], axis=0)
    return {"t": arrays["t"].astype(np.float64), "disp": canonical.displacements(canon, rest),
            "head": np.where(valid[:, None], head, np.nan).astype(np.float32), "valid": valid, "rest": rest}


def _to_grid(t: np.ndarray, values: np.ndarray, valid: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray,
                                                                                              np.ndarray]:
    """Linear interpolation of valid frames onto ``grid``; a grid point is valid when an annotated valid frame
    lies within one model frame of it."""
    tv = t[valid]
    flat = values[valid].reshape(len(tv), -1)
    out = np.stack([np.interp(grid, tv, flat[:, j]) for j in range(flat.shape[1])], axis=1)
    near = np.searchsorted(tv, grid)
    lo = np.abs(grid - tv[np.clip(near - 1, 0, len(tv) - 1)])
    hi = np.abs(tv[np.clip(near, 0, len(tv) - 1)] - grid)
    ok = np.minimum(lo, hi) <= 1.0 / MODEL_FPS
    return out.astype(np.float32), ok


def load_example(src: ClipSource) -> ClipExample:
    """Features and targets of one clip on the model grid.

    Raises:
        DataError: unreadable audio or annotations (one line naming the file).
    """
    truth = clip_truth(src)
    try:
        audio = _load_audio(src)
    except AudioError as e:
        raise DataError(str(e)) from None
    t = truth["t"]
    grid = np.arange(int(np.floor(t[-1] * MODEL_FPS)) + 1) / MODEL_FPS
    targets = np.concatenate([truth["disp"].reshape(len(t), -1), truth["head"]], axis=1)
    tg, ok = _to_grid(t, targets, truth["valid"], grid)
    feats = audio_features(audio, grid)
    return ClipExample(src.id, src.speaker, src.metadata, feats, tg, ok, truth["rest"])


class ExampleCache:
    """Examples kept in memory up to ``max_bytes`` (least recently used dropped first); beyond it they are
    recomputed when needed, so memory stays bounded however large the data."""

    def __init__(self, max_bytes: int = 512 * 2**20):
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, ClipExample] = OrderedDict()
        self._bytes = 0
        self.failed: dict[str, str] = {}

    def get(self, src: ClipSource) -> ClipExample | None:
        """The example, or None if the clip cannot be used (the reason is logged once and kept in ``failed``)."""
        if src.id in self.failed:
            return None
        if src.id in self._items:
            self._items.move_to_end(src.id)
            return self._items[src.id]
        try:
            ex = load_example(src)
        except DataError as e:
            self.failed[src.id] = str(e)
            log.warning("%s; clip skipped", e)
            return None
        self._items[src.id] = ex
        self._bytes += ex.nbytes
        while self._bytes > self.max_bytes and len(self._items) > 1:
            _, old = self._items.popitem(last=False)
            self._bytes -= old.nbytes
        return ex


# ---------------------------------------------------------------------------------------------- split and windows


def split_speakers(srcs: list[ClipSource], val_fraction: float, seed: int,
                   val_speakers: Iterable[str] | None = None) -> tuple[list[ClipSource], list[ClipSource]]:
    """(train, validation) with whole speakers held out: ``val_speakers`` if given, else the speakers whose
    seeded hash ranks in the lowest ``val_fraction`` (at least one when there are two or more speakers)."""
    speakers = sorted({s.speaker for s in srcs})
    if val_speakers is not None:
        held = set(val_speakers)
    elif val_fraction <= 0 or len(speakers) < 2:
        held = set()
    else:
        ranked = sorted(speakers, key=lambda s: hashlib.sha256(f"{seed}:{s}".encode()).hexdigest())
        held = set(ranked[:max(1, round(val_fraction * len(speakers)))])
    return [s for s in srcs if s.speaker not in held], [s for s in srcs if s.speaker in held]


WINDOW_OVERLAP = 4  # each frame is in about this many windows an epoch


def windows_in(n_frames: int, length: int) -> int:
    """Windows one clip of ``n_frames`` gives per epoch."""
    return max(1, int(round(WINDOW_OVERLAP * n_frames / length)))


def windows(srcs: list[ClipSource], cache: ExampleCache, *, length: int, rng: np.random.Generator,
            buffer: int = 256) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(features, targets, valid) windows of ``length`` frames from the clips in a seeded order.

    Each clip gives ``windows_in`` windows at random offsets (windows of short clips are padded and masked). Windows pass through a shuffle buffer of ``buffer`` windows, so a batch mixes clips.
    """
    pool: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for i in rng.permutation(len(srcs)):
        ex = cache.get(srcs[i])
        if ex is None:
            continue
        n = len(ex.features)
        for _ in range(windows_in(n, length)):
            start = int(rng.integers(0, max(1, n - length + 1)))
            f, y, v = (a[start:start + length] for a in (ex.features, ex.targets, ex.valid))
            if len(f) < length:
                pad = length - len(f)
                f = np.pad(f, ((0, pad), (0, 0)))
                y = np.pad(y, ((0, pad), (0, 0)))
                v = np.pad(v, (0, pad))
            pool.append((f, y, v))
            if len(pool) >= buffer:
                yield pool.pop(int(rng.integers(len(pool))))
    while pool:
        yield pool.pop(int(rng.integers(len(pool))))


def batches(stream: Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]], size: int
            ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Stacks windows into batches of ``size`` (the last one may be smaller)."""
    buf: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for item in stream:
        buf.append(item)
        if len(buf) == size:
            yield _stack(buf)
            buf = []
    if buf:
        yield _stack(buf)


def _stack(buf: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    f, y, v = zip(*buf)
    return np.stack(f), np.stack(y), np.stack(v)
