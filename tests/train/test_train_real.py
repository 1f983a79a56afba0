"""Training on real footage: curate three short real clips, train, and score the held-out one."""
from __future__ import annotations

import math

import pytest

from talkset.train import TrainConfig, load_motion_model, train


@pytest.mark.slow
def test_train_on_real_curated_clips(media, tmp_path):
    from typer.testing import CliRunner

    from talkset.cli import app
    from talkset.curate.config import Config

    cfg = tmp_path / "c.toml"
    cfg.write_text("[annotate]\nbody = false\nhands = false\n")
    Config.load(cfg)
    files = [media / "talking" / n for n in ("vox_man_tv_224.mp4", "vox_woman_hand_occlusion_224.mp4",
                                              "man_worldmap_844.mp4")]
    res = CliRunner().invoke(app, ["curate", *map(str, files), "-o", str(tmp_path / "out"), "-c", str(cfg),
                                   "-w", "1", "--no-progress"])
    assert res.exit_code == 0, res.output
    from talkset.train.data import sources

    srcs = sources([tmp_path / "out"])
    assert len(srcs) >= 2
    held = sorted({s.speaker for s in srcs})[:1]
    result = train(TrainConfig(inputs=[str(tmp_path / "out")], out=str(tmp_path / "m.pt"), epochs=8,
                               val_speakers=held, progress=False))
    assert result.val_clips and all(math.isfinite(h["val_loss"]) for h in result.history)
    assert result.history[-1]["val_loss"] < result.history[0]["val_loss"]
    from talkset.train.evaluate import score_sources

    rows = score_sources([s for s in srcs if s.speaker in held], load_motion_model(tmp_path / "m.pt"),
                         progress=False)
    assert all(math.isfinite(r["motion_lmd"]) and math.isfinite(r["rules_motion_lmd"]) for r in rows)
