"""Calibrating the sync scorer on real talking clips: each clip with its own audio, shifted, reversed, and with every
other clip's audio. ``benchmarks/calibrate_sync.py`` prints the figures; the verdict tests assert them.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from talkset.audio.io import load_audio
from talkset.curate.analyze import analyze
from talkset.curate.config import Config
from talkset.curate.scores.sync import SyncAudio, sync_score
from talkset.curate.segment import join_speech
from talkset.media.probe import probe

SHIFTS = (-8, -5, -3, 3, 5, 8)


@dataclass
class Clip:
    """One real talking clip as the scorer sees it: the mouth series, the audio, the speech spans to score."""

    name: str
    calibration: bool
    fps: float
    mouth_t: np.ndarray
    mouth: np.ndarray
    audio: SyncAudio
    spans: list[tuple[float, float]]


def real_files(media: Path) -> list[tuple[Path, Path | None, bool]]:
    """(video, separate audio or None, from the calibration set) of every real talking clip."""
    truth = json.loads((media / "calibration/truth.json").read_text())
    files: list[tuple[Path, Path | None, bool]] = [(media / "calibration" / e["file"], None, True) for e in truth if e["label"] == "keep"]
    for f in sorted((media / "talking").glob("*.mp4")):
        wav = f.with_suffix(".wav")
        files.append((f, wav if wav.is_file() else None, False))
    return files


def load_clip(video: Path, wav: Path | None, calibration: bool, backends, config: Config, clip_s: float = 0.0) -> Clip:
    """curate's analysis pass over a real clip; its speech spans (cut into ``clip_s`` windows when above 0)."""
    seg, ana = config.segment, config.analysis
    audio = load_audio(wav or video)
    info = probe(video)
    speech = join_speech(backends.vad.speech_segments(audio), seg["speech_join_gap_s"], seg["speech_pad_s"])
    regions = [(a - 0.5, b + 0.5) for a, b in speech if b - a >= seg["min_clip_s"]]
    result = analyze(video, rotation_deg=info.rotation_deg, fps=float(info.fps), regions=regions,
                     detector=backends.detector, mesher=backends.mesher, segment_cfg=seg, analysis_cfg=ana)
    t0, t1 = float(result.frame_times[0]), float(result.frame_times[-1])
    spans = []
    for a, b in speech:
        a, b = max(a, t0), min(b, t1)
        if b - a < seg["min_clip_s"]:
            continue
        if clip_s > 0:
            starts = np.arange(a, b - clip_s + 1e-6, clip_s / 2)
            spans += [(float(s), float(s) + clip_s) for s in starts]
        else:
            spans.append((a, min(b, a + seg["max_clip_s"])))
    sync_audio = SyncAudio.from_audio(audio, phones=ana["sync_phones"], regions=[(a - 1, b + 1) for a, b in regions])
    return Clip(video.name, calibration, float(info.fps), result.faces["t"], result.faces["mouth"], sync_audio, spans)


def score(clip: Clip, span, audio: SyncAudio, ana: dict, mouth: np.ndarray | None = None) -> dict:
    """The sync score of ``span`` of ``clip`` against ``audio`` (and ``mouth`` instead of the clip's own)."""
    return sync_score(clip.mouth_t, clip.mouth if mouth is None else mouth, audio, span[0], span[1], clip.fps,
                      max_lag=ana["sync_max_lag_frames"], lead_s=ana["sync_natural_lead_s"],
                      null_min_s=ana["sync_null_min_s"])


def reversed_mouth(clip: Clip, span) -> np.ndarray:
    """The clip's mouth with the frames inside ``span`` in reverse order."""
    m = clip.mouth.copy()
    inside = (clip.mouth_t >= span[0]) & (clip.mouth_t < span[1])
    m[inside] = m[inside][::-1]
    return m


def pair_scores(clips: list[Clip], ana: dict) -> Iterator[dict]:
    """Every scored pair: ``kind`` real, shifted (with ``k`` frames), reversed or mismatched, and the score."""
    for clip in clips:
        for span in clip.spans:
            base = {"clip": clip.name, "span": span, "calibration": clip.calibration, "fps": clip.fps}
            yield {"kind": "real", **base, **score(clip, span, clip.audio, ana)}
            for k in SHIFTS:
                yield {"kind": "shifted", "k": k, **base, **score(clip, span, clip.audio.shifted(k / clip.fps), ana)}
            yield {"kind": "reversed", **base, **score(clip, span, clip.audio, ana, reversed_mouth(clip, span))}
            for other in clips:
                if other is not clip:
                    # The other clip's audio placed so its first speech starts with this span.
                    first = other.spans[0][0] if other.spans else float(other.audio.t[0])
                    yield {"kind": "mismatched", **base, "audio": other.name,
                           "calibration": clip.calibration and other.calibration,
                           **score(clip, span, other.audio.shifted(span[0] - first), ana)}
