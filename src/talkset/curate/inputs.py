"""Inputs: files, folders (recursive), or list files (CSV or JSONL with path, audio_path, subtitle_path, and
optional per-source language, gender, age_group, ethnicity)."""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from talkset.curate.pipeline import SOURCE_METADATA, VideoJob
from talkset.errors import TalksetError

VIDEO_EXTENSIONS = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".ts", ".mts", ".flv", ".mpg", ".mpeg",
                    ".wmv", ".3gp"}
LIST_EXTENSIONS = {".csv", ".jsonl"}


class InputError(TalksetError):
    """An input argument that cannot be expanded (missing path, malformed list file)."""


def expand_inputs(paths: list[str | Path]) -> tuple[list[VideoJob], list[str]]:
    """Jobs for every video named by ``paths``, in a stable order, and one-line problems found on the way.

    A file given directly is taken as a video whatever its extension (probing will say if it is not);
    inside folders only video extensions are taken. Paths in a list file are relative to the list file.
    """
    jobs: list[VideoJob] = []
    problems: list[str] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            jobs += [VideoJob(str(f)) for f in _walk(p)]
        elif p.suffix.lower() in LIST_EXTENSIONS and p.is_file():
            got, bad = _read_list(p)
            jobs += got
            problems += bad
        else:
            # Missing or odd files become jobs too, so their reason lands in the manifest.
            jobs.append(VideoJob(str(p)))
    seen: set[str] = set()
    unique = []
    for job in jobs:
        if job.video_id not in seen:
            seen.add(job.video_id)
            unique.append(job)
    return unique, problems


def _walk(root: Path) -> list[Path]:
    found = []
    # followlinks=False: a symlink loop in a folder cannot make the walk endless.
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            f = Path(dirpath) / name
            if f.suffix.lower() in VIDEO_EXTENSIONS and not name.startswith("."):
                found.append(f)
    return found


def _read_list(path: Path) -> tuple[list[VideoJob], list[str]]:
    rows: list[dict] = []
    problems: list[str] = []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        return [], [f"{path}: cannot read list file ({e})"]
    if path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
        if rows and "path" not in rows[0]:
            return [], [f"{path}: CSV list needs a 'path' column"]
    else:
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                problems.append(f"{path}:{n}: not JSON ({e.msg})")
                continue
            if not isinstance(row, dict) or "path" not in row:
                problems.append(f"{path}:{n}: a JSONL row needs a 'path' key")
                continue
            rows.append(row)
    jobs = []
    for row in rows:
        def resolve(key: str, row: dict = row) -> str | None:
            value = (row.get(key) or "").strip() if isinstance(row.get(key), str) else row.get(key)
            return str(path.parent / value) if value else None

        video = resolve("path")
        if video is None:
            problems.append(f"{path}: a row has an empty path")
            continue
        facts = tuple((k, str(row[k]).strip()) for k in SOURCE_METADATA if row.get(k) not in (None, "")
                      and str(row[k]).strip())
        jobs.append(VideoJob(video, audio_path=resolve("audio_path"), subtitle_path=resolve("subtitle_path"),
                             metadata=facts))
    return jobs, problems
