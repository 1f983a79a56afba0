"""HF Parquet export: datasets.load_dataset reads declared features, typed even where every clip is null."""
import json

import pytest
from typer.testing import CliRunner

from talkset.cli import app
from talkset.dataset.hf import COLUMNS, export_hf
from talkset.dataset.webdataset import ExportError
from talkset.testing import synthetic_manifest

runner = CliRunner()


@pytest.fixture
def folder(tmp_path):
    """Five kept records with files; language, gender… are null in every one, one record has no audio and one
    points at a missing mp4."""
    recs = synthetic_manifest(5)
    (tmp_path / "clips").mkdir()
    for i, r in enumerate(recs):
        for k in ("language", "gender", "age_group", "ethnicity", "speaker_id"):
            r["metadata"][k] = None
        (tmp_path / f"clips/{i}.mp4").write_bytes(bytes([i]) * 100)
        r["video-path"] = f"clips/{i}.mp4"
        if i != 1:
            (tmp_path / f"clips/{i}.wav").write_bytes(b"RIFF" + bytes([i]))
            r["audio-path"] = f"clips/{i}.wav"
    recs[4]["video-path"] = "clips/gone.mp4"
    (tmp_path / "manifest.json").write_text(json.dumps(recs))
    return tmp_path, recs


def test_load_dataset_reads_declared_features(folder, tmp_path):
    datasets = pytest.importorskip("datasets")
    out, recs = folder
    dest = tmp_path / "hf"
    result = export_hf(out, dest, max_samples=2)
    assert result.samples == 4 and [s.id for s in result.skipped] == [recs[4]["id"]]
    assert len(list((dest / "data").glob("*.parquet"))) == 2
    ds = datasets.load_dataset(str(dest), split="train", cache_dir=str(tmp_path / "cache"))
    assert len(ds) == 4
    feats = ds.features
    assert [name for name, _, _ in COLUMNS] == list(feats)
    # null in every clip, still typed as declared
    for name in ("language", "gender", "speaker_id"):
        assert feats[name].dtype == "string" and set(ds[name]) == {None}
    assert feats["video"].dtype == "binary" and feats["start_s"].dtype == "float64"
    assert feats["width"].dtype == "int32"
    rows = {r["id"]: r for r in ds}
    for i, rec in enumerate(recs[:4]):
        row = rows[rec["id"]]
        assert row["video"] == bytes([i]) * 100 and json.loads(row["record"]) == rec
        assert row["audio"] == (None if i == 1 else b"RIFF" + bytes([i]))
        assert row["width"] == 1280 and row["quality_score"] == rec["metadata"]["quality_score"]
    # every shard has the same schema, whatever its values
    import pyarrow.parquet as pq

    assert len({str(pq.read_schema(p)) for p in (dest / "data").glob("*.parquet")}) == 1


def test_cli_and_overwrite(folder, tmp_path):
    out, _ = folder
    dest = tmp_path / "hf"
    result = runner.invoke(app, ["export", str(out), "-f", "hf", "-o", str(dest), "--shard-size", "3"])
    assert result.exit_code == 0, result.output
    assert "4 clips exported" in result.output and "skipped" in result.output
    with pytest.raises(ExportError, match="pass --force"):
        export_hf(out, dest)
    export_hf(out, dest, force=True)
    assert [p.name for p in (dest / "data").glob("*.parquet")] == ["train-00000-of-00001.parquet"]
    bad = runner.invoke(app, ["export", str(out), "-f", "hf", "-o", str(tmp_path / "x"), "--fps", "24"])
    assert bad.exit_code == 2 and "for --format vexpress only" in bad.output
