"""The manifest record: the one contract between curate, bench and animate.

Written as TalkVid-compatible JSON (a list of records) and as Parquet (one row per record, nested columns)
from the same dicts. Failed sources are records too (``type: "source"``, ``status: "failed"``) so that a
reason is never only in a log.
"""
from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
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


def video_id_for(path: str | Path) -> str:
    """A deterministic id for a source: its readable stem plus a hash of its resolved path."""
    path = Path(path)
    raw = str(path.resolve()).encode("utf-8", "surrogateescape")
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem.encode("ascii", "replace").decode())[:48].strip("._")
    return f"{stem or 'video'}-{hashlib.sha1(raw).hexdigest()[:8]}"


def clip_id_for(video_id: str, index: int) -> str:
    return f"{video_id}-{index:04d}"


def write_json(records: list[dict[str, Any]], path: Path) -> None:
    """Writes records as one JSON list (TalkVid's layout), one record a line for readable diffs."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("[\n")
        for i, rec in enumerate(records):
            f.write(json.dumps(rec, ensure_ascii=False, allow_nan=False))
            f.write(",\n" if i + 1 < len(records) else "\n")
        f.write("]\n")


def read_json(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_parquet(records: list[dict[str, Any]], path: Path) -> None:
    """Writes the same records as Parquet, nested dicts as struct columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    # Parquet has no struct without fields: an empty dict (a failed source's scores) is written as null.
    rows = [_empty_to_none(r) for r in records]
    table = pa.Table.from_pylist(rows) if rows else pa.table({"id": pa.array([], pa.string())})
    pq.write_table(table, path)


def _empty_to_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _empty_to_none(v) for k, v in value.items()} or None
    if isinstance(value, list):
        return [_empty_to_none(v) for v in value]
    return value
