"""TalkVid metadata → manifest → TalkVid: fields mapped, originals given back, bench runs on the import."""
import copy
import json

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from talkset.cli import app
from talkset.dataset.records import Record
from talkset.dataset.talkvid import TalkVidError, export_talkvid, import_talkvid, record_from_talkvid
from talkset.testing import synthetic_manifest

runner = CliRunner()


def talkvid_record(i: int, language: str, gender: str, age: str, ethnicity: str) -> dict:
    """A record in the layout of TalkVid's README "Data Format" (values varied per record)."""
    start = 0.1 * i
    return {
        "id": f"videovideoVID{i:03d}abcd-scene{i}-scene1", "height": 1080, "width": 1920, "fps": 24.0,
        "start-time": start, "start-frame": round(start * 24), "end-time": start + 5.0 + i,
        "end-frame": round((start + 5.0 + i) * 24), "durations": f"{5.0 + i:.3f}s",
        "info": {"Person ID": str(500 + i), "Ethnicity": ethnicity, "Age Group": age, "Gender": gender,
                 "Video Link": f"https://www.youtube.com/watch?v=VID{i:03d}abcd", "Language": language,
                 "Video Category": "Personal Experience"},
        "description": f"A person talks (clip {i}).", "dover_scores": 8.0 + i / 10, "cotracker_ratio": 0.9 + i / 100,
        "head_detail": {"scores": {"avg_movement": 97.9 - i, "min_movement": 89.4, "avg_rotation": 93.8,
                                   "min_rotation": 70.4, "avg_completeness": 100.0, "min_completeness": 100.0,
                                   "avg_resolution": 383.1 + i, "min_resolution": 349.7,
                                   "avg_orientation": 80.3, "min_orientation": 73.3}},
    }


@pytest.fixture
def talkvid_file(tmp_path):
    people = [("English", "Male", "60+", "White"), ("Chinese", "Female", "19-30", "Asian"),
              ("Arabic", "Male", "31-45", "Black"), ("English", "Female", "46-60", "Black"),
              ("Thai", "Female", "0-19", "Asian"), ("Klingon", "Male", "19-30", "White")]
    items = [talkvid_record(i, *p) for i, p in enumerate(people)]
    bad = {"id": "broken", "start-time": 3.0}  # no end-time
    path = tmp_path / "talkvid.json"
    path.write_text(json.dumps(items[:3] + [bad] + items[3:], ensure_ascii=False, indent=1))
    return path, items


def test_import_maps_fields_and_writes_both_manifests(talkvid_file, tmp_path):
    path, items = talkvid_file
    out = tmp_path / "imported"
    result = import_talkvid(path, out)
    assert result.samples == len(items)
    assert [(s.id, s.reason) for s in result.skipped] == [("broken", "no end-time")]
    records = json.loads((out / "manifest.json").read_text())
    assert [r["id"] for r in records] == [i["id"] for i in items]
    assert pq.read_table(out / "manifest.parquet").column("id").to_pylist() == [i["id"] for i in items]
    for rec, item in zip(records, items):
        assert Record.from_dict(rec).to_dict() == rec  # a valid record of our model
        assert rec["type"] == "clip" and rec["status"] == "kept" and rec["video-id"] == item["id"][10:20]
        meta = rec["metadata"]
        assert meta["resolution"] == "1920x1080" and meta["fps"] == 24.0
        assert meta["duration"] == pytest.approx(item["end-time"] - item["start-time"])
        assert meta["speaker_id"] == f"talkvid-{item['info']['Person ID']}"
        assert meta["gender"] == item["info"]["Gender"].lower() and meta["age_group"] == item["info"]["Age Group"]
        assert rec["source"] == {"path": item["info"]["Video Link"], "start": item["start-time"],
                                 "end": item["end-time"]}
        head = item["head_detail"]["scores"]
        assert rec["scores"]["head_detail"]["movement"] == {"avg": head["avg_movement"], "min": head["min_movement"]}
        assert rec["scores"]["motion"]["track_survival"] == pytest.approx(100 * item["cotracker_ratio"])
        assert "quality" not in rec["scores"]  # DOVER is not our quality score: kept only in the original
        assert rec["annotations"]["caption"] == item["description"]
    assert [r["metadata"]["language"] for r in records] == ["en", "zh", "ar", "en", "th", "klingon"]


def test_round_trip_gives_the_original_records(talkvid_file, tmp_path):
    path, items = talkvid_file
    import_talkvid(path, tmp_path / "m")
    export_talkvid(tmp_path / "m", tmp_path / "back.json")
    assert json.loads((tmp_path / "back.json").read_text()) == items
    with pytest.raises(TalkVidError, match="manifest.json: exists"):
        import_talkvid(path, tmp_path / "m")


def test_our_records_export_to_talkvid_fields_that_import_back():
    recs = synthetic_manifest(3)
    for r in recs:
        r["video-path"] = f"clips/{r['id']}.mp4"
        r["metadata"]["speaker_id"] = "spk-0001"
    from pathlib import Path

    from talkset.dataset.talkvid import talkvid_from_record

    for rec in recs:
        tv = talkvid_from_record(rec, Path("/data/out"))
        meta = rec["metadata"]
        assert (tv["width"], tv["height"]) == (1280, 720) and tv["fps"] == meta["fps"]
        assert tv["start-time"] == rec["source"]["start"] == tv["start"] and tv["start-frame"] == 0
        assert tv["end-frame"] == round(meta["duration"] * meta["fps"]) == 125  # the clip's 5 s at 25 fps
        assert tv["durations"] == "5.0s"
        head = rec["scores"]["head_detail"]
        assert tv["head_detail"]["scores"]["avg_resolution"] == head["resolution"]["avg"]
        assert tv["head_detail"]["scores"]["face_consistency"] == head["face_consistency"]
        thresholds = {"movement": (80, 60), "orientation": (70, 30), "completeness": (100, 100),
                      "resolution": (50, 40), "rotation": (70, 60)}
        expected = all(head[n]["avg"] >= a and head[n]["min"] >= m for n, (a, m) in thresholds.items())
        assert tv["head_detail"]["passed"] is (expected and head["face_consistency"] >= 80)
        assert tv["video-path"] == f"/data/out/clips/{rec['id']}.mp4"
        back = record_from_talkvid(tv).to_dict()
        head = {k: v for k, v in back["scores"]["head_detail"].items() if v is not None}  # what TalkVid has
        assert head == {k: v for k, v in rec["scores"]["head_detail"].items() if k in head}
        assert set(head) == {"movement", "rotation", "completeness", "resolution", "orientation"}
        assert back["scores"]["motion"]["track_survival"] == pytest.approx(rec["scores"]["motion"]["track_survival"])
        for key in ("language", "gender", "age_group", "ethnicity", "resolution", "fps"):
            assert back["metadata"][key] == meta[key], key


def test_bench_build_runs_on_the_import_and_cli(talkvid_file, tmp_path):
    path, items = talkvid_file
    out = tmp_path / "imported"
    result = runner.invoke(app, ["import-talkvid", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"{len(items)} clips imported (1 records skipped)" in result.output
    bench = tmp_path / "bench.json"
    result = runner.invoke(app, ["bench", "build", str(out / "manifest.json"), "-o", str(bench), "--per-group", "1"])
    assert result.exit_code == 0, result.output
    pools = json.loads(bench.read_text())["pools"]
    assert set(pools["gender"]) == {"female", "male"} and set(pools["ethnicity"]) == {"Asian", "Black", "White"}
    chosen = {cid for pool in pools.values() for group in pool.values() for cid in group}
    assert chosen <= {i["id"] for i in items}

    back = tmp_path / "back.json"
    result = runner.invoke(app, ["export", str(out), "--format", "talkvid", "-o", str(back)])
    assert result.exit_code == 0 and json.loads(back.read_text()) == items
    again = runner.invoke(app, ["export", str(out), "--format", "talkvid", "-o", str(back)])
    assert again.exit_code == 1 and "exists; pass --force" in again.output


@pytest.mark.parametrize("content, message", [
    ("{broken", "not JSON or JSON Lines"),
    ("[]", "expected a JSON list"),
    ('[{"id": "x"}]', "no usable TalkVid record"),
])
def test_bad_files_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "tv.json"
    path.write_text(content)
    result = runner.invoke(app, ["import-talkvid", str(path), "-o", str(tmp_path / "o")])
    assert result.exit_code == 1 and message in result.output and "tv.json" in result.output
    lines = result.output.strip().splitlines()
    assert [ln for ln in lines if ln.startswith("talkset: error:")] == lines[-1:]  # warnings before, if any
    assert "Traceback" not in result.output
    missing = runner.invoke(app, ["import-talkvid", str(tmp_path / "nope.json"), "-o", str(tmp_path / "o")])
    assert missing.exit_code == 1 and "nope.json: no such file" in missing.output


def test_json_lines_and_the_input_is_left_alone(talkvid_file, tmp_path):
    _, items = talkvid_file
    frozen = copy.deepcopy(items)
    path = tmp_path / "tv.jsonl"
    path.write_text("\n".join(json.dumps(i) for i in items) + "\n")
    import_talkvid(path, tmp_path / "o")
    rec = json.loads((tmp_path / "o/manifest.json").read_text())[0]
    rec["metadata"]["talkvid"]["info"]["Gender"] = "changed"
    assert items == frozen
    (tmp_path / "o/manifest.json").write_text(json.dumps([rec]))
    export_talkvid(tmp_path / "o", tmp_path / "x.json")
    assert json.loads((tmp_path / "x.json").read_text())[0]["info"]["Gender"] == "changed"


def test_downloaded_clips_are_found_by_video_id_and_span(talkvid_file, tmp_path):
    path, items = talkvid_file
    clips = tmp_path / "clips_output"
    (clips / "VID001abcd").mkdir(parents=True)
    mp4 = clips / "VID001abcd" / "VID001abcd_002_0.100_6.100.mp4"  # TalkVid's download_clips.py naming
    mp4.write_bytes(b"x")
    (clips / "VID001abcd" / "VID001abcd_002_0.100_6.100.m4a").write_bytes(b"y")
    result = runner.invoke(app, ["import-talkvid", str(path), "-o", str(tmp_path / "o"), "--clips", str(clips)])
    assert result.exit_code == 0, result.output
    records = {r["id"]: r for r in json.loads((tmp_path / "o/manifest.json").read_text())}
    linked = {i: r["video-path"] for i, r in records.items() if r["video-path"]}
    assert linked == {items[1]["id"]: str(mp4.resolve())}
    assert records[items[1]["id"]]["audio-path"].endswith(".m4a")


def download_clips_segments(items: list) -> list[tuple]:
    """The segments TalkVid's data_pipeline/0_video_download/download_clips.py takes from its JSON list (its
    item parsing, rebuilt from its description: the URL from info, start from "start-time" or "start")."""
    out = []
    for item in items:
        info = item.get("info", {})
        url = info.get("Video Link") or info.get("video_link")
        start, end = item.get("start-time") or item.get("start"), item.get("end-time") or item.get("end")
        if url is None or start is None or end is None:
            continue
        try:
            s, e = float(start), float(end)
        except (TypeError, ValueError):
            continue
        if e > s:
            out.append((url, s, e))
    return out


def test_talkvids_downloader_takes_every_clip_also_one_at_zero(tmp_path):
    from talkset.dataset.talkvid import talkvid_from_record

    recs = synthetic_manifest(3)
    for i, r in enumerate(recs):
        r["source"]["start"], r["source"]["end"] = 3.0 * i, 3.0 * i + 5.0  # the first at 0.0 s
    items = [talkvid_from_record(r, tmp_path) for r in recs]
    assert download_clips_segments(items) == [(r["source"]["path"], r["source"]["start"], r["source"]["end"])
                                              for r in recs]
    # without the repeated "start" the 0.0 s clip is lost, as the issue found
    bare = [{k: v for k, v in i.items() if k not in ("start", "end")} for i in items]
    assert len(download_clips_segments(bare)) == 2


def test_info_comes_from_the_records_metadata(tmp_path):
    from talkset.dataset.talkvid import talkvid_from_record

    rec = synthetic_manifest(1)[0]
    rec["metadata"].update(language="en", gender="female", age_group="19-30", ethnicity="Asian",
                           speaker_id="spk-0003")
    info = talkvid_from_record(rec, tmp_path)["info"]
    assert info == {"Person ID": "spk-0003", "Ethnicity": "Asian", "Age Group": "19-30", "Gender": "Female",
                    "Video Link": rec["source"]["path"], "Language": "English", "Video Category": None}
