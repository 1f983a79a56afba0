"""The output folder: atomic per-video commits, completion markers, and a journal of the files talkset made.

Layout::

    OUT/clips/…                     clips and their audio (only files talkset made)
    OUT/manifest.json, .parquet     merged from the parts
    OUT/.talkset/parts/ID.json      one video's records, written atomically
    OUT/.talkset/done/ID            empty marker, written last: the video is finished
    OUT/.talkset/journal/ID.json    files this video places, written before they are placed

A rerun skips videos with a marker (unless their part asks for a retry). A file in ``clips/`` that no journal names is not ours and is never
replaced: the video that would overwrite it fails with that reason instead.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from talkset.errors import TalksetError
from talkset.files import atomic_write_bytes, atomic_write_json


class OutputBusy(TalksetError):
    """Another talkset run holds the output folder."""


class OutputStore:
    """One output folder; safe to share between worker processes (each video has its own files)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.clips = self.root / "clips"
        self.state = self.root / ".talkset"
        self.parts = self.state / "parts"
        self.done = self.state / "done"
        self.journal = self.state / "journal"
        self.tmp = self.state / "tmp"
        self.progress = self.state / "progress"

    @contextlib.contextmanager
    def exclusive(self, command: str):
        """Holds the folder's lock for one run; a second run on the same folder gets OutputBusy.

        The lock is an flock on ``.talkset/lock``: the kernel drops it when the holder dies, so a crashed or
        killed run never leaves the folder locked.

        Raises:
            OutputBusy: another process holds it (its pid, host and command are in the message).
        """
        self.state.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.state / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 500, 0).decode("utf-8", "replace").strip() or "unknown process"
                raise OutputBusy(f"{self.root}: in use by another talkset run ({holder}); "
                                 "wait for it to finish or stop it") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}, `talkset {command}` since "
                          f"{time.strftime('%Y-%m-%d %H:%M:%S')}".encode(), 0)
            yield self
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def create(self) -> None:
        for d in (self.clips, self.parts, self.done, self.journal, self.tmp, self.progress):
            d.mkdir(parents=True, exist_ok=True)

    def is_done(self, video_id: str) -> bool:
        """Finished for good: marker and part exist and the part is not marked ``retry``.

        A part marked ``retry`` (a crash, a clip name taken by a user's file) is in the manifest with its
        reason, and the next run tries the video again.
        """
        part = self.parts / f"{video_id}.json"
        if not ((self.done / video_id).exists() and part.exists()):
            return False
        return not json.loads(part.read_text(encoding="utf-8")).get("retry", False)

    def owned(self, video_id: str) -> set[str]:
        """Files (relative to the root) that an earlier attempt at this video recorded as its own."""
        path = self.journal / f"{video_id}.json"
        if not path.exists():
            return set()
        return set(json.loads(path.read_text()))

    def claim(self, video_id: str, relpaths: list[str]) -> str | None:
        """Records ``relpaths`` as this video's before they are written; returns a reason if one is taken.

        A path is taken when a file exists there that no attempt at this video made (a user's file, or
        another source's clip with a colliding name).
        """
        owned = self.owned(video_id)
        for rel in relpaths:
            if (self.root / rel).exists() and rel not in owned:
                return f"{self.root / rel} exists and was not made by talkset for this video; not overwriting"
        atomic_write_json(self.journal / f"{video_id}.json", sorted(owned | set(relpaths)))
        return None

    def temp_path(self, video_id: str, name: str) -> Path:
        d = self.tmp / video_id
        d.mkdir(parents=True, exist_ok=True)
        return d / name

    def place(self, tmp: Path, relpath: str) -> None:
        """Moves a finished temp file to its place (same file system, so the rename is atomic)."""
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        target = self.root / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)

    def report_progress(self, video_id: str, seconds_done: float, seconds_total: float) -> None:
        """Notes how far a worker is into a video (read by the progress bar; not needed for correctness)."""
        try:
            (self.progress / video_id).write_text(f"{seconds_done:.1f} {seconds_total:.1f}")
        except OSError:
            pass

    def in_flight_progress(self) -> tuple[int, float, float]:
        """(videos being analysed, seconds decoded, seconds in those videos) from the workers' notes."""
        n, done, total = 0, 0.0, 0.0
        for f in self.progress.glob("*") if self.progress.is_dir() else ():
            try:
                a, b = map(float, f.read_text().split())
            except (OSError, ValueError):
                continue
            n, done, total = n + 1, done + a, total + b
        return n, done, total

    def commit(self, video_id: str, part: dict[str, Any]) -> None:
        """Writes the video's part, then its completion marker: the video is finished only after both."""
        atomic_write_json(self.parts / f"{video_id}.json", part)
        marker = self.done / video_id
        atomic_write_bytes(marker, b"")
        (self.progress / video_id).unlink(missing_ok=True)
        tmpdir = self.tmp / video_id
        if tmpdir.is_dir():
            for leftover in tmpdir.iterdir():
                leftover.unlink()
            tmpdir.rmdir()

    def iter_parts(self):
        """Finished parts in id order."""
        for marker in sorted(self.done.iterdir()) if self.done.is_dir() else []:
            part = self.parts / f"{marker.name}.json"
            if part.exists():
                yield json.loads(part.read_text(encoding="utf-8"))
