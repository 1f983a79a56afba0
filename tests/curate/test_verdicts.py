"""Curate's verdicts on labelled real footage: what it keeps is what the footage really is.

The labels are calibration/truth.json's (``talkset.testing.media_labels``). A representative subset runs in CI (short
keeps at 25 and 30 fps, a 256² crop, swapped audio, a frozen face, heavy blur; late audio is the shift test below);
the whole calibration set, raw videos included, is marked slow. ``benchmarks/truth.py`` prints the same checks as a
table.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

import av
import numpy as np
import pytest

from talkset.audio.io import load_audio
from talkset.curate.analyze import analyze
from talkset.curate.config import Config
from talkset.curate.pipeline import Backends
from talkset.curate.run import curate
from talkset.curate.scores.sync import SyncAudio, sync_score
from talkset.curate.segment import join_speech
from talkset.curate.thresholds import judge
from talkset.curate.verdicts import judge_file
from talkset.dataset.manifest import load_manifest
from talkset.dataset.records import Record, Scores, SyncScore
from talkset.media.probe import probe
from talkset.testing import media_labels

CI_SUBSET = {"t16", "n01", "n07", "n09"}  # the 1080p keep files (t06, t07) run with the slow full set
# Shortfalls measured on the calibration set (benchmarks/truth.py); strict, so a fix shows up as a failure here.
KNOWN = {
    "n10": "the woman's 3.9 s shot measures +7 frames (the same face over 8 s measures 0): 49% of the talk covered",
    "n16": "the first 10 s measure -11 frames in all three views (the part after the cut-away measures -1)",
}


def _labels(media: Path, subset: bool):
    return [lab for lab in media_labels(media) if lab.file.startswith("calibration/")
            and (not subset or Path(lab.file).name.split("_")[0] in CI_SUBSET)]


def _run(media: Path, tmp: Path, labels) -> dict[str, list[Record]]:
    listing = tmp / "inputs.jsonl"
    listing.write_text("".join(json.dumps({"path": str(media / lab.file)}) + "\n" for lab in labels))
    curate([listing], tmp / "out", workers=2, progress=False)
    by_file: dict[str, list[Record]] = {}
    for r in load_manifest(tmp / "out"):
        by_file.setdefault(Path(r.source.path).name, []).append(r)
    return by_file


@pytest.fixture(scope="module")
def subset_run(media, tmp_path_factory):
    return _run(media, tmp_path_factory.mktemp("verdicts"), _labels(media, subset=True))


@pytest.fixture(scope="module")
def full_run(media, tmp_path_factory):
    return _run(media, tmp_path_factory.mktemp("verdicts_all"), _labels(media, subset=False))


def _check(label, by_file):
    limit = Config.load().thresholds["sync"]["max_abs_offset_frames"]
    v = judge_file(label, by_file.get(Path(label.file).name, []), limit)
    assert v.passed, f"{label.file} ({label.label}): {v.summary}; causes {v.causes}"


MEDIA = Path(__file__).resolve().parents[2].parent / "shared" / "media"  # as tests/conftest.py finds it


def _params(subset: bool):
    if not MEDIA.is_dir():
        return []
    out = []
    for lab in _labels(MEDIA, subset):
        stem = Path(lab.file).name.split("_")[0]
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN[stem])] if stem in KNOWN else []
        out.append(pytest.param(lab, id=stem, marks=marks))
    return out


@pytest.mark.parametrize("label", _params(subset=True))
def test_calibration_subset(label, subset_run):
    _check(label, subset_run)


@pytest.mark.slow
@pytest.mark.parametrize("label", _params(subset=False))
def test_calibration_set(label, full_run):
    _check(label, full_run)


@functools.cache
def _face_series(path: Path):
    """curate's analysis pass over a whole real clip: mouth series, fps, and its SyncAudio."""
    backends, cfg = Backends.get(), Config.load()
    audio = load_audio(path)
    info = probe(path)
    speech = join_speech(backends.vad.speech_segments(audio), cfg.segment["speech_join_gap_s"],
                         cfg.segment["speech_pad_s"])
    regions = [(a - 0.5, b + 0.5) for a, b in speech]
    a = analyze(path, rotation_deg=info.rotation_deg, fps=float(info.fps), regions=regions,
                detector=backends.detector, mesher=backends.mesher, segment_cfg=cfg.segment, analysis_cfg=cfg.analysis)
    return a.faces, float(info.fps), SyncAudio.from_audio(audio), speech


@pytest.mark.parametrize("k", [-8, -5, -3, 3, 5, 8])
def test_shifting_real_audio_moves_the_offset_by_the_shift(media, k):
    faces, fps, sound, speech = _face_series(media / "talking/vox_man_tv_224.mp4")
    ana, th = Config.load().analysis, Config.load().thresholds
    start, end = speech[0][0] + 0.2, speech[-1][1] - 0.2
    kw = dict(max_lag=ana["sync_max_lag_frames"], lead_s=ana["sync_natural_lead_s"], null_min_s=ana["sync_null_min_s"])
    base = sync_score(faces["t"], faces["mouth"], sound, start, end, fps, **kw)
    moved = sync_score(faces["t"], faces["mouth"], sound.shifted(k / fps), start, end, fps, **kw)
    assert abs(moved["offset_s"] * fps - base["offset_s"] * fps - k) <= 1, (base, moved)
    if abs(k) >= 5:
        assert [r for r in judge(Scores(sync=SyncScore.from_dict(moved)), th) if r.text.startswith("sync: offset")], (k, moved)


def _reversed_copy(src: Path, dst: Path) -> None:
    """The clip's frames in reverse order under its own, unreversed audio."""
    with av.open(str(src)) as c:
        vs = c.streams.video[0]
        rate = vs.average_rate
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(vs)]
    audio = load_audio(src)
    with av.open(str(dst), "w") as out:
        v = out.add_stream("libx264", rate=rate)
        v.width, v.height, v.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        a = out.add_stream("aac", rate=audio.sr)
        a.layout = "mono"
        for img in frames[::-1]:
            out.mux(v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(v.encode())
        pcm = (np.clip(audio.samples, -1, 1) * 32767).astype(np.int16)
        for i in range(0, len(pcm), 1024):
            frame = av.AudioFrame.from_ndarray(pcm[None, i:i + 1024], format="s16", layout="mono")
            frame.sample_rate, frame.pts = audio.sr, i
            out.mux(a.encode(frame))
        out.mux(a.encode())


@pytest.mark.parametrize("clip", ["talking/vox_man_tv_224.mp4",
                                  pytest.param("calibration/talking/t08_german_news_anchor_512_20s.mp4",
                                               marks=pytest.mark.slow)])
def test_frames_played_backwards_under_the_real_speech_are_rejected(media, tmp_path, clip):
    backwards = tmp_path / "backwards.mp4"
    _reversed_copy(media / clip, backwards)
    curate([backwards], tmp_path / "out", workers=1, progress=False)
    recs = [r for r in json.loads((tmp_path / "out/manifest.json").read_text()) if r["type"] == "clip"]
    assert recs and not [r for r in recs if r["status"] == "kept"]
    assert all(any(x.startswith("sync") for x in r["reasons"]) for r in recs), [r["reasons"] for r in recs]
