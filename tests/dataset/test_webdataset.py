"""WebDataset export on a real curated clip: shards read back with the webdataset library, byte for byte."""
import hashlib
import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from talkset.cli import app
from talkset.dataset.webdataset import ExportError, export_webdataset, parse_bytes, safe_key

runner = CliRunner()
CLIP = "talking/man_worldmap_844.mp4"


@pytest.fixture(scope="module")
def curated(tmp_path_factory, media):
    """A real curated folder, then four more clip records (ids with dots and spaces) with files of their own,
    and one kept record whose mp4 is missing."""
    from talkset.curate.run import curate

    out = tmp_path_factory.mktemp("wds") / "out"
    curate([media / CLIP], out, workers=1, progress=False)
    records = json.loads((out / "manifest.json").read_text())
    real = [r for r in records if r["status"] == "kept"]
    assert real, "the real clip was not kept"
    assert all(r["annotations"]["keypoints"] for r in real), "curate wrote no annotation npz"
    for i, cid in enumerate(["b.clip 0001", "a.clip.0002", "c-0003", "c_0003"]):
        extra = json.loads(json.dumps(real[0]))
        extra.update({"id": cid, "video-path": f"clips/extra{i}.mp4", "audio-path": f"clips/extra{i}.wav"})
        extra["annotations"]["keypoints"] = None
        (out / f"clips/extra{i}.mp4").write_bytes(bytes(range(256)) * (50 + 30 * i))
        (out / f"clips/extra{i}.wav").write_bytes(f"audio {cid}".encode())
        records.append(extra)
    broken = json.loads(json.dumps(real[0]))
    broken.update({"id": "broken-0001", "video-path": "clips/nope.mp4"})
    records.append(broken)
    (out / "manifest.json").write_text(json.dumps(records))
    return out


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_safe_keys_have_no_dots_and_stay_distinct():
    ids = ["a.b", "a_b", "a b", "x-0001", "é.1"]
    keys = [safe_key(i) for i in ids]
    assert len(set(keys)) == len(ids)
    assert all("." not in k and "/" not in k and k.isascii() for k in keys)
    assert safe_key("x-0001") == "x-0001"  # a plain id is its own key


def test_shards_read_back_with_webdataset(curated, tmp_path):
    import webdataset as wds

    dest = tmp_path / "shards"
    result = export_webdataset(curated, dest, max_samples=2)
    records = {r["id"]: r for r in json.loads((curated / "manifest.json").read_text())}
    kept = sorted(i for i, r in records.items() if r["status"] == "kept" and r["type"] == "clip")
    assert [s.id for s in result.skipped] == ["broken-0001"] and "missing video file" in result.skipped[0].reason
    assert result.samples == len(kept) - 1 == 5
    assert [p.name for p in sorted(dest.glob("*.tar"))] == ["talkset-000000.tar", "talkset-000001.tar",
                                                            "talkset-000002.tar"]
    index = json.loads((dest / "index.json").read_text())
    assert [len(s["keys"]) for s in index["shards"]] == [2, 2, 1]

    seen = {}
    urls = [str(p) for p in sorted(dest.glob("*.tar"))]
    for sample in wds.WebDataset(urls, shardshuffle=False).decode():
        rec = sample["json"]
        assert rec == records[rec["id"]]  # the manifest record round-trips
        root = curated
        assert sample["mp4"] == (root / rec["video-path"]).read_bytes()
        assert sample["wav"] == (root / rec["audio-path"]).read_bytes()
        if rec["annotations"]["keypoints"]:
            with np.load(root / rec["annotations"]["keypoints"]) as z:
                face = z["face"]
            got = sample["kps.npz"]
            got = got["face"] if hasattr(got, "keys") else np.load(__import__("io").BytesIO(got))["face"]
            np.testing.assert_array_equal(got, face)
        else:
            assert "kps.npz" not in sample
        seen[sample["__key__"]] = rec["id"]
    assert sorted(seen.values()) == [i for i in kept if i != "broken-0001"]
    assert all("." not in k for k in seen)
    # the index lists exactly what is in each shard
    assert {k: i for s in index["shards"] for k, i in zip(s["keys"], s["ids"])} == seen


def test_same_input_same_bytes_and_no_silent_overwrite(curated, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    export_webdataset(curated, a, max_samples=3)
    export_webdataset(curated, b, max_samples=3)
    assert [_sha(p) for p in sorted(a.glob("*.tar"))] == [_sha(p) for p in sorted(b.glob("*.tar"))]
    before = _sha(a / "talkset-000000.tar")
    with pytest.raises(ExportError, match="earlier export"):
        export_webdataset(curated, a, max_samples=1)
    assert _sha(a / "talkset-000000.tar") == before
    # --force with bigger shards: the stale second shard is gone, the index matches the folder
    export_webdataset(curated, a, max_samples=100, force=True)
    assert [p.name for p in a.glob("*.tar")] == ["talkset-000000.tar"]
    assert not list(a.glob(".*tmp"))


def test_shard_bytes_limit(curated, tmp_path):
    dest = tmp_path / "s"
    real = max((curated / "clips").glob("*.mp4"), key=lambda p: p.stat().st_size).stat().st_size
    limit = 70_000
    result = export_webdataset(curated, dest, max_bytes=limit)
    index = json.loads((dest / "index.json").read_text())
    sizes = [p.stat().st_size for p in sorted(dest.glob("*.tar"))]
    assert sizes == [s["bytes"] for s in index["shards"]]
    # small samples share shards within the limit; the real clip (far larger) has a shard of its own
    assert len(sizes) < result.samples
    assert all(s["bytes"] <= limit for s in index["shards"] if len(s["keys"]) > 1)
    assert sum(s > limit for s in sizes) == 1 and max(sizes) > real
    assert parse_bytes("1.5MB") == 1_500_000 and parse_bytes("2GiB") == 2 * 1024 ** 3


def test_cli(curated, tmp_path):
    dest = tmp_path / "cli"
    result = runner.invoke(app, ["export", str(curated), "--format", "webdataset", "-o", str(dest),
                                 "--shard-bytes", "10MB"])
    assert result.exit_code == 0, result.output
    assert "5 clips exported" in result.output and "skipped broken-0001" in result.output
    assert len(list(dest.glob("*.tar"))) == 1
    again = runner.invoke(app, ["export", str(curated), "--format", "webdataset", "-o", str(dest)])
    assert again.exit_code == 1 and "pass --force" in again.output and "Traceback" not in again.output
    missing = runner.invoke(app, ["export", str(tmp_path / "nothing"), "--format", "webdataset", "-o",
                                  str(tmp_path / "x")])
    assert missing.exit_code == 1 and "nothing/manifest.json: no manifest" in missing.output
    bad = runner.invoke(app, ["export", str(curated), "--format", "zip", "-o", str(tmp_path / "z")])
    assert bad.exit_code == 2 and "unknown format" in bad.output
    (tmp_path / "junk.json").write_text("{not json")
    junk = runner.invoke(app, ["export", str(tmp_path / "junk.json"), "-f", "webdataset", "-o", str(tmp_path / "j")])
    assert junk.exit_code == 1 and "junk.json: cannot read manifest" in junk.output
    shutil.rmtree(dest)
