"""Export a curated folder as Parquet shards that Hugging Face ``datasets.load_dataset(DEST)`` reads with
declared, stable features.

WebDataset shards leave the types to the reader: ``datasets`` infers each JSON field from the values it
sees, so a field that is null in every clip of the first shard becomes type ``null`` and a later shard with a
value breaks the schema. Here every shard is written with one fixed Arrow schema (``schema()``), so a field that
is null in every clip is still a string or a number, and ``README.md`` declares the same features and the
data files (``dataset_info``, ``configs``) in the dataset-card YAML ``datasets`` reads.

One row per clip: the clip's mp4 and audio bytes (``binary``; decode them with any library: ``datasets``'
own Video/Audio features need torchcodec), the annotation npz bytes, the manifest's metadata and headline
scores as typed columns, and the whole manifest record as JSON text (``record``) so nothing is lost.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from talkset.dataset.records import KEPT
from talkset.dataset.webdataset import (
    DEFAULT_SHARD_SAMPLES,
    ExportError,
    ExportResult,
    Skipped,
    load_manifest,
    media_files,
    resolve,
    select_clips,
)
from talkset.files import atomic_file, atomic_write_bytes, fsync_dir

log = logging.getLogger("talkset.export")

# (column, Arrow type name, datasets dtype) in column order.
COLUMNS = (
    ("id", "string", "string"), ("video_id", "string", "string"), ("status", "string", "string"),
    ("video", "binary", "binary"), ("audio", "binary", "binary"), ("audio_format", "string", "string"),
    ("keypoints_npz", "binary", "binary"),
    ("source_path", "string", "string"), ("start_s", "float64", "float64"), ("end_s", "float64", "float64"),
    ("duration_s", "float64", "float64"), ("width", "int32", "int32"), ("height", "int32", "int32"),
    ("fps", "float64", "float64"), ("language", "string", "string"), ("gender", "string", "string"),
    ("age_group", "string", "string"), ("ethnicity", "string", "string"), ("speaker_id", "string", "string"),
    ("quality_score", "float64", "float64"), ("sync_confidence", "float64", "float64"),
    ("sync_offset_frames", "float64", "float64"), ("caption", "string", "string"),
    ("reasons", "list<string>", None), ("record", "string", "string"),
)
DATA_DIR = "data"


def schema():
    import pyarrow as pa

    types = {"string": pa.string(), "binary": pa.binary(), "float64": pa.float64(), "int32": pa.int32(),
             "list<string>": pa.list_(pa.string())}
    return pa.schema([(name, types[kind]) for name, kind, _ in COLUMNS])


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else (None if value is None else str(value))


def row_from_record(root: Path, rec: dict[str, Any], with_bytes: bool = True) -> dict[str, Any]:
    """One clip as a row of ``schema()`` (the only place that reads the record's fields); ``with_bytes=False``
    only checks the files and leaves the byte columns empty.

    Raises:
        ValueError: a missing video, audio or annotation file.
    """
    video, audio = media_files(root, rec)
    ann = rec.get("annotations") or {}
    kps = resolve(root, ann.get("keypoints"))
    if kps is not None and not kps.is_file():
        raise ValueError(f"missing annotation file {kps}")
    meta, scores, source = rec.get("metadata") or {}, rec.get("scores") or {}, rec.get("source") or {}
    width = height = None
    res = meta.get("resolution")
    if isinstance(res, str) and res.count("x") == 1 and all(p.isdigit() for p in res.split("x")):
        width, height = (int(p) for p in res.split("x"))
    sync = scores.get("sync") or {}
    return {
        "id": rec["id"], "video_id": _text(rec.get("video-id")), "status": _text(rec.get("status")),
        "video": video.read_bytes() if with_bytes else None,
        "audio": audio.read_bytes() if audio is not None and with_bytes else None,
        "audio_format": audio.suffix.lstrip(".").lower() if audio is not None else None,
        "keypoints_npz": kps.read_bytes() if kps is not None and with_bytes else None,
        "source_path": _text(source.get("path")), "start_s": _number(source.get("start")),
        "end_s": _number(source.get("end")), "duration_s": _number(meta.get("duration")),
        "width": width, "height": height, "fps": _number(meta.get("fps")),
        **{k: _text(meta.get(k)) for k in ("language", "gender", "age_group", "ethnicity", "speaker_id")},
        "quality_score": _number(meta.get("quality_score")), "sync_confidence": _number(sync.get("confidence")),
        "sync_offset_frames": _number(sync.get("offset_frames")), "caption": _text(ann.get("caption")),
        "reasons": [str(r) for r in rec.get("reasons") or []],
        "record": json.dumps(rec, ensure_ascii=False, allow_nan=False, sort_keys=True),
    }


def dataset_card(n_shards: int, samples: int) -> str:
    """README.md: the dataset-card YAML (features and data files) ``datasets`` reads, and a line of prose."""
    lines = ["---", "configs:", "- config_name: default", "  data_files:", "  - split: train",
             f"    path: {DATA_DIR}/train-*.parquet", "dataset_info:", "  features:"]
    for name, _, dtype in COLUMNS:
        lines.append(f"  - name: {name}")
        lines += ["    list: string"] if dtype is None else [f"    dtype: {dtype}"]
    lines += ["  splits:", "  - name: train", f"    num_examples: {samples}", "---", "",
              f"Clips exported by talkset ({samples} clips in {n_shards} Parquet shards). Load with "
              "`datasets.load_dataset(\"<this folder>\")`.", ""]
    return "\n".join(lines)


def export_hf(out: str | Path, dest: str | Path, *, statuses: tuple[str, ...] = (KEPT,),
              max_samples: int | None = None, force: bool = False) -> ExportResult:
    """Writes ``DEST/data/train-00000-of-0000N.parquet``… and ``DEST/README.md`` (see the module docstring).

    Args:
        out: the output folder of ``talkset curate`` (or its manifest.json).
        dest: the export folder; created if missing.
        statuses: which records to export.
        max_samples: clips per shard at most (default 1000).
        force: replace an earlier export in ``dest`` (its shards are removed once the new ones are in place).

    Raises:
        ExportError: unreadable manifest, or ``dest`` holds an earlier export and ``force`` is not set.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    max_samples = max_samples or DEFAULT_SHARD_SAMPLES
    root, records = load_manifest(out)
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise ExportError(f"{dest}: exists and is not a folder")
    old = sorted((dest / DATA_DIR).glob("train-*.parquet")) if dest.is_dir() else []
    if (old or (dest / "README.md").exists()) and not force:
        raise ExportError(f"{dest}: holds an earlier export ({len(old)} shards); pass --force to replace it")
    (dest / DATA_DIR).mkdir(parents=True, exist_ok=True)

    result = ExportResult(dest=str(dest))
    clips = []
    for rec in select_clips(records, statuses):
        try:
            row_from_record(root, rec, with_bytes=False)  # files are read per shard: memory holds one shard
            clips.append((root, rec))
        except (OSError, ValueError) as e:
            log.warning("export: skipping clip %s: %s", rec["id"], e)
            result.skipped.append(Skipped(rec["id"], str(e)))
    groups = [clips[i:i + max_samples] for i in range(0, len(clips), max_samples)] or [[]]
    table_schema = schema()
    for i, group in enumerate(groups):
        path = dest / DATA_DIR / f"train-{i:05d}-of-{len(groups):05d}.parquet"
        table = pa.Table.from_pylist([row_from_record(r, rec) for r, rec in group], schema=table_schema)
        with atomic_file(path) as f:
            pq.write_table(table, f)
        result.files.append(str(path))
    atomic_write_bytes(dest / "README.md", dataset_card(len(groups), len(clips)).encode("utf-8"))
    result.files.append(str(dest / "README.md"))
    written = {Path(p).name for p in result.files}
    for path in old:
        if path.name not in written:
            path.unlink()
    fsync_dir(dest / DATA_DIR)
    result.samples = len(clips)
    return result
