"""Manifests: a list of typed records (``talkset.dataset.records``) on disk.

Written as TalkVid-compatible JSON (a list of records) and as Parquet (one row per record, nested columns)
from the same ``Record.to_dict``. Failed sources are records too (``type: "source"``, ``status: "failed"``)
so that a reason is never only in a log. ``load_manifest`` is the one reader.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from talkset.dataset.records import Record
from talkset.errors import TalksetError, one_line


class ManifestError(TalksetError):
    """A manifest cannot be read or is not a talkset manifest; the message names the file and why."""


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


def load_manifest(path: str | Path) -> list[Record]:
    """The records of a manifest: a curate output folder or its manifest.json (talkset 0.1's too).

    Raises:
        ManifestError: no manifest there, unreadable JSON, or an entry that is not a record (the first bad
            entry is named).
    """
    path = Path(path)
    if path.is_dir() or path.suffix != ".json":
        path = path / "manifest.json"
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise ManifestError(f"{path}: no manifest (expected the output folder of `talkset curate`)") from None
    except (OSError, ValueError) as e:
        raise ManifestError(f"{path}: cannot read manifest ({one_line(e)})") from None
    if not isinstance(data, list):
        raise ManifestError(f"{path}: not a manifest (a JSON list of records)")
    try:
        return [Record.from_dict(d) for d in data]
    except (ValueError, KeyError, TypeError) as e:
        raise ManifestError(f"{path}: {one_line(e)}") from None


def write_manifest(records: Iterable[Record], out: Path, batch: int = 1000) -> None:
    """``out/manifest.json`` and ``out/manifest.parquet`` through temp names, renamed into place together."""
    import pyarrow as pa

    records = list(records)
    tmp_json, tmp_parquet = out / f".manifest.json.tmp{os.getpid()}", out / f".manifest.parquet.tmp{os.getpid()}"
    batches = [records[i:i + batch] for i in range(0, len(records), batch)]
    try:
        with ManifestWriter(tmp_json, tmp_parquet, parquet_schema(batches)) as writer:
            for b in batches:
                writer.write_batch(b)
        os.replace(tmp_parquet, out / "manifest.parquet")
        os.replace(tmp_json, out / "manifest.json")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        # e.g. a field that is a number in one record and text in another
        raise ManifestError(f"{out}: records do not fit one Parquet schema ({one_line(e)})") from None
    finally:
        tmp_json.unlink(missing_ok=True)
        tmp_parquet.unlink(missing_ok=True)


def parquet_schema(batches: Iterable[list[Record]]):
    """One Arrow schema that fits every record: the per-batch inferred schemas, unified permissively
    (a field null in one batch and typed in another takes the type; int and float become float)."""
    import pyarrow as pa

    schemas = [pa.Table.from_pylist([_empty_to_none(r.to_dict()) for r in batch]).schema for batch in batches if batch]
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

    def write_batch(self, records: list[Record]) -> None:
        import pyarrow as pa

        batch = [r.to_dict() for r in records]
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
