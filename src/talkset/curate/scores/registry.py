"""Every scorer of a candidate clip, listed in one place.

A scorer takes a ``Candidate`` (the clip's span and what the video pass and the audio measured for its source)
and returns its scores as a dict, stored under its name in the record (``Scores``). Adding a scorer is one entry
here; whether its score rejects a clip is decided apart from scoring, in ``curate.thresholds``, so a manifest
can be re-judged without decoding.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from talkset.curate.scores.head import head_detail
from talkset.curate.scores.motion import motion_score
from talkset.curate.scores.mouth import mouth_score
from talkset.curate.scores.quality import quality_score
from talkset.curate.scores.sync import SyncAudio, sync_score

if TYPE_CHECKING:
    from talkset.curate.analyze import Analysis


@dataclass(frozen=True)
class Candidate:
    """One candidate clip as every scorer sees it."""

    start: float                 # seconds on the source clock
    end: float
    fps: float                   # the source's nominal frame rate
    analysis: Analysis           # the source's video pass
    sync_audio: SyncAudio        # the source's audio features for sync
    bits_per_pixel: float        # the source's bit rate per pixel per frame
    settings: dict[str, Any]     # the [analysis] config table


def _quality(c: Candidate) -> dict[str, Any]:
    q = c.analysis.quality
    return quality_score(q, (q["t"] >= c.start) & (q["t"] <= c.end), c.bits_per_pixel)


def _sync(c: Candidate) -> dict[str, Any]:
    faces, s = c.analysis.faces, c.settings
    return sync_score(faces["t"], faces["mouth"], c.sync_audio, c.start, c.end, c.fps,
                      max_lag=s["sync_max_lag_frames"], lead_s=s["sync_natural_lead_s"],
                      null_min_s=s["sync_null_min_s"])


SCORERS: dict[str, Callable[[Candidate], dict[str, Any]]] = {
    "quality": _quality,
    "motion": lambda c: motion_score(c.analysis.motion, c.start, c.end),
    "sync": _sync,
    "mouth": lambda c: mouth_score(c.analysis.faces["t"], c.analysis.faces["mouth"], c.start, c.end),
    "head_detail": lambda c: head_detail(c.analysis.faces, c.analysis.detections, c.analysis.work_size,
                                         c.start, c.end),
}


def score(candidate: Candidate) -> dict[str, dict[str, Any]]:
    """Every scorer's result for one candidate, by scorer name."""
    return {name: scorer(candidate) for name, scorer in SCORERS.items()}
