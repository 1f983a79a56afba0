"""The same clip scores the same whatever carries its audio: a copy of a curated clip (its mp4's AAC) against the
clip itself (its 16 kHz wav) gives sync offset 0 in ``bench eval``."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from talkset.bench.scoring import evaluate
from talkset.bench.split import build
from talkset.curate.run import curate
from talkset.dataset.records import Record
from talkset.testing import media_labels

CI_SUBSET = ("t16",)  # 256² at 30 fps: cheap to decode five times


def typed(records):
    return [Record.from_dict(r) for r in records]


def _keeps(media: Path, subset: bool) -> list[Path]:
    return [media / lab.file for lab in media_labels(media) if lab.label == "keep"
            and lab.file.startswith("calibration/") and (not subset or Path(lab.file).name[:3] in CI_SUBSET)]


def _copies_score_like_their_references(media: Path, tmp: Path, subset: bool) -> None:
    out = tmp / "out"
    curate(_keeps(media, subset), out, workers=2, progress=False)
    records = [r for r in json.loads((out / "manifest.json").read_text()) if r["status"] == "kept"]
    assert records
    for r in records:
        r["metadata"]["language"] = "any"  # one group, so every kept clip is in the split
    bench = build(typed(records), dims=["language"], per_group=len(records), root=str(out))
    pred = tmp / "pred"
    pred.mkdir()
    for r in records:
        shutil.copy(out / r["video-path"], pred / f"{r['id']}.mp4")
    result = evaluate(bench, pred, progress=False, n_boot=50)
    assert len(result.clips) == len(records)
    for row in result.clips:
        assert row["sync_offset_vs_reference"] == 0, row


@pytest.mark.slow  # CI time: runs with the slow set
def test_a_copy_scores_like_its_reference(media, tmp_path):
    _copies_score_like_their_references(media, tmp_path, subset=True)


@pytest.mark.slow
def test_a_copy_scores_like_its_reference_on_every_calibration_keep(media, tmp_path):
    _copies_score_like_their_references(media, tmp_path, subset=False)
