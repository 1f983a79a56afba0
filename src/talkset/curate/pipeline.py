"""One source video → its manifest records and clips: probe, audio + VAD, one video pass, segment, score, cut.

``curate_one`` is the unit an executor runs; it never raises for bad input: the reason goes into a record.
"""
from __future__ import annotations

import logging
import math
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np

from talkset.audio.io import AudioError, load_audio
from talkset.audio.vad import SileroVAD
from talkset.curate.analyze import analyze
from talkset.curate.annotate import Annotators, PassAnnotation, annotate_clip, audio_facts, clip_annotation
from talkset.curate.caption import template_caption
from talkset.curate.config import Config
from talkset.curate.scores.registry import Candidate, score
from talkset.curate.scores.sync import SyncAudio
from talkset.curate.segment import candidates, join_speech, shots_from_cuts
from talkset.curate.thresholds import apply
from talkset.dataset.manifest import clip_id_for, printable_path, video_id_for
from talkset.dataset.records import (
    CLIP,
    FAILED,
    KEPT,
    REJECTED,
    SOURCE,
    UNUSABLE,
    Annotations,
    Metadata,
    Reason,
    Record,
    Scores,
    Span,
)
from talkset.errors import one_line
from talkset.media.cut import ClipWriteError, write_clip
from talkset.media.probe import ProbeError, VideoInfo, probe
from talkset.run.store import OutputStore
from talkset.run.timing import StageTimer

log = logging.getLogger(__name__)

# Per-source facts a list file may give (TalkVid's subgroups: what bench stratifies by); copied to every clip.
SOURCE_METADATA = ("language", "gender", "age_group", "ethnicity")


@dataclass(frozen=True)
class VideoJob:
    """One source: a video, optionally with its audio in a separate file, a subtitle file, and known facts
    about its speaker (``SOURCE_METADATA`` keys, as (key, value) pairs)."""

    path: str
    audio_path: str | None = None
    subtitle_path: str | None = None
    metadata: tuple[tuple[str, str], ...] = ()

    @property
    def video_id(self) -> str:
        return video_id_for(self.path)


@dataclass
class Outcome:
    """What a worker reports back for one video (small: records stay on disk)."""

    video_id: str
    path: str
    skipped: bool = False
    failed: str | None = None
    kept: int = 0
    rejected: int = 0
    duration_s: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)


class Backends:
    """Models created once per worker process, not per video."""

    _instance: Backends | None = None

    def __init__(self):
        from talkset.vision.face import NATIVE_FILTER_ENV, FaceDetector, FaceMesher, filter_native_stderr

        if os.environ.get(NATIVE_FILTER_ENV) == "1":
            filter_native_stderr()

        self.vad = SileroVAD()
        self.detector = FaceDetector()
        self.mesher = FaceMesher()
        self._annotators: Annotators | None = None

    def annotators(self, cfg: dict[str, Any]) -> Annotators:
        """The annotation models: a mesher of their own (tracking state is per clip), pose, hands, dlib."""
        if self._annotators is None:
            from talkset.vision.face import FaceMesher
            from talkset.vision.identity import FaceEmbedder
            from talkset.vision.pose import BodyPoser, HandPoser

            self._annotators = Annotators(self.detector, FaceMesher(), BodyPoser(), HandPoser(),
                                          FaceEmbedder(landmarks=68))
        a = self._annotators
        return Annotators(a.detector, a.mesher, a.body if cfg["body"] else None,
                          a.hands if cfg["hands"] else None, a.embedder if cfg["speaker_embedding"] else None)

    @classmethod
    def get(cls) -> Backends:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance


def _clean(obj: Any) -> Any:
    """NaN/inf → None and numpy scalars → Python, so records are strict JSON."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def source_record(job: VideoJob, status: str, reason: Reason, info: VideoInfo | None = None) -> Record:
    """A record for a source that gave no candidate clip (failed, or nothing to keep)."""
    meta = Metadata(duration=info.duration_s, resolution="{}x{}".format(*info.display_size)) if info else Metadata()
    subtitle = printable_path(job.subtitle_path) if job.subtitle_path else None
    return Record(id=job.video_id, video_id=job.video_id, type=SOURCE,
                  source=Span(printable_path(job.path), 0.0, info.duration_s if info else 0.0),
                  subtitle_path=subtitle, metadata=meta, status=status, reasons=[reason])


def analyse_video(job: VideoJob, config: Config, backends: Backends, progress=None
                  ) -> tuple[VideoInfo, list[Record], Any, dict]:
    """Probe, audio, VAD and the single video pass; returns (info, clip records, audio, stage seconds).

    Raises:
        ProbeError, AudioError: the source cannot be used.
    """
    seg, ana = config.segment, config.analysis
    timer = StageTimer()
    with timer("probe"):
        info = probe(job.path)
    if not info.has_audio and job.audio_path is None:
        raise AudioError(f"{job.path}: no audio stream (give the audio with audio_path in a list file)")
    with timer("audio"):
        audio = load_audio(job.audio_path or job.path, sr=16000)
    with timer("vad"):
        speech = backends.vad.speech_segments(audio)
    utterances = join_speech(speech, seg["speech_join_gap_s"], seg["speech_pad_s"])
    fps = float(info.fps)
    regions = [(a - 0.5, b + 0.5) for a, b in utterances if b - a >= seg["min_clip_s"]]
    annotators = backends.annotators(config.annotate) if config.annotate["keypoints"] else None
    analysis = analyze(job.path, rotation_deg=info.rotation_deg, fps=fps, regions=regions,
                       detector=backends.detector, mesher=backends.mesher, segment_cfg=seg, analysis_cfg=ana,
                       annotators=annotators, annotate_cfg=config.annotate,
                       progress=(lambda t: progress(t, info.duration_s)) if progress else None)
    for stage, spent in analysis.stage_seconds.items():
        timer.add(stage, spent)
    with timer("sync_audio"):
        # Phones only where faces were measured (speech long enough to be a clip), with the search margin.
        sync_audio = SyncAudio.from_audio(audio, phones=ana["sync_phones"],
                                          regions=[(a - 1.0, b + 1.0) for a, b in regions])
    with timer("score"):
        records = _score_candidates(job, info, analysis, utterances, sync_audio, config)
    cut_info = {"cuts": [round(t, 4) for t in analysis.cut_times], "speech": [[round(a, 3), round(b, 3)] for a, b in speech]}
    return info, records, audio, {"seconds": timer.as_dict(), "annotation": analysis.annotation, **cut_info}


def _score_candidates(job: VideoJob, info: VideoInfo, analysis, utterances, sync_audio: SyncAudio,
                      config: Config) -> list[Record]:
    """The candidate clips of one source (shots ∩ speech) with every scorer's result."""
    seg, ana = config.segment, config.analysis
    fps = float(info.fps)
    times = analysis.frame_times
    if not len(times):
        raise ProbeError(f"{job.path}: no decodable video frame")
    video_end = float(times[-1]) + 1.0 / fps
    shots = shots_from_cuts(analysis.cut_times, float(times[0]), video_end)
    spans = candidates(shots, utterances, min_clip_s=seg["min_clip_s"], max_clip_s=seg["max_clip_s"],
                       boundary_trim_s=seg["boundary_trim_s"], video_start_s=float(times[0]), video_end_s=video_end)
    w, h = info.display_size
    # Containers without a bit rate (some muxers write 0) get it from the file size.
    bit_rate = info.bit_rate or os.path.getsize(job.path) * 8 / info.duration_s
    bpp = bit_rate / (info.width * info.height * float(info.avg_fps))
    records = []
    known = dict(job.metadata)
    for index, (start, end) in enumerate(spans):
        scores = _clean(score(Candidate(start, end, fps, analysis, sync_audio, bpp, ana)))
        rec = Record(
            id=clip_id_for(job.video_id, index), video_id=job.video_id, source=Span(job.path, start, end),
            subtitle_path=job.subtitle_path,
            metadata=Metadata(duration=round(end - start, 4), resolution=f"{w}x{h}", fps=float(f"{fps:.6g}"),
                              language=known.get("language"), age_group=known.get("age_group"),
                              gender=known.get("gender"), ethnicity=known.get("ethnicity"),
                              quality_score=scores["quality"]["score"], video_codec=info.video_codec,
                              audio_source=job.audio_path or job.path),
            scores=Scores.from_dict(scores))
        records.append(rec)
    return records


def process_video(job: VideoJob, store: OutputStore, config: Config, backends: Backends) -> Outcome:
    """Curates one source and commits its records (and kept clips) to ``store``. Raises nothing for bad input."""
    outcome = Outcome(job.video_id, job.path)
    for name in (job.path, job.audio_path, job.subtitle_path):
        if name is not None and printable_path(name) != name:
            # Such a name cannot be written into a UTF-8 manifest and read back as the same file.
            reason = _unusable(f"{printable_path(name)}: file name is not valid UTF-8; rename the file")
            outcome.failed = commit_failure(store, job, reason, retry=False)
            return outcome
    try:
        info, records, audio, extra = analyse_video(job, config, backends, _throttled(store, job.video_id))
    except (ProbeError, AudioError, av.FFmpegError) as e:
        why = one_line(e, 1000) if not isinstance(e, av.FFmpegError) else f"{job.path}: decoding failed ({one_line(e)})"
        outcome.failed = commit_failure(store, job, _unusable(why), retry=False)
        return outcome
    outcome.duration_s = info.duration_s
    outcome.stage_seconds = extra["seconds"]
    records = [apply(rec, config.thresholds) for rec in records]
    kept = [r for r in records if r.status == KEPT]
    timer = StageTimer()
    no_files = config.output["clips"] == "none"
    with timer("write"):
        if kept:
            planned = [p for r in kept for p in clip_files(r.id, config, media=not no_files)]
            taken = store.claim(job.video_id, planned)
            if taken:
                outcome.failed = commit_failure(store, job, _unusable(f"{taken} (move it away and rerun)"), retry=True,
                                                info=info)
                return outcome
            for rec in kept:
                if no_files:
                    rec.clip_mode = "none"
                    continue
                try:
                    write_clip_files(job, info, rec, audio, store, config.output)
                except ClipWriteError as e:
                    rec.status, rec.reasons = REJECTED, [Reason("write", f"write: {e}")]
    outcome.stage_seconds["write"] = timer.seconds["write"]
    embeddings: dict[str, list[float]] = {}
    with timer("annotate"):
        for rec in kept:
            if rec.status == KEPT:
                annotate_record(job, rec, audio, extra["speech"], store, config, backends, embeddings,
                                track=extra["annotation"])
    outcome.stage_seconds["annotate"] = timer.seconds["annotate"]
    if not records:
        records = [source_record(job, REJECTED, Reason("segment", _why_no_candidate(extra, config)), info)]
    store.commit(job.video_id, {"video_id": job.video_id, "path": job.path, "duration": info.duration_s,
                                "probe": info.to_dict(), **{k: extra[k] for k in ("cuts", "speech")},
                                "embeddings": embeddings, "records": [r.to_dict() for r in records]})
    outcome.kept = sum(r.status == KEPT for r in records if r.type == CLIP)
    outcome.rejected = sum(r.status == REJECTED for r in records if r.type == CLIP)
    return outcome


def _throttled(store: OutputStore, video_id: str, every_s: float = 2.0):
    """A progress callback that notes the position in the video at most every ``every_s`` of wall time."""
    last = [0.0]

    def report(t: float, duration: float) -> None:
        now = time.monotonic()
        if now - last[0] >= every_s:
            last[0] = now
            store.report_progress(video_id, t, duration)

    return report


def _unusable(text: str) -> Reason:
    return Reason(UNUSABLE, printable_path(text))


def commit_failure(store: OutputStore, job: VideoJob, reason: Reason, *, retry: bool,
                   info: VideoInfo | None = None) -> str:
    """Commits a failed-source record; ``retry`` leaves the video to be tried again by the next run."""
    store.commit(job.video_id, {"video_id": job.video_id, "path": printable_path(job.path), "retry": retry,
                                "duration": info.duration_s if info else 0.0,
                                "records": [source_record(job, FAILED, reason, info).to_dict()]})
    return reason.text


def _why_no_candidate(extra: dict, config: Config) -> str:
    if not extra["speech"]:
        return "segment: no speech found"
    return (f"segment: no speech of at least {config.segment['min_clip_s']:g} s within one shot "
            f"({len(extra['speech'])} speech segments, {len(extra['cuts'])} cuts)")


def write_clip_files(job: VideoJob, info: VideoInfo, rec: Record, audio, store: OutputStore,
                     output: dict[str, Any]) -> None:
    """Writes a kept record's clip (mp4) and its 16 kHz audio (wav), and points the record at them; the
    encoder settings are those of ``output["clips"]`` (``encode``, or ``fast``; ``none`` is written as
    ``encode``: the user asked for the files now)."""
    import soundfile as sf

    start, end = rec.source.start, rec.source.end
    mode = "fast" if output["clips"] == "fast" else "encode"
    preset, crf = (output["fast_preset"], output["fast_crf"]) if mode == "fast" else (output["video_preset"],
                                                                                        output["video_crf"])
    tmp_mp4 = store.temp_path(job.video_id, f"{rec.id}.mp4")
    write_clip(Path(job.path), start, end, tmp_mp4,
               audio_path=Path(job.audio_path) if job.audio_path else None, rotation_deg=info.rotation_deg,
               preset=preset, crf=crf)
    tmp_wav = store.temp_path(job.video_id, f"{rec.id}.wav")
    sf.write(tmp_wav, audio.slice(start, end), audio.sr, subtype="PCM_16", format="WAV")
    store.place(tmp_mp4, f"clips/{rec.id}.mp4")
    store.place(tmp_wav, f"clips/{rec.id}.wav")
    rec.video_path, rec.audio_path = f"clips/{rec.id}.mp4", f"clips/{rec.id}.wav"
    rec.clip_mode = mode


def clip_files(clip_id: str, config: Config, *, media: bool = True, annotation: bool = True) -> list[str]:
    """Paths (relative to the output folder) a kept clip's files take: its mp4 and wav (``media``) and its
    keypoints (``annotation``, when the config annotates)."""
    files = [f"clips/{clip_id}.mp4", f"clips/{clip_id}.wav"] if media else []
    return files + ([f"annotations/{clip_id}.npz"] if annotation and config.annotate["keypoints"] else [])


def annotate_record(job: VideoJob, rec: Record, audio, speech: list, store: OutputStore, config: Config,
                    backends: Backends, embeddings: dict[str, list[float]], track: PassAnnotation | None = None
                    ) -> None:
    """Annotates a kept record: keypoints file, shot type, facts and the template caption.

    The keypoints come from the video pass (``track``) when there is one; without it (a clip cut later, after
    ``talkset filter`` kept it) from the written clip's own pixels. A clip whose annotation fails stays kept with
    empty annotations and a warning: the clip itself is good.
    """
    cfg = config.annotate
    start, end = rec.source.start, rec.source.end
    meta = rec.metadata
    in_clip = [(max(a, start) - start, min(b, end) - start) for a, b in speech if b > start and a < end]
    facts: dict[str, Any] = {"language": meta.language, "duration": meta.duration,
                             "resolution": meta.resolution, "fps": meta.fps,
                             **audio_facts(audio.slice(start, end), audio.sr, in_clip)}
    annotations = Annotations()
    if cfg["keypoints"]:
        try:
            if track is not None:
                ann = clip_annotation(track, start, end, embedder=backends.annotators(cfg).embedder,
                                      embedding_frames=cfg["embedding_frames"])
            else:
                ann = annotate_clip(store.root / str(rec.video_path), backends.annotators(cfg),
                                    work_max_side=config.analysis["work_max_side"],
                                    embedding_frames=cfg["embedding_frames"])
        except (av.FFmpegError, OSError, ValueError, RuntimeError) as e:
            log.warning("%s: annotating clip %s failed (%s)", printable_path(job.path), rec.id, e)
        else:
            tmp = store.temp_path(job.video_id, f"{rec.id}.npz")
            tmp.write_bytes(ann.npz_bytes())
            store.place(tmp, f"annotations/{rec.id}.npz")
            annotations.keypoints, annotations.shot_type = f"annotations/{rec.id}.npz", ann.shot_type
            facts.update(ann.facts)
            if ann.embedding is not None:
                embeddings[rec.id] = [round(float(v), 5) for v in ann.embedding]
    facts = _clean({k: round(v, 4) if isinstance(v, float) else
                    [round(x, 4) for x in v] if isinstance(v, list) else v for k, v in facts.items()})
    annotations.caption, annotations.facts = template_caption(facts), facts
    rec.annotations = annotations


def curate_one(args: tuple[VideoJob, str, dict]) -> Outcome:
    """Executor entry point: (job, output folder, config data) → Outcome. Skips finished videos."""
    job, out_dir, config_data = args
    store = OutputStore(out_dir)
    if store.is_done(job.video_id):
        return Outcome(job.video_id, job.path, skipped=True)
    try:
        return process_video(job, store, Config(config_data), Backends.get())
    except Exception as e:  # a bug or a failed write must not stop the batch; the next run retries
        detail = "".join(traceback.format_exception_only(type(e), e)).strip().splitlines()[0]
        reason = f"{job.path}: {detail} (the next run tries it again)"
        try:
            reason = commit_failure(store, job, _unusable(reason), retry=True)
        except OSError:
            pass  # the output folder itself is unwritable: the reason still reaches the log
        return Outcome(job.video_id, job.path, failed=reason)
