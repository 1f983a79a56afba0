"""Writing files safely: a file appears whole or not at all, and a file talkset did not write is never replaced
without a backup. The one copy of these helpers: the output store, the manifests, the report, the exports,
kps files and the encoders (cut, animate) all write through here."""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger("talkset")

# Read once: os.umask can only be read by setting it, which is not safe once threads run.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(path: Path):
    """A binary file that appears at ``path`` only when the block finishes (temp file in the same folder,
    fsync, rename, fsync the folder); an error leaves nothing behind. The file gets the mode the umask gives
    (mkstemp alone would make it private)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_file(path) as f:
        f.write(data)


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, json.dumps(obj, ensure_ascii=False, indent=1, allow_nan=False).encode("utf-8"))


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """A path to write ``path``'s content to (for writers that want a name, like an encoder): renamed to
    ``path`` when the block finishes, deleted if it fails. The name keeps the suffix so the writer can tell
    the format from it."""
    part = path.with_name(f".{path.stem}.part{os.getpid()}{path.suffix}")
    try:
        yield part
        with open(part, "rb") as f:
            os.fsync(f.fileno())
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)


def sha1_file(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def back_up_unless_ours(path: Path, our_sha1: str | None) -> Path | None:
    """Moves ``path`` aside (``NAME.YYYYmmdd-HHMMSS.bak``) unless it is the file talkset last wrote there
    (sha1 ``our_sha1``); returns the backup's path, or None when nothing was moved."""
    if not path.exists() or (our_sha1 is not None and sha1_file(path) == our_sha1):
        return None
    backup = path.with_name(f"{path.name}.{time.strftime('%Y%m%d-%H%M%S')}.bak")
    os.replace(path, backup)
    log.warning("%s was not written by talkset (or was changed since); kept as %s", path, backup.name)
    return backup
