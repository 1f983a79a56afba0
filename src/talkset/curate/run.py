"""``talkset curate`` as a function: expand inputs, run videos on an executor, merge the manifest, summarise."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from talkset.curate.config import Config
from talkset.curate.inputs import expand_inputs
from talkset.curate.pipeline import Outcome, commit_failure, curate_one
from talkset.curate.thresholds import apply
from talkset.dataset.manifest import ManifestWriter, parquet_schema
from talkset.dataset.records import CLIP, UNUSABLE, Funnel, Reason, Record
from talkset.files import atomic_write_bytes, atomic_write_json, back_up_unless_ours, sha1_file
from talkset.run.executor import ItemCrash, LocalExecutor
from talkset.run.store import OutputStore

log = logging.getLogger("talkset.curate")


@dataclass
class Summary:
    """What a curate run produced, over the whole output folder: the records' funnel plus run figures."""

    out_dir: str
    funnel: Funnel = field(default_factory=Funnel)
    hours_in: float = 0.0
    problems: list[str] = field(default_factory=list)  # inputs that named no usable file
    stage_seconds: dict[str, float] = field(default_factory=dict)
    wall_seconds: float = 0.0

    @property
    def manifest(self) -> Path:
        return Path(self.out_dir) / "manifest.json"

    @property
    def videos(self) -> int:
        return self.funnel.sources

    @property
    def failed_videos(self) -> int:
        return self.funnel.failed_sources

    @property
    def candidates(self) -> int:
        return self.funnel.candidates

    @property
    def clips_kept(self) -> int:
        return self.funnel.kept

    @property
    def hours_kept(self) -> float:
        return self.funnel.kept_seconds / 3600

    @property
    def kept_without_file(self) -> int:
        return self.funnel.kept_without_file

    @property
    def rejections(self) -> dict[str, int]:
        return self.funnel.rejections

    @property
    def failures(self) -> list[str]:
        """One line per problem: the inputs that were not videos, then each unusable source's reason."""
        return self.problems + [reason for _, reason in self.funnel.failures]

    def table(self) -> str:
        lines = [f"{'videos':<28}{self.videos}  ({self.failed_videos} unusable)",
                 f"{'hours in':<28}{self.hours_in:.4f}",
                 f"{'candidates':<28}{self.candidates}",
                 f"{'clips kept':<28}{self.clips_kept}",
                 f"{'hours kept':<28}{self.hours_kept:.4f}"]
        if self.rejections:
            lines.append("rejections by reason (a clip may have several):")
            lines += [f"  {k:<26}{v}" for k, v in sorted(self.rejections.items(), key=lambda kv: -kv[1])]
        if self.kept_without_file:
            lines.append(f"{self.kept_without_file} kept clips have no clip files yet (curated with --clips none, "
                         "or kept by these thresholds after being rejected): run `talkset cut OUT` to write them")
        return "\n".join(lines)


def curate(inputs: list[str | Path], out_dir: str | Path, *, config: Config | str | Path | None = None,
           workers: int | None = None, executor=None, progress: bool = True) -> Summary:
    """Curates videos into ``out_dir``: clips, manifest.json, manifest.parquet. Resumable.

    Args:
        inputs: video files, folders (searched recursively) and list files (.csv / .jsonl).
        out_dir: output folder; created if missing; earlier results in it are kept and skipped.
        config: a Config, a TOML path, or None for the defaults.
        workers: worker processes for the default local executor (default: number of cores).
        executor: any object with ``map_unordered(fn, items)`` (see talkset.run.executor); overrides workers.
        progress: show a progress bar.
    """
    started = time.perf_counter()
    if not isinstance(config, Config):
        config = Config.load(config)
    store = OutputStore(out_dir)
    with store.exclusive("curate"):
        return _curate_locked(store, inputs, config, workers, executor, progress, started)


def _curate_locked(store: OutputStore, inputs, config: Config, workers, executor, progress: bool,
                   started: float) -> Summary:
    store.create()
    jobs, problems = expand_inputs(inputs)
    for p in problems:
        log.warning("%s", p)
    if executor is None:
        executor = LocalExecutor(min(workers or os.cpu_count() or 1, max(1, len(jobs))))
    stage_seconds: Counter[str] = Counter()
    bar = tqdm(total=len(jobs), unit="video", disable=not progress, desc="curate")
    watcher = _ProgressWatcher(store, bar) if progress else None
    try:
        _run_jobs(store, jobs, config, executor, bar, watcher, stage_seconds)
    finally:
        if watcher:
            watcher.stop()
        bar.close()
    summary = merge(store, config)
    summary.problems = problems
    summary.stage_seconds = dict(stage_seconds)
    summary.wall_seconds = time.perf_counter() - started
    return summary


class _ProgressWatcher:
    """Shows, beside the bar, how far the workers are into the videos in flight (long videos would
    otherwise leave the bar still for minutes). Reads the notes workers leave in .talkset/progress."""

    def __init__(self, store: OutputStore, bar, period_s: float = 1.0):
        self.store, self.bar, self.period_s = store, bar, period_s
        self.kept = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="talkset-progress", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.period_s):
            n, done, total = self.store.in_flight_progress()
            note = f"kept {self.kept}"
            if n:
                note += f"; {n} in flight, {done / 60:.1f}/{total / 60:.1f} min decoded"
            self.bar.set_postfix_str(note)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


def _run_jobs(store: OutputStore, jobs, config: Config, executor, bar, watcher, stage_seconds) -> None:
    for job, outcome in executor.map_unordered(curate_one, [(j, str(store.root), config.data) for j in jobs]):
        job = job[0]
        if isinstance(outcome, ItemCrash):
            reason = commit_failure(store, job, Reason(UNUSABLE, f"{job.path}: {outcome.reason} "
                                                              "(the next run tries it again)"), retry=True)
            outcome = Outcome(job.video_id, job.path, failed=reason)
        if outcome.failed:
            log.warning("%s", outcome.failed)
        stage_seconds.update(outcome.stage_seconds)
        if watcher:
            watcher.kept += outcome.kept
        bar.update(1)


def filter_manifest(out_dir: str | Path, config: Config | str | Path | None) -> Summary:
    """Re-judges an output folder's records with ``config``'s thresholds and rewrites its manifests.

    Decodes nothing: scores are stored, and judging is a pass over them.

    Raises:
        FileNotFoundError: ``out_dir`` is not a talkset output folder.
        OutputBusy: another talkset run holds the folder.
    """
    store = _existing_store(out_dir)
    with store.exclusive("filter"):
        return merge(store, config if isinstance(config, Config) else Config.load(config))


MERGE_BATCH = 2000  # records per Parquet row group; memory in merge holds about this many


def merge(store: OutputStore, config: Config) -> Summary:
    """Merges every finished part into manifest.json and manifest.parquet, judged by ``config``'s thresholds.

    Streams: parts are read three times (speaker identities, the Parquet schema, the records) and memory
    holds one batch plus one 128-d descriptor per kept clip, whatever the number of videos. Records are
    ordered by video id, then id, so the manifest does not depend on the executor or on the order videos
    finished in. Speaker ids and structured captions (``annotations/{id}.caption.json``) are filled in here.
    """
    speakers = speaker_ids(store, config.annotate["speaker_distance"])

    def batches(summary: Summary | None = None):
        batch: list[Record] = []
        for part in store.iter_parts():
            if summary is not None:
                summary.hours_in += part.get("duration", 0.0) / 3600
            records = (apply(Record.from_dict(r), config.thresholds) for r in part["records"])
            batch += sorted((_finish(r, store, speakers) for r in records), key=lambda r: r.id)
            if len(batch) >= MERGE_BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    summary = Summary(out_dir=str(store.root))
    schema = parquet_schema(batches())
    tmp_json, tmp_parquet = store.tmp / "manifest.json.tmp", store.tmp / "manifest.parquet.tmp"
    with ManifestWriter(tmp_json, tmp_parquet, schema) as writer:
        for batch in batches(summary):
            writer.write_batch(batch)
            for rec in batch:
                summary.funnel.add(rec)
    for tmp, name in ((tmp_json, "manifest.json"), (tmp_parquet, "manifest.parquet")):
        _replace_manifest(store, tmp, name)
    atomic_write_json(store.state / "config.json", config.data)
    return summary


def _finish(rec: Record, store: OutputStore, speakers: dict[str, str]) -> Record:
    """Adds what is known only across videos or after curation: speaker id, structured caption file."""
    if rec.type != CLIP:
        return rec
    if rec.id in speakers:
        rec.metadata.speaker_id = speakers[rec.id]
    if rec.annotations.keypoints or rec.annotations.caption:
        caption_file = f"annotations/{rec.id}.caption.json"
        rec.annotations.caption_structured = caption_file if (store.root / caption_file).exists() else None
    return rec


def speaker_ids(store: OutputStore, max_distance: float) -> dict[str, str]:
    """Clip id → speaker id, by clustering the clips' face descriptors across all sources.

    Greedy leader clustering in manifest order (video id, then clip id): a clip joins the nearest speaker
    whose mean descriptor is closer than ``max_distance`` (dlib's same-person threshold), or starts a new
    one. Deterministic for a given set of clips, and linear in clips × speakers. A speaker is named after
    its first clip (``spk-`` and a hash of that clip's id), so a source that fails or is added later does
    not rename the other speakers.
    """
    ids: list[str] = []
    centroids: list[np.ndarray] = []
    counts: list[int] = []
    out: dict[str, str] = {}
    for part in store.iter_parts():
        for clip_id, vector in sorted((part.get("embeddings") or {}).items()):
            v = np.asarray(vector, np.float32)
            if centroids:
                d = np.linalg.norm(np.asarray(centroids) - v, axis=1)
                best = int(np.argmin(d))
                if d[best] < max_distance:
                    counts[best] += 1
                    centroids[best] += (v - centroids[best]) / counts[best]
                    out[clip_id] = ids[best]
                    continue
            ids.append("spk-" + hashlib.sha1(clip_id.encode()).hexdigest()[:10])
            centroids.append(v.copy())
            counts.append(1)
            out[clip_id] = ids[-1]
    return out


def _existing_store(out_dir: str | Path) -> OutputStore:
    store = OutputStore(out_dir)
    if not store.done.is_dir():
        raise FileNotFoundError(f"{out_dir}: not a talkset output folder (no .talkset/done)")
    return store


def refresh_manifest(out_dir: str | Path) -> Summary:
    """Rewrites an output folder's manifests from its parts with the thresholds last used there (after
    files were added beside the clips, e.g. structured captions).

    Raises:
        FileNotFoundError: ``out_dir`` is not a talkset output folder.
        OutputBusy: another talkset run holds the folder.
    """
    store = _existing_store(out_dir)
    saved = store.state / "config.json"
    config = Config.load(None)
    if saved.exists():
        _update(config.data, json.loads(saved.read_text()))
    with store.exclusive("refresh"):
        return merge(store, config)


def _update(base: dict, saved: dict) -> None:
    """Settings saved by an earlier merge over today's defaults (keys added since keep their default)."""
    for key, value in saved.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _update(base[key], value)
        elif key in base:
            base[key] = value


def _replace_manifest(store: OutputStore, tmp: Path, name: str) -> None:
    """Moves a finished manifest into place; one talkset did not write is first kept as a backup."""
    target, stamp = store.root / name, store.state / f"{name}.sha1"
    back_up_unless_ours(target, stamp.read_text() if stamp.exists() else None)
    digest = sha1_file(tmp)
    os.replace(tmp, target)
    atomic_write_bytes(stamp, digest.encode())


def cut_missing(out_dir: str | Path, config: Config) -> tuple[int, list[str]]:
    """Writes clip files for records that ``config`` keeps but that have none; updates parts and manifest.

    Returns:
        (clips written, one-line problems).
    """
    store = OutputStore(out_dir)
    with store.exclusive("cut"):
        return _cut_missing_locked(store, config)


def _cut_missing_locked(store: OutputStore, config: Config) -> tuple[int, list[str]]:
    from talkset.audio.io import AudioError, load_audio
    from talkset.curate.pipeline import Backends, VideoJob, annotate_record, clip_files, write_clip_files
    from talkset.media.cut import ClipWriteError
    from talkset.media.probe import ProbeError, probe

    written, problems = 0, []
    for part in store.iter_parts():
        records = [Record.from_dict(r) for r in part["records"]]
        missing = [r for r in records
                   if r.type == CLIP and r.video_path is None and not apply(r, config.thresholds).reasons]
        if not missing:
            continue
        job = VideoJob(part["path"], audio_path=missing[0].metadata.audio_source)
        try:
            info, audio = probe(job.path), load_audio(job.audio_path or job.path)
            # Clips curated with clips = "none" have their annotation from the pass already.
            planned = [p for r in missing for p in clip_files(r.id, config, annotation=not r.annotations.keypoints)]
            if store.claim(job.video_id, planned):
                raise ClipWriteError(f"{job.path}: a clip file name is taken by a file talkset did not make")
            for rec in missing:
                write_clip_files(job, info, rec, audio, store, config.output)
                if not rec.annotations.keypoints:
                    annotate_record(job, rec, audio, part.get("speech", []), store, config, Backends.get(),
                                    part.setdefault("embeddings", {}))
                written += 1
        except (ProbeError, AudioError, ClipWriteError) as e:
            problems.append(str(e))
            log.warning("%s", e)
        part["records"] = [r.to_dict() for r in records]
        atomic_write_json(store.parts / f"{part['video_id']}.json", part)
    merge(store, config)
    return written, problems
