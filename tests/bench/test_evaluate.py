"""bench eval on the real-vs-generated set of shared/media."""
from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from talkset.audio.io import load_audio
from talkset.bench.report import render_html, write_report
from talkset.bench.scoring import EvalResult, evaluate
from talkset.bench.split import build
from talkset.bench.sync import weightfree_sync
from talkset.cli import app
from talkset.dataset.records import Record
from talkset.vision.face import FaceDetector, FaceMesher

REAL = "generated/real_man_suit_700_vfr.mp4"
FAKES = ["generated/fake_retalking_from_real_man_suit.mp4", "generated/fake_sadtalker_from_real_man_suit.mp4",
         "generated/fake_sync_none_from_real_man_suit.mp4", "generated/fake_wav2lip_from_real_man_suit.mp4"]


def typed(records):
    return [Record.from_dict(r) for r in records]


def test_fakes_on_their_own_audio_beat_the_real_clip_on_foreign_audio(media):
    detector, mesher = FaceDetector(), FaceMesher()
    poem = load_audio(media / "generated/driving_audio_chinese_poem.wav")
    mismatched = weightfree_sync(media / REAL, poem, detector, mesher)["confidence"]
    for fake in FAKES:
        own = weightfree_sync(media / fake, load_audio(media / fake), detector, mesher)["confidence"]
        assert own > mismatched, (fake, own, mismatched)


@pytest.fixture(scope="module")
def scored(media, tmp_path_factory):
    """A one-clip benchmark whose reference is the real clip; predictions: the real clip itself and a fake."""
    tmp = tmp_path_factory.mktemp("bench_eval")
    records = [{"id": "real-0000", "type": "clip", "status": "kept", "video-id": "real", "video-path": REAL,
                "audio-path": None, "source": {"path": REAL, "start": 0, "end": 6},
                "metadata": {"language": "en", "gender": "male"}},
               {"id": "fake-0000", "type": "clip", "status": "kept", "video-id": "fake", "video-path": REAL,
                "audio-path": None, "source": {"path": REAL, "start": 0, "end": 6},
                "metadata": {"language": "<script>alert(1)</script>", "gender": "male"}}]
    bench = build(typed(records), dims=["language", "gender"], per_group=5, root=str(media))
    pred = tmp / "pred"
    pred.mkdir()
    os.symlink(media / REAL, pred / "real-0000.mp4")
    os.symlink(media / FAKES[3], pred / "fake-0000.mp4")
    result = evaluate(bench, pred, progress=False, n_boot=200)
    return result, tmp


def test_the_real_clip_against_itself(scored):
    result, _ = scored
    row = next(r for r in result.clips if r["id"] == "real-0000")
    assert row["ssim"] == pytest.approx(1.0, abs=1e-6)
    assert row["psnr_capped"] and row["l1"] == 0
    assert row["lmd_px"] == pytest.approx(0.0, abs=1e-6)
    assert row["sync_offset_vs_reference"] == 0


def test_a_fake_scores_below_the_real_clip_and_fid_is_skipped_not_faked(scored):
    result, _ = scored
    real = next(r for r in result.clips if r["id"] == "real-0000")
    fake = next(r for r in result.clips if r["id"] == "fake-0000")
    assert fake["ssim"] < real["ssim"] and fake["lmd_px"] > 0
    assert result.dataset["fid"]["skipped"] and result.dataset["fvd"]["skipped"]
    assert "--inception" in result.dataset["fid"]["reason"]


def test_report_files_and_escaping(scored):
    result, tmp = scored
    paths = write_report(result, tmp / "report")
    page = paths["html"].read_text()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert json.loads(paths["json"].read_text())["type"] == "bench_eval"
    assert paths["csv"].read_text().splitlines()[0].startswith("id,")
    dims = {(d["dim"], d["metric"]) for d in result.dimensions}
    assert ("language", "ssim") in dims and ("gender", "sync_confidence") in dims


def test_cli_eval_end_to_end(media, tmp_path):
    records = [{"id": "real-0000", "type": "clip", "status": "kept", "video-id": "real", "video-path": REAL,
                "audio-path": None, "source": {"path": REAL, "start": 0, "end": 6},
                "metadata": {"language": "en"}}]
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(records))
    os.symlink(media / "generated", tmp_path / "generated")
    runner = CliRunner()
    result = runner.invoke(app, ["bench", "build", str(manifest), "-o", str(tmp_path / "bench.json"),
                                 "--dims", "language", "--per-group", "1"])
    assert result.exit_code == 0, result.output
    (tmp_path / "pred").mkdir()
    os.symlink(media / REAL, tmp_path / "pred" / "real-0000.mp4")
    result = runner.invoke(app, ["bench", "eval", str(tmp_path / "bench.json"), "--pred", str(tmp_path / "pred"),
                                 "-o", str(tmp_path / "rep")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "rep" / "report.html").is_file()


def test_render_handles_an_empty_result():
    page = render_html(EvalResult(clips=[], dimensions=[], dataset={}, missing=["x"]))
    assert "0 clips scored" in page


@pytest.mark.filterwarnings("ignore:`torch.jit.:DeprecationWarning")
def test_weight_backed_metrics_run_when_the_user_gives_the_files(media, tmp_path):
    """LSE with a SyncNet file and FID/FVD with feature networks: random stand-ins, the real loading code."""
    import torch

    from talkset.bench.syncnet import SyncNet
    from talkset.testing import tiny_feature_networks

    torch.manual_seed(0)
    weights = tmp_path / "syncnet_v2.model"
    torch.save(SyncNet().state_dict(), weights)
    inception, i3d = tiny_feature_networks(tmp_path)
    records = [{"id": "real-0000", "type": "clip", "status": "kept", "video-id": "real", "video-path": REAL,
                "audio-path": None, "source": {"path": REAL, "start": 0, "end": 6}, "metadata": {"language": "en"}}]
    bench = build(typed(records), dims=["language"], per_group=1, root=str(media))
    (tmp_path / "pred").mkdir()
    os.symlink(media / FAKES[3], tmp_path / "pred" / "real-0000.mp4")
    result = evaluate(bench, tmp_path / "pred", syncnet=weights, inception=inception, i3d=i3d, progress=False,
                      n_boot=100)
    row = result.clips[0]
    assert row["lse_d"] > 0 and row["lse_c"] >= 0
    assert not result.dataset["fid"]["skipped"] and result.dataset["fid"]["value"] >= 0
    assert not result.dataset["fvd"]["skipped"] and result.dataset["fvd"]["value"] >= 0
