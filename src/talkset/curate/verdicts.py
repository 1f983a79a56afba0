"""Curate's verdicts against labelled files: is what it kept what the footage really is?

Labels follow ``shared/media/calibration/truth.json``: ``keep`` (at least one clip must be kept, in sync), ``reject``
(nothing may be kept, and the rejection must name the right cause), ``spans`` (kept clips lie inside
``talking_spans``, cover enough of them, and never cross a time in ``cuts``). ``benchmarks/truth.py`` prints these
checks over the shared footage; the tests assert them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from talkset.dataset.records import CLIP, KEPT, Reason, Record

MIN_INSIDE = 0.95    # share of kept time inside the talking spans
MIN_COVERAGE = 0.60  # share of the talking spans covered by kept clips
# Causes a rejection can name, from its reason's key (see cause_of).
CAUSES = ("sync", "no clear peak", "mouth still", "quality", "head", "segment", "motion", "write", "unusable input")


@dataclass
class Label:
    """What one file is.

    Attributes:
        file: the file, as the records' ``source.path`` ends.
        label: ``keep``, ``reject`` or ``spans``.
        causes: for ``reject``: the causes that count as right (empty: any).
        talking_spans: for ``spans``: (start_s, end_s) where one person talks to camera.
        cuts: for ``spans``: times no kept clip may cross.
        min_coverage: for ``spans``: share of the talking spans kept clips must cover.
    """

    file: str
    label: str
    causes: set[str] = field(default_factory=set)
    talking_spans: list[tuple[float, float]] = field(default_factory=list)
    cuts: list[float] = field(default_factory=list)
    min_coverage: float = MIN_COVERAGE


@dataclass
class Verdict:
    """How one file's records measure up to its label."""

    file: str
    label: str
    passed: bool
    summary: str
    causes: list[str]


def cause_of(reason: Reason) -> str:
    """The cause a reason names (one of ``CAUSES``)."""
    if reason.key == "sync" and reason.text.startswith("sync: no clear peak"):
        return "no clear peak"
    if reason.key == "mouth" and reason.text.startswith("mouth: still"):
        return "mouth still"
    return reason.key.split()[0] if reason.key.split() else reason.key


def judge_file(label: Label, records: list[Record], max_abs_offset_frames: int) -> Verdict:
    """Checks one file's manifest records against its label.

    Args:
        label: what the file is.
        records: the manifest records whose source is the file.
        max_abs_offset_frames: a keep file's kept clip must have |sync offset| within this.
    """
    clips = [r for r in records if r.type == CLIP]
    kept = [r for r in clips if r.status == KEPT]
    causes = sorted({cause_of(x) for r in records if r.status != KEPT for x in r.reasons})
    if label.label == "keep":
        good = [r for r in kept if r.scores.sync and r.scores.sync.offset_frames is not None
                and abs(r.scores.sync.offset_frames) <= max_abs_offset_frames]
        return Verdict(label.file, label.label, bool(good), f"{len(good)} of {len(clips)} clips kept in sync", causes)
    if label.label == "reject":
        if kept:
            return Verdict(label.file, label.label, False, f"LEAKED {len(kept)} clip(s)", causes)
        right = not label.causes or bool(set(causes) & label.causes)
        named = "/".join(sorted(label.causes)) if label.causes else ", ".join(causes)
        return Verdict(label.file, label.label, right, ("rejected for " if right else "rejected, not for ") + named,
                       causes)
    spans = [(a, b) for a, b in label.talking_spans]
    kept_s = sum(r.source.end - r.source.start for r in kept)
    inside = sum(_overlap((r.source.start, r.source.end), spans) for r in kept)
    talk = sum(b - a for a, b in spans)
    crossing = [r.id for r in kept for c in label.cuts if r.source.start + 1e-3 < c < r.source.end - 1e-3]
    inside_share = inside / kept_s if kept_s else 1.0
    coverage = inside / talk if talk else 0.0
    ok = inside_share >= MIN_INSIDE and coverage >= label.min_coverage and not crossing
    return Verdict(label.file, label.label, ok,
                   f"{inside_share:.0%} of kept time inside talking spans, {coverage:.0%} of them covered"
                   + (f", {len(crossing)} clip(s) cross a cut" if crossing else ""), causes)


def _overlap(span: tuple[float, float], spans: list[tuple[float, float]]) -> float:
    return sum(max(0.0, min(span[1], b) - max(span[0], a)) for a, b in spans)
