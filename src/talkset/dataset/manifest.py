"""The manifest record: the one contract between curate, bench and animate.

Written as TalkVid-compatible JSON (a list of records) and as Parquet (one row per record, nested columns)
from the same dicts. Failed sources are records too (``type: "source"``, ``status: "failed"``) so that a
reason is never only in a log.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from collections.abc import Iterable
from typing import Any

KEPT, REJECTED, FAILED = "kept", "rejected", "failed"
CLIP, SOURCE = "clip", "source"


@dataclass
class Span:
    """Where a clip comes from, in seconds on the source's container clock."""

    path: str
    start: float
    end: float


@dataclass
class ClipRecord:
    """One candidate clip (kept or rejected) or one source that could not be used (failed)."""

    id: str
    video_id: str
    source: Span
    type: str = CLIP
    video_path: str | None = None
    audio_path: str | None = None
    description_path: str | None = None
    subtitle_path: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, Any] = field(default_factory=dict)
    annotations: dict[str, Any] = field(
        default_factory=lambda: {"keypoints": None, "shot_type": None, "caption": None})
    status: str = REJECTED
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """TalkVid's key spelling (``video-id``, ``video-path``…) plus ``type``."""
        d = asdict(self)
        return {_KEY_OUT.get(k, k): v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClipRecord:
        d = copy.deepcopy(d)
        kind = d.get("type", CLIP)
        if kind not in (CLIP, SOURCE):
            raise ValueError(f"unknown record type {kind!r}")
        kwargs = {_KEY_IN.get(k, k): v for k, v in d.items()}
        kwargs["source"] = Span(**kwargs["source"])
        return cls(**kwargs)


_KEY_OUT = {"video_id": "video-id", "video_path": "video-path", "audio_path": "audio-path",
            "description_path": "description-path", "subtitle_path": "subtitle-path"}
_KEY_IN = {v: k for k, v in _KEY_OUT.items()}


def printable_path(path: str | Path) -> str:
    """The path as valid UTF-8 text: bytes that are not UTF-8 (kept by Python as surrogates) become U+FFFD."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def video_id_for(path: str | Path) -> str:
    """A deterministic id for a source: the readable stem and a hash of its resolved path (a symlink and its
    target get the same id)."""
    path = Path(path).resolve()
    raw = str(path).encode("utf-8", "surrogateescape")
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem.encode("ascii", "replace").decode())[:48].strip("._")
    return f"{stem or 'video'}-{hashlib.sha1(raw).hexdigest()[:8]}"


def clip_id_for(video_id: str, index: int) -> str:
    return f"{video_id}-{index:04d}"


def write_json(records: Iterable[dict[str, Any]], path: Path) -> None:
    """Writes records as one JSON list (TalkVid's layout), a record a line, streaming."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("[")
        for i, rec in enumerate(records):
            f.write(",\n" if i else "\n")
            f.write(json.dumps(rec, ensure_ascii=False, allow_nan=False))
        f.write("\n]\n")


def read_json(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def parquet_schema(batches: Iterable[list[dict[str, Any]]]):
    """One Arrow schema that fits every record: the per-batch inferred schemas, unified permissively
    (a field null in one batch and typed in another takes the type; int and float become float)."""
    import pyarrow as pa

    schemas = [pa.Table.from_pylist([_empty_to_none(r) for r in batch]).schema for batch in batches if batch]
    if not schemas:
        return pa.schema([("id", pa.string())])
    return pa.unify_schemas(schemas, promote_options="permissive")


class ManifestWriter:
    """Writes manifest.json and manifest.parquet together, a batch of records at a time.

    Memory holds one batch, not the manifest: the JSON is streamed, and each batch is one Parquet row group
    with the fixed ``schema`` (from ``parquet_schema`` over the same records).
    """

    def __init__(self, json_path: Path, parquet_path: Path, schema):
        import pyarrow.parquet as pq

        self.schema = schema
        self._json = open(json_path, "w", encoding="utf-8")
        self._json.write("[")
        self._parquet = pq.ParquetWriter(parquet_path, schema)
        self._count = 0

    def write_batch(self, batch: list[dict[str, Any]]) -> None:
        import pyarrow as pa

        for rec in batch:
            self._json.write(",\n" if self._count else "\n")
            self._json.write(json.dumps(rec, ensure_ascii=False, allow_nan=False))
            self._count += 1
        if batch:
            rows = [_empty_to_none(r) for r in batch]
            self._parquet.write_table(pa.Table.from_pylist(rows, schema=self.schema))

    def close(self) -> None:
        self._json.write("\n]\n")
        self._json.flush()
        os.fsync(self._json.fileno())
        self._json.close()
        self._parquet.close()

    def __enter__(self) -> ManifestWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _empty_to_none(value: Any) -> Any:
    """Parquet has no struct without fields: an empty dict (a failed source's scores) becomes null."""
    if isinstance(value, dict):
        return {k: _empty_to_none(v) for k, v in value.items()} or None
    if isinstance(value, list):
        return [_empty_to_none(v) for v in value]
    return value
