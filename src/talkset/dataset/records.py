"""The typed manifest record: the one contract between curate, filter, report, exports, bench and train.

A record is either a candidate clip (``type: "clip"``, kept or rejected) or a source that gave no clip
(``type: "source"``, failed or without candidates). Records are built, judged and read as these objects; dicts
exist only on the wire (``to_dict``/``from_dict``), in TalkVid's key spelling (``video-id``, ``video-path``…).

Every part keeps the keys it does not know in ``extra`` (a newer talkset's field, a user's column), so a
record read and written again loses nothing. ``from_dict`` never mutates its input. Manifests without
``schema`` are talkset 0.1's and load as the same types. On disk a reason stays the sentence people and
TalkVid-style tools read (``"sync: offset +5 frames, |offset| > 3"``); in memory it is ``Reason(key, text)``,
the key being the sentence's prefix, as every judged reason is written.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

SCHEMA_VERSION = 2
KEPT, REJECTED, FAILED = "kept", "rejected", "failed"
CLIP, SOURCE = "clip", "source"
UNUSABLE = "unusable input"  # the reason key of every failed source


class _Part:
    """A dataclass with ``extra`` for unknown keys and ``_nested`` naming fields that are parts themselves."""

    _nested: ClassVar[dict[str, type[_Part]]] = {}
    _omit_none: ClassVar[bool] = False  # leave out fields that are None (a score that was not measured)
    extra: dict[str, Any]

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None):
        if d is None:
            return None
        names = {f.name for f in fields(cls)} - {"extra"}  # type: ignore[arg-type]
        kwargs: dict[str, Any] = {}
        for key, value in d.items():
            if key in names:
                nested = cls._nested.get(key)
                kwargs[key] = nested.from_dict(value) if nested else copy.deepcopy(value)
        kwargs["extra"] = {k: copy.deepcopy(v) for k, v in d.items() if k not in names}
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.name != "extra" and not (value is None and self._omit_none):
                out[f.name] = value.to_dict() if isinstance(value, _Part) else copy.deepcopy(value)
        out.update(copy.deepcopy(self.extra))
        return out


@dataclass
class Span(_Part):
    """Where a clip comes from, in seconds on the source's container clock."""

    path: str
    start: float
    end: float
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reason:
    """Why a record is not kept: ``key`` is the check a summary counts it under (``sync``, ``head movement``,
    ``mouth``, ``quality``, ``write``, ``unusable input``…), ``text`` the one-line sentence for people."""

    key: str
    text: str

    def __str__(self) -> str:
        return self.text

    @classmethod
    def from_text(cls, text: str, status: str) -> Reason:
        """The reason a manifest holds: its key is the sentence up to the first colon (every judged reason is
        written ``"<key>: <detail>"``); a failed source's reasons start with a path and count as unusable input."""
        return cls(UNUSABLE if status == FAILED else text.split(":")[0], text)


@dataclass
class Stat(_Part):
    avg: float | None = None
    min: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class HeadDetail(_Part):
    """TalkVid's head-detail scores (0–100, average and minimum over the samples)."""

    _nested = {k: Stat for k in ("movement", "orientation", "completeness", "resolution", "rotation")}
    movement: Stat | None = None
    orientation: Stat | None = None
    completeness: Stat | None = None
    resolution: Stat | None = None
    rotation: Stat | None = None
    face_consistency: float | None = None
    samples: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    NAMES: ClassVar[tuple[str, ...]] = ("movement", "orientation", "completeness", "resolution", "rotation")

    def stat(self, name: str) -> Stat | None:
        return getattr(self, name)


@dataclass
class SyncScore(_Part):
    """Audio-visual offset (video frames; positive: audio late) and its confidence (a z-score against the
    clip's own circular-shift null; talkset 0.1's records, without ``scorer``, hold a correlation margin)."""

    offset_frames: int | None = None
    offset_s: float | None = None
    lag_s: float | None = None
    confidence: float | None = None
    at_edge: bool | None = None
    views: dict[str, float | None] | None = None
    scorer: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class QualityScore(_Part):
    score: float | None = None
    face_sharpness: float | None = None
    face_detail: float | None = None
    upscale: float | None = None
    frame_sharpness: float | None = None
    exposure: float | None = None
    noise: float | None = None
    blockiness: float | None = None
    bits_per_pixel: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class MotionScore(_Part):
    track_survival: float | None = None
    camera_motion: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class MouthScore(_Part):
    opening_range: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Scores(_Part):
    """Each scorer's result; a scorer that did not run (a source, an imported record) is absent."""

    _omit_none = True
    _nested = {"quality": QualityScore, "motion": MotionScore, "sync": SyncScore, "mouth": MouthScore,
               "head_detail": HeadDetail}
    quality: QualityScore | None = None
    motion: MotionScore | None = None
    sync: SyncScore | None = None
    mouth: MouthScore | None = None
    head_detail: HeadDetail | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Metadata(_Part):
    duration: float | None = None
    resolution: str | None = None
    fps: float | None = None
    language: str | None = None
    speaker_id: str | None = None
    age_group: str | None = None
    gender: str | None = None
    ethnicity: str | None = None
    quality_score: float | None = None
    video_codec: str | None = None
    audio_source: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        """A field by name, or a key the model does not know (a list file's own column)."""
        return getattr(self, name) if name in _METADATA_FIELDS else self.extra.get(name)


_METADATA_FIELDS = {f.name for f in fields(Metadata)} - {"extra"}
# Subgroup fields a benchmark stratifies on; strings or null.
SUBGROUPS = ("language", "age_group", "gender", "ethnicity")


@dataclass
class Annotations(_Part):
    keypoints: str | None = None  # annotations/ID.npz, relative to the manifest's folder
    shot_type: str | None = None
    caption: str | None = None
    caption_structured: str | None = None
    facts: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


_KEY_OUT = {"video_id": "video-id", "video_path": "video-path", "audio_path": "audio-path",
            "description_path": "description-path", "subtitle_path": "subtitle-path", "clip_mode": "clip-mode"}
_KEY_IN = {v: k for k, v in _KEY_OUT.items()}


@dataclass
class Record:
    """One candidate clip (kept or rejected) or one source that gave no clip."""

    id: str
    video_id: str
    source: Span
    type: str = CLIP
    video_path: str | None = None
    audio_path: str | None = None
    description_path: str | None = None
    subtitle_path: str | None = None
    # How the files of a clip curate kept were made: "encode" (frame-exact H.264, the default settings), "fast"
    # (the fast encoder settings) or "none" (not written yet: `talkset cut` writes them); None: never kept, or 0.1.
    clip_mode: str | None = None
    metadata: Metadata = field(default_factory=Metadata)
    scores: Scores = field(default_factory=Scores)
    annotations: Annotations = field(default_factory=Annotations)
    status: str = REJECTED
    reasons: list[Reason] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_clip(self) -> bool:
        return self.type == CLIP

    @property
    def kept(self) -> bool:
        return self.status == KEPT

    def reason_keys(self) -> list[str]:
        """The keys a summary counts this record under, each once (none for a kept record), sorted."""
        return [] if self.status == KEPT else sorted({r.key for r in self.reasons})

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schema": SCHEMA_VERSION}
        for f in fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if f.name == "reasons":
                value = [r.text for r in value]
            elif isinstance(value, _Part):
                value = value.to_dict()
            out[_KEY_OUT.get(f.name, f.name)] = value
        out.update(copy.deepcopy(self.extra))
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Record:
        """A record from its dict (this schema or talkset 0.1's); raises ValueError naming what is wrong."""
        if not isinstance(d, dict) or "id" not in d or "source" not in d:
            raise ValueError("not a record (a JSON object with id and source)")
        kind = d.get("type", CLIP)
        if kind not in (CLIP, SOURCE):
            raise ValueError(f"record {d['id']!r}: unknown type {kind!r}")
        schema = d.get("schema", 1)
        if not isinstance(schema, int) or schema > SCHEMA_VERSION:
            raise ValueError(f"record {d['id']!r}: schema {schema!r} is newer than this talkset reads "
                             f"({SCHEMA_VERSION}); upgrade talkset")
        status = d.get("status", REJECTED)
        src = d["source"]
        if not isinstance(src, dict) or not {"path", "start", "end"} <= src.keys():
            raise ValueError(f"record {d['id']!r}: source needs path, start and end")
        known = {f.name for f in fields(cls)} - {"extra"}
        names = {_KEY_IN.get(k, k): k for k in d}
        return cls(
            id=str(d["id"]), video_id=str(d.get("video-id", d["id"])), source=Span.from_dict(src), type=kind,
            video_path=d.get("video-path"), audio_path=d.get("audio-path"),
            description_path=d.get("description-path"), subtitle_path=d.get("subtitle-path"),
            clip_mode=d.get("clip-mode"), metadata=Metadata.from_dict(d.get("metadata") or {}),
            scores=Scores.from_dict(d.get("scores") or {}),
            annotations=Annotations.from_dict(d.get("annotations") or {}), status=status,
            reasons=[Reason.from_text(str(r), status) for r in d.get("reasons") or []],
            extra={k: copy.deepcopy(v) for n, k in names.items() if n not in known and k != "schema"
                   for v in (d[k],)})


@dataclass
class Funnel:
    """Sources → candidates → kept over a set of records, and the rejections by reason key (a record counts
    once per key). curate's summary and the report both count with this."""

    sources: int = 0
    failed_sources: int = 0
    sources_without_candidates: int = 0
    candidates: int = 0
    kept: int = 0
    rejected: int = 0
    kept_seconds: float = 0.0
    kept_without_file: int = 0
    rejections: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (source path, reason), the first max_failures
    max_failures: int = 1000
    _video_ids: set[str] = field(default_factory=set, repr=False)

    def add(self, rec: Record) -> None:
        if rec.video_id not in self._video_ids:
            self._video_ids.add(rec.video_id)
            self.sources += 1
        if rec.status == FAILED:
            self.failed_sources += 1
            room = self.max_failures - len(self.failures)
            self.failures += [(rec.source.path, r.text) for r in (rec.reasons or [Reason(UNUSABLE, "")])][:max(0, room)]
        elif rec.type == SOURCE:
            self.sources_without_candidates += 1
        else:
            self.candidates += 1
            if rec.status == KEPT:
                self.kept += 1
                self.kept_seconds += rec.metadata.duration or 0.0
                self.kept_without_file += rec.video_path is None
            else:
                self.rejected += 1
        for key in rec.reason_keys():
            self.rejections[key] = self.rejections.get(key, 0) + 1

    @classmethod
    def of(cls, records: list[Record]) -> Funnel:
        f = cls()
        for rec in records:
            f.add(rec)
        return f
