"""The CLI through click's runner: help everywhere, errors as one line, filter without decoding."""
import json

import pytest
from typer.testing import CliRunner

from talkset.cli import app

runner = CliRunner()
COMMANDS = ["curate", "filter", "cut", "config", "probe", "demo"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_config_prints_the_defaults_which_load_back(tmp_path):
    from talkset.curate.config import Config

    result = runner.invoke(app, ["config"])
    (tmp_path / "c.toml").write_text(result.output)
    assert Config.load(tmp_path / "c.toml") == Config.load()


def test_bad_config_is_a_usage_error_not_a_traceback(tmp_path):
    (tmp_path / "bad.toml").write_text("[nope]\n")
    result = runner.invoke(app, ["curate", str(tmp_path), "-o", str(tmp_path / "out"), "-c",
                                 str(tmp_path / "bad.toml")])
    assert result.exit_code == 2 and "unknown setting 'nope'" in result.output
    assert "Traceback" not in result.output


def test_curate_then_filter_rethresholds_without_decoding(media, tmp_path, monkeypatch):
    out = tmp_path / "out"
    result = runner.invoke(app, ["curate", str(media / "talking/vox_man_tv_224.mp4"), str(tmp_path / "missing.mp4"),
                                 "-o", str(out), "-w", "1", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "clips kept" in result.output and "manifest.json" in result.output
    before = json.loads((out / "manifest.json").read_text())
    assert [r["status"] for r in before if r["type"] == "clip"] == ["kept"]
    missing = [r for r in before if r["type"] == "source"]
    assert missing[0]["status"] == "failed" and "missing.mp4: no such file" in missing[0]["reasons"][0]

    import av

    def no_decoding(*a, **k):
        raise AssertionError("filter must not open media")

    monkeypatch.setattr(av, "open", no_decoding)
    strict = tmp_path / "strict.toml"
    strict.write_text("[thresholds.quality]\nmin_quality = 99.0\n")
    result = runner.invoke(app, ["filter", str(out), "-c", str(strict)])
    assert result.exit_code == 0, result.output
    after = json.loads((out / "manifest.json").read_text())
    clip = [r for r in after if r["type"] == "clip"][0]
    assert clip["status"] == "rejected" and clip["reasons"][0].startswith("quality:")
    assert clip["scores"] == [r for r in before if r["type"] == "clip"][0]["scores"]
    monkeypatch.undo()
    # Looser again: kept, and its clip file is still there (filter never deletes).
    result = runner.invoke(app, ["filter", str(out), "-c", str(tmp_path / "none.toml")])
    assert result.exit_code == 2
    (tmp_path / "loose.toml").write_text("[thresholds.quality]\nmin_quality = 0.0\n")
    runner.invoke(app, ["filter", str(out), "-c", str(tmp_path / "loose.toml")])
    kept = [r for r in json.loads((out / "manifest.json").read_text()) if r["status"] == "kept"]
    assert kept and (out / kept[0]["video-path"]).is_file()


@pytest.mark.slow  # CI time: runs with the slow set
def test_demo_builds_curates_and_reports(tmp_path):
    """The README's first command: a demo video made here, curated, with a report; nothing downloaded."""
    import json

    from typer.testing import CliRunner

    from talkset.cli import app

    result = CliRunner().invoke(app, ["demo", "-o", str(tmp_path / "demo"), "-w", "1"])
    assert result.exit_code == 0, result.output
    curated = tmp_path / "demo" / "curated"
    records = json.loads((curated / "manifest.json").read_text())
    kept = [r for r in records if r["status"] == "kept"]
    assert kept and all((curated / r["video-path"]).exists() for r in kept)
    assert all(r["annotations"]["shot_type"] and (curated / r["annotations"]["keypoints"]).exists() for r in kept)
    assert (curated / "report" / "index.html").exists() and "report:" in result.output


def test_probe_names_each_bad_file_goes_on_and_exits_non_zero(tmp_path, media):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video")
    res = CliRunner().invoke(app, ["probe", str(bad), str(media / "talking/vox_man_tv_224.mp4")])
    assert res.exit_code == 1
    assert '"duration_s"' in res.stdout  # the good file after the bad one is still probed
    errors = [line for line in res.stderr.splitlines() if line.startswith("talkset: error:")]
    assert len(errors) == 1 and str(bad) in errors[0] and "Traceback" not in res.output


def test_every_talkset_error_is_one_line_and_exit_1(tmp_path):
    (tmp_path / "manifest.json").write_text("[{")
    for args in (["report", str(tmp_path)], ["export", str(tmp_path), "-f", "talkvid", "-o", str(tmp_path / "t.json")]):
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 1, (args, res.output)
        assert res.stderr.count("\n") == 1 and res.stderr.startswith("talkset: error: ") and "manifest" in res.stderr
