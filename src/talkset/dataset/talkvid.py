"""TalkVid's released metadata ↔ our manifest.

TalkVid (FreedomIntelligence/TalkVid, README "Data Format"; the JSON lists on huggingface.co/datasets/
FreedomIntelligence/TalkVid) describes each clip as::

    {"id": "videovideoTr6MMsoWAog-scene1-scene1", "height": 1080, "width": 1920, "fps": 24.0,
     "start-time": 0.1, "start-frame": 0, "end-time": 5.14, "end-frame": 121, "durations": "5.042s",
     "info": {"Person ID": "597", "Ethnicity": "White", "Age Group": "60+", "Gender": "Male",
              "Video Link": "https://www.youtube.com/watch?v=…", "Language": "English",
              "Video Category": "Personal Experience"},
     "description": "…", "dover_scores": 8.9, "cotracker_ratio": 0.927,
     "head_detail": {"scores": {"avg_movement": …, "min_movement": …, "avg_rotation": …, …}}}

Import maps what means the same thing to our names: resolution, fps, span, language (as an ISO 639-1 code),
gender (lower case), age group, ethnicity, speaker (``talkvid-{Person ID}``), the head-detail scores (TalkVid's
six formulas are ours: ``scores.head_detail.{movement,rotation,completeness,resolution,orientation}.{avg,min}``),
the CoTracker ratio as ``scores.motion.track_survival`` (×100, our KLT survival measures the same thing) and the
description as ``annotations.caption``. DOVER is not our quality score and stays only in the original, which
is kept whole under ``metadata.talkvid``: exporting an imported record gives it back unchanged. Records of our
own curation are exported with the same keys, built from our fields, plus ``video-path``/``audio-path``.
"""
from __future__ import annotations

import copy
import json
import logging
import math
import re
from pathlib import Path
from typing import Any

from talkset.dataset.manifest import ManifestError, write_manifest
from talkset.dataset.records import CLIP, KEPT, Annotations, Metadata, Record, Scores, Span
from talkset.dataset.webdataset import ExportError, ExportResult, Skipped, load_manifest, resolve, select_clips
from talkset.files import atomic_write_bytes

log = logging.getLogger("talkset.talkvid")

LANGUAGES = {"English": "en", "Chinese": "zh", "Arabic": "ar", "Polish": "pl", "German": "de", "Russian": "ru",
             "French": "fr", "Korean": "ko", "Portuguese": "pt", "Japanese": "ja", "Thai": "th", "Spanish": "es",
             "Italian": "it", "Hindi": "hi"}
LANGUAGE_NAMES = {v: k for k, v in LANGUAGES.items()}
HEAD_SCORES = ("movement", "rotation", "completeness", "resolution", "orientation")
# TalkVid's head-detail pass thresholds (data_pipeline/config/config_0_0.yaml, head_filter.thresholds):
# passed = every score >= its threshold.
HEAD_THRESHOLDS = {"avg_movement": 80, "min_movement": 60, "avg_orientation": 70, "min_orientation": 30,
                   "avg_completeness": 100, "min_completeness": 100, "avg_resolution": 50, "min_resolution": 40,
                   "avg_rotation": 70, "min_rotation": 60, "face_consistency": 80}
REQUIRED = ("id", "start-time", "end-time")


class TalkVidError(ExportError):
    """A TalkVid metadata file that cannot be read at all."""


def read_talkvid(path: str | Path) -> list[Any]:
    """The items of a TalkVid metadata file: a JSON list, or JSON Lines (one record a line).

    Raises:
        TalkVidError: missing, unreadable or neither form.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TalkVidError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise TalkVidError(f"{path}: cannot read ({e})") from None
    try:
        items = json.loads(text)
    except ValueError as e:
        try:
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError:
            raise TalkVidError(f"{path}: not JSON or JSON Lines ({e})") from None
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list) or not items:
        raise TalkVidError(f"{path}: expected a JSON list of TalkVid clip records")
    return items


def youtube_id(url: str | None) -> str | None:
    """The video id of a YouTube watch / youtu.be / shorts link (as TalkVid's downloader reads it)."""
    if not url:
        return None
    m = re.search(r"(?:watch\?v=|youtu\.be/|/shorts/)([A-Za-z0-9_-]+)", url)
    return m.group(1) if m else None


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{name} is {value!r}, not a number")
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(f"{name} is {value!r}")
    return x


def _lower(value: Any) -> str | None:
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


def _clip_files(clips_dir: Path | None, vid: str | None, start: float, end: float) -> tuple[str | None, str | None]:
    """TalkVid's downloader names clips ``{vid}/{vid}_{n:03d}_{start:.3f}_{end:.3f}.mp4`` (and ``.m4a``)."""
    if clips_dir is None or vid is None:
        return None, None
    found = {}
    for ext in ("mp4", "m4a"):
        hits = sorted((clips_dir / vid).glob(f"{glob_escape(vid)}_*_{start:.3f}_{end:.3f}.{ext}"))
        found[ext] = str(hits[0].resolve()) if hits else None
    return found["mp4"], found["m4a"]


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def record_from_talkvid(item: dict[str, Any], clips_dir: Path | None = None) -> Record:
    """One TalkVid clip record as one of our manifest records (see the module docstring).

    Raises:
        ValueError: not a dict, or no usable id / start-time / end-time.
    """
    if not isinstance(item, dict):
        raise ValueError(f"a {type(item).__name__}, not a record")
    missing = [k for k in REQUIRED if k not in item]
    if missing:
        raise ValueError(f"no {', '.join(missing)}")
    cid = item["id"]
    if not isinstance(cid, str) or not cid or "/" in cid:
        raise ValueError(f"id {cid!r} is not a usable clip id")
    start, end = _number(item["start-time"], "start-time"), _number(item["end-time"], "end-time")
    if end <= start:
        raise ValueError(f"end-time {end} is not after start-time {start}")
    raw_info = item.get("info")
    info: dict[str, Any] = raw_info if isinstance(raw_info, dict) else {}
    link = info.get("Video Link") or info.get("video_link")
    vid = youtube_id(link) or cid.split("-scene")[0]
    width, height = item.get("width"), item.get("height")
    fps = item.get("fps")
    language = info.get("Language") or info.get("language")
    person = info.get("Person ID")

    head = ((item.get("head_detail") or {}).get("scores") or {}) if isinstance(item.get("head_detail"), dict) else {}
    scores: dict[str, Any] = {}
    head_detail = {name: {"avg": head[f"avg_{name}"], "min": head[f"min_{name}"]}
                   for name in HEAD_SCORES if f"avg_{name}" in head and f"min_{name}" in head}
    if head_detail:
        scores["head_detail"] = head_detail
    if isinstance(item.get("cotracker_ratio"), (int, float)):
        scores["motion"] = {"track_survival": round(100.0 * item["cotracker_ratio"], 4)}

    video_path, audio_path = _clip_files(clips_dir, youtube_id(link), start, end)
    return Record(
        id=cid, video_id=vid, source=Span(str(link or ""), start, end), type=CLIP,
        video_path=video_path, audio_path=audio_path,
        metadata=Metadata.from_dict({"duration": round(end - start, 6),
                  "resolution": f"{int(width)}x{int(height)}" if width and height else None,
                  "fps": float(fps) if isinstance(fps, (int, float)) else None,
                  "language": LANGUAGES.get(language, _lower(language)) if language is not None else None,
                  "speaker_id": f"talkvid-{person}" if person not in (None, "") else None,
                  "age_group": info.get("Age Group"), "gender": _lower(info.get("Gender")),
                  "ethnicity": info.get("Ethnicity"), "quality_score": None,
                  "video_category": info.get("Video Category"), "talkvid": copy.deepcopy(item)}),
        scores=Scores.from_dict(scores),
        annotations=Annotations(caption=item.get("description") if isinstance(item.get("description"), str) else None),
        status=KEPT)


def import_talkvid(path: str | Path, out: str | Path, *, clips_dir: str | Path | None = None,
                   force: bool = False) -> ExportResult:
    """Writes ``OUT/manifest.json`` and ``OUT/manifest.parquet`` from a TalkVid metadata file.

    Args:
        path: TalkVid's JSON list (or JSON Lines) of clip records.
        out: the folder for the manifest; created if missing.
        clips_dir: optional output folder of TalkVid's ``download_clips.py``; clips found there (by video id
            and span) get ``video-path`` / ``audio-path`` (absolute).
        force: replace a manifest already in ``out``.

    Returns:
        The manifest paths, the number of records and the items skipped with reasons (a bad item is
        reported, not fatal).

    Raises:
        TalkVidError: the file cannot be read, holds no usable record, or ``out`` has a manifest and
            ``force`` is not set.
    """
    path, out = Path(path), Path(out)
    items = read_talkvid(path)
    if (out / "manifest.json").exists() and not force:
        raise TalkVidError(f"{out / 'manifest.json'}: exists; pass --force to replace it")
    clips = Path(clips_dir) if clips_dir is not None else None
    result = ExportResult(dest=str(out))
    records, seen = [], set()
    for i, item in enumerate(items):
        raw_id = item.get("id") if isinstance(item, dict) else None
        label = raw_id if isinstance(raw_id, str) else f"item {i}"
        try:
            rec = record_from_talkvid(item, clips)
        except (ValueError, TypeError) as e:
            log.warning("%s: skipping %s: %s", path, label, e)
            result.skipped.append(Skipped(label, str(e)))
            continue
        if rec.id in seen:
            log.warning("%s: skipping %s: the id repeats", path, label)
            result.skipped.append(Skipped(label, "the id repeats"))
            continue
        seen.add(rec.id)
        records.append(rec)
    if not records:
        raise TalkVidError(f"{path}: no usable TalkVid record ({len(result.skipped)} skipped, e.g. "
                           f"{result.skipped[0].reason})")
    out.mkdir(parents=True, exist_ok=True)
    try:
        write_manifest(records, out)
    except ManifestError as e:
        raise TalkVidError(str(e)) from None
    result.samples = len(records)
    result.files = [str(out / "manifest.json"), str(out / "manifest.parquet")]
    return result


def talkvid_from_record(rec: dict[str, Any], root: Path) -> dict[str, Any]:
    """One of our records in TalkVid's format: the original for an imported record, else built from ours.

    Args:
        rec: a manifest record.
        root: the folder its paths are relative to (``video-path``/``audio-path`` are written absolute).
    """
    meta = rec.get("metadata") or {}
    if isinstance(meta.get("talkvid"), dict):
        return copy.deepcopy(meta["talkvid"])
    source = rec.get("source") or {}
    start, end = source.get("start"), source.get("end")
    fps = meta.get("fps")
    width = height = None
    if isinstance(meta.get("resolution"), str) and re.fullmatch(r"\d+x\d+", meta["resolution"]):
        width, height = (int(v) for v in meta["resolution"].split("x"))
    scores = rec.get("scores") or {}
    head = scores.get("head_detail") or {}
    head_scores = {f"{kind}_{name}": head[name][kind] for name in HEAD_SCORES
                   if isinstance(head.get(name), dict) for kind in ("avg", "min") if kind in head[name]}
    if isinstance(head.get("face_consistency"), (int, float)):
        head_scores["face_consistency"] = head["face_consistency"]
    survival = (scores.get("motion") or {}).get("track_survival")
    duration = meta.get("duration")
    if duration is None and start is not None and end is not None:
        duration = end - start
    # TalkVid's frame fields count the clip's own frames from start-time ([0, n) as in its README example:
    # start-frame 0 at start-time 0.1, end-frame 121 for 5.042 s at 24 fps); durations is n / fps in seconds.
    frames = round(duration * fps) if duration is not None and fps else None
    language = meta.get("language")
    speaker = meta.get("speaker_id")
    gender = meta.get("gender")
    video, audio = resolve(root, rec.get("video-path")), resolve(root, rec.get("audio-path"))
    return {
        "id": rec["id"], "height": height, "width": width, "fps": fps,
        # "start"/"end" repeat the times: TalkVid's download_clips.py reads `item.get("start-time") or
        # item.get("start")`, which takes a start of 0.0 for missing and drops the clip without "start".
        "start-time": start, "start": start, "start-frame": 0 if frames is not None else None,
        "end-time": end, "end": end, "end-frame": frames,
        "durations": (f"{round(frames / fps, 3)}s" if frames is not None
                      else f"{round(duration, 3)}s" if duration is not None else None),
        "info": {"Person ID": speaker, "Ethnicity": meta.get("ethnicity"), "Age Group": meta.get("age_group"),
                 "Gender": gender.capitalize() if isinstance(gender, str) else gender,
                 "Video Link": source.get("path"), "Language": LANGUAGE_NAMES.get(language, language) if language is not None else None,
                 "Video Category": meta.get("video_category")},
        "description": (rec.get("annotations") or {}).get("caption"),
        "dover_scores": None,
        "cotracker_ratio": round(survival / 100.0, 6) if isinstance(survival, (int, float)) else None,
        "head_detail": ({"scores": head_scores, "passed": head_passed(head_scores)} if head_scores else None),
        "video-path": str(video.resolve()) if video is not None else None,
        "audio-path": str(audio.resolve()) if audio is not None else None,
    }


def head_passed(scores: dict[str, float]) -> bool:
    """TalkVid's head-detail flag: every score at or above its threshold (a missing score fails)."""
    return all(isinstance(scores.get(k), (int, float)) and scores[k] >= t for k, t in HEAD_THRESHOLDS.items())


def export_talkvid(out: str | Path, dest: str | Path, *, statuses: tuple[str, ...] = (KEPT,),
                   force: bool = False) -> ExportResult:
    """Writes a manifest's clips as one TalkVid-format JSON list (``talkvid_from_record``), sorted by id.

    Raises:
        ExportError: unreadable manifest, or ``dest`` exists and ``force`` is not set.
    """
    root, records = load_manifest(out)
    dest = Path(dest)
    if dest.exists() and not force:
        raise ExportError(f"{dest}: exists; pass --force to replace it")
    if dest.is_dir():
        raise ExportError(f"{dest}: is a folder; give a .json file name")
    items = [talkvid_from_record(r, root) for r in select_clips(records, statuses)]
    text = "[\n" + ",\n".join(json.dumps(i, ensure_ascii=False, allow_nan=False) for i in items) + "\n]\n"
    atomic_write_bytes(dest, text.encode("utf-8"))
    return ExportResult(dest=str(dest), files=[str(dest)], samples=len(items))
