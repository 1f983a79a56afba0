"""Export a curated folder as WebDataset tar shards: one sample per clip, deterministic bytes.

A sample is ``KEY.mp4``, ``KEY.wav`` (the clip's audio file, whatever its extension), ``KEY.json`` (the
manifest record) and, when the clip has them, ``KEY.kps.npz`` (the annotation npz) and ``KEY.caption.json``.
WebDataset splits a member name into key and extension at the first dot, so keys never contain one.

The same input gives byte-identical shards: samples sorted by key, members in a fixed order, every tar header
with mtime 0, uid/gid 0 and no user names. Each shard is written to a temp file and renamed into place; an
``index.json`` beside the shards lists the samples per shard and the clips that were skipped, with reasons.

The helpers that read a curated folder (``load_manifest``, ``select_clips``, ``resolve``) are shared by the
other exporters (V-Express, TalkVid).
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from talkset.dataset.manifest import ManifestError
from talkset.dataset.manifest import load_manifest as read_manifest
from talkset.dataset.records import CLIP, KEPT
from talkset.errors import TalksetError
from talkset.files import atomic_file, atomic_write_json, fsync_dir

log = logging.getLogger("talkset.export")

INDEX_NAME = "index.json"
DEFAULT_SHARD_SAMPLES = 1000


class ExportError(TalksetError):
    """The input or the destination cannot be used at all (one line, naming the file)."""


@dataclass
class Skipped:
    """A clip left out of an export, and why."""

    id: str
    reason: str


@dataclass
class ExportResult:
    """What an export wrote."""

    dest: str
    files: list[str] = field(default_factory=list)
    samples: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    incomplete: list[Skipped] = field(default_factory=list)  # written, but missing files a trainer needs
    notes: list[str] = field(default_factory=list)  # what the user should know (how to complete them)


def load_manifest(out: str | Path) -> tuple[Path, list[dict[str, Any]]]:
    """Reads a curated folder's manifest for an export (``talkset.dataset.manifest.load_manifest``, as dicts).

    Args:
        out: the output folder of ``talkset curate`` or its manifest.json.

    Returns:
        The folder the records' paths are relative to, and the records.

    Raises:
        ExportError: no manifest, unreadable JSON, or an entry that is not a record.
    """
    out = Path(out)
    path = out if out.suffix == ".json" and not out.is_dir() else out / "manifest.json"
    try:
        records = read_manifest(path)
    except ManifestError as e:
        raise ExportError(str(e)) from None
    return path.parent, [r.to_dict() for r in records]


def media_files(root: Path, rec: dict[str, Any]) -> tuple[Path, Path | None]:
    """A record's clip video and audio as paths (audio None when the record has none).

    Raises:
        ValueError: the video file is missing, or the audio file the record names is.
    """
    video = resolve(root, rec.get("video-path"))
    if video is None:
        raise ValueError(no_video_reason(rec))
    if not video.is_file():
        raise ValueError(f"missing video file {video}")
    audio = resolve(root, rec.get("audio-path"))
    if audio is not None and not audio.is_file():
        raise ValueError(f"missing audio file {audio}")
    return video, audio


def select_clips(records: list[dict[str, Any]], statuses: tuple[str, ...] = (KEPT,)) -> list[dict[str, Any]]:
    """Clip records (not failed sources) whose status is in ``statuses``, sorted by id."""
    return sorted((r for r in records if r.get("type", CLIP) == CLIP and r.get("status") in statuses),
                  key=lambda r: r["id"])


def no_video_reason(rec: dict[str, Any]) -> str:
    """Why a record has no clip file to export."""
    if rec.get("clip-mode") == "none":
        return "no clip file yet (curated with --clips none): run `talkset cut` on the output folder first"
    return "no video-path in the record"


def resolve(root: Path, relpath: str | None) -> Path | None:
    """A record path (relative to the manifest's folder, or absolute) as a path; None stays None."""
    if not relpath:
        return None
    p = Path(relpath)
    return p if p.is_absolute() else root / p


def safe_key(clip_id: str) -> str:
    """A WebDataset key for a clip id: letters, digits, ``_`` and ``-`` only (no dot, no slash).

    An id that had to change gets a short hash of the original, so two ids never map to one key.
    """
    key = re.sub(r"[^A-Za-z0-9_-]", "_", clip_id)
    if key != clip_id or not key:
        key = f"{key}_{hashlib.sha1(clip_id.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"
    return key


def _members(root: Path, rec: dict[str, Any], key: str) -> list[tuple[str, Path | bytes]] | str:
    """The members of one sample, in a fixed order, or the reason the clip cannot be exported."""
    video = resolve(root, rec.get("video-path"))
    if video is None:
        return no_video_reason(rec)
    if not video.is_file():
        return f"missing video file {video}"
    members: list[tuple[str, Path | bytes]] = [(f"{key}.mp4", video)]
    audio = resolve(root, rec.get("audio-path"))
    if audio is not None:
        if not audio.is_file():
            return f"missing audio file {audio}"
        members.append((f"{key}.{audio.suffix.lstrip('.').lower() or 'wav'}", audio))
    ann = rec.get("annotations") or {}
    for field_name, ext in (("keypoints", "kps.npz"), ("caption_structured", "caption.json")):
        path = resolve(root, ann.get(field_name))
        if path is None:
            continue
        if not path.is_file():
            return f"missing annotation file {path}"
        members.append((f"{key}.{ext}", path))
    record = json.dumps(rec, ensure_ascii=False, allow_nan=False).encode("utf-8")
    members.append((f"{key}.json", record))
    return members


def _size(member: Path | bytes) -> int:
    return len(member) if isinstance(member, bytes) else member.stat().st_size


def _add(tar: tarfile.TarFile, name: str, member: Path | bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = _size(member)
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if isinstance(member, bytes):
        tar.addfile(info, io.BytesIO(member))
    else:
        with open(member, "rb") as f:
            tar.addfile(info, f)
        if info.size != member.stat().st_size:
            raise OSError(f"{member} changed while it was being written")


def _plan(samples: list[tuple[str, list]], max_samples: int | None, max_bytes: int | None) -> list[list]:
    """Samples grouped into shards: a new shard starts when either limit would be passed (a sample larger
    than ``max_bytes`` gets a shard of its own)."""
    shards: list[list] = [[]]
    size = 0
    for sample in samples:
        nbytes = sum(512 + -(-_size(m) // 512) * 512 for _, m in sample[1])  # tar header + padded data
        full = shards[-1] and ((max_samples and len(shards[-1]) >= max_samples)
                               or (max_bytes and size + nbytes > max_bytes))
        if full:
            shards.append([])
            size = 0
        shards[-1].append(sample)
        size += nbytes
    return [s for s in shards if s]


def _write_shard(path: Path, samples: list[tuple[str, list]]) -> None:
    with atomic_file(path) as f, tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for _, members in samples:
            for name, member in members:
                _add(tar, name, member)


def _check_dest(dest: Path, prefix: str, force: bool) -> list[Path]:
    """Existing shards in ``dest``; an error unless ``force``."""
    if dest.exists() and not dest.is_dir():
        raise ExportError(f"{dest}: exists and is not a folder")
    old = sorted(dest.glob(f"{prefix}-*.tar")) if dest.is_dir() else []
    if (old or (dest / INDEX_NAME).exists()) and not force:
        raise ExportError(f"{dest}: holds an earlier export ({len(old)} shards); pass --force to replace it")
    return old


def export_webdataset(out: str | Path, dest: str | Path, *, max_samples: int | None = None,
                      max_bytes: int | None = None, statuses: tuple[str, ...] = (KEPT,),
                      prefix: str = "talkset", force: bool = False) -> ExportResult:
    """Writes the clips of a curated folder as WebDataset shards ``DEST/{prefix}-000000.tar``….

    Args:
        out: the output folder of ``talkset curate`` (or its manifest.json).
        dest: the folder for the shards and ``index.json``; created if missing.
        max_samples: clips per shard at most (default 1000 when ``max_bytes`` is not given either).
        max_bytes: bytes per shard at most (tar headers included); a single larger clip gets its own shard.
        statuses: which records to export (rejected clips usually have no files and are skipped).
        prefix: shard file names start with it.
        force: replace an earlier export in ``dest`` (its shards that the new export does not rewrite are
            removed after the new ones are in place).

    Returns:
        The shard paths, the number of samples and the skipped clips with reasons.

    Raises:
        ExportError: unreadable manifest, or ``dest`` holds an earlier export and ``force`` is not set.
    """
    if max_samples is None and max_bytes is None:
        max_samples = DEFAULT_SHARD_SAMPLES
    if (max_samples is not None and max_samples < 1) or (max_bytes is not None and max_bytes < 1):
        raise ExportError("shard limits must be positive")
    root, records = load_manifest(out)
    dest = Path(dest)
    old = _check_dest(dest, prefix, force)
    dest.mkdir(parents=True, exist_ok=True)

    result = ExportResult(dest=str(dest))
    samples: list[tuple[str, list]] = []
    keys: dict[str, str] = {}
    for rec in select_clips(records, statuses):
        key = safe_key(rec["id"])
        members = _members(root, rec, key)
        if isinstance(members, str):
            log.warning("export: skipping clip %s: %s", rec["id"], members)
            result.skipped.append(Skipped(rec["id"], members))
            continue
        if key in keys:
            raise ExportError(f"{out}: clip ids {keys[key]!r} and {rec['id']!r} repeat in the manifest")
        keys[key] = rec["id"]
        samples.append((key, members))
    samples.sort(key=lambda s: s[0])

    index: dict[str, Any] = {"format": "webdataset", "manifest": str(Path(out).resolve()), "samples": len(samples),
             "shards": [], "skipped": [vars(s) for s in result.skipped]}
    for i, shard in enumerate(_plan(samples, max_samples, max_bytes)):
        path = dest / f"{prefix}-{i:06d}.tar"
        _write_shard(path, shard)
        result.files.append(str(path))
        index["shards"].append({"url": path.name, "bytes": path.stat().st_size,
                                "keys": [k for k, _ in shard], "ids": [keys[k] for k, _ in shard]})
    result.samples = len(samples)
    atomic_write_json(dest / INDEX_NAME, index)
    written = {Path(p).name for p in result.files}
    for path in old:
        if path.name not in written:
            path.unlink()
    fsync_dir(dest)
    return result


def parse_bytes(text: str) -> int:
    """``"500MB"``, ``"2G"``, ``"1048576"`` → bytes (K, M, G, T are powers of 1000; KiB, MiB… of 1024)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?)B?\s*", text, flags=re.IGNORECASE)
    if not m:
        raise ValueError(f"not a size: {text!r} (e.g. 500MB, 2GiB)")
    base = 1024 if m.group(3) else 1000
    power = " KMGT".index(m.group(2).upper() or " ")
    return int(float(m.group(1)) * base ** power)
