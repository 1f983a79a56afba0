"""Curate on the real footage of ../shared/media: one run over every talking and edge video plus bad inputs."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from talkset.audio.io import load_audio
from talkset.curate.run import curate
from talkset.dataset.manifest import video_id_for

STAGE = "edge/stage_cuts_multiperson_640x360.mp4"
STAGE_CUTS = (1.51, 3.58, 7.88)
TALKING = ("hdtf_woman_flag_512_mpeg4", "man_worldmap_844", "obama_450_20s", "vox_man_tv_224",
           "vox_woman_hand_occlusion_224", "woman_blazer_1920x1080", "woman_outdoor_1080x1920_hevc")


@pytest.fixture(scope="module")
def run(tmp_path_factory, request):
    media = Path(request.getfixturevalue("media"))
    tmp = tmp_path_factory.mktemp("curate_real")
    bad = tmp / "bad"
    bad.mkdir()
    (bad / "empty.mp4").write_bytes(b"")
    src = (media / "talking/vox_man_tv_224.mp4").read_bytes()
    (bad / "truncated.mp4").write_bytes(src[: len(src) // 3])
    (bad / "notes.mp4").write_text("this is not a video\n")
    shutil.copy(media / "audio/german_16k.wav", bad / "speech_only.wav")
    listed = tmp / "with_audio.csv"
    listed.write_text("path,audio_path,language,gender,age_group\n"
                      f"{media / 'talking/woman_headset_256_noaudio.mp4'},{media / 'talking/woman_headset_256_noaudio.wav'}"
                      ",en,female,\n")
    inputs = [media / f"talking/{name}.mp4" for name in TALKING] + [media / "edge", listed,
              bad / "empty.mp4", bad / "truncated.mp4", bad / "notes.mp4", bad / "speech_only.wav"]
    out = tmp / "out"
    summary = curate(inputs, out, workers=2, progress=False)
    records = json.loads((out / "manifest.json").read_text())
    return {"media": media, "out": out, "summary": summary, "records": records, "bad": bad}


def _clips(run, relpath: str) -> list[dict]:
    vid = video_id_for(run["media"] / relpath)
    return [r for r in run["records"] if r["video-id"] == vid]


def test_list_file_facts_reach_the_records_and_the_caption(run):
    listed = [r for r in _clips(run, "talking/woman_headset_256_noaudio.mp4") if r["type"] == "clip"]
    assert listed
    for r in listed:
        assert (r["metadata"]["language"], r["metadata"]["gender"], r["metadata"]["age_group"]) == ("en", "female", None)
    assert any("in English" in r["annotations"]["caption"] for r in listed if r["status"] == "kept")
    other = _clips(run, "talking/vox_man_tv_224.mp4")
    assert all(r["metadata"]["language"] is None and "English" not in (r["annotations"]["caption"] or "")
               for r in other if r["type"] == "clip")


# obama_450_20s's audio measures 0.25 s behind its lips: 0.15 s later than the same speaker's other recording
# (calibration t17) and the very lag of calibration negative n03 (t08's audio delayed 0.2 s). One threshold cannot
# keep the one and reject the other; the honest verdict is the measured one, tested below.
IN_SYNC = [n for n in TALKING if n != "obama_450_20s"]


@pytest.mark.parametrize("name", IN_SYNC + ["woman_headset_256_noaudio"])
def test_every_talking_video_gives_a_clip_in_sync(run, name):
    recs = _clips(run, f"talking/{name}.mp4")
    kept = [r for r in recs if r["status"] == "kept"]
    assert kept, f"{name}: nothing kept: {[r['reasons'] for r in recs]}"
    for r in kept:
        assert abs(r["scores"]["sync"]["offset_frames"]) <= 3
        assert (run["out"] / r["video-path"]).is_file()
        assert (run["out"] / r["audio-path"]).is_file()
        assert 3.0 <= r["metadata"]["duration"] <= 30.0


def test_late_audio_is_named_with_its_offset(run):
    recs = [r for r in _clips(run, "talking/obama_450_20s.mp4") if r["type"] == "clip"]
    assert recs and not [r for r in recs if r["status"] == "kept"]
    for r in recs:
        assert 3 < r["scores"]["sync"]["offset_frames"] <= 6, r["scores"]["sync"]
        assert any(x.startswith("sync: offset +") for x in r["reasons"]), r["reasons"]


@pytest.mark.parametrize("name", ["man_eating_music_nospeech_512", "woman_music_lips_unsynced_512"])
def test_music_and_unsynced_videos_keep_nothing_and_say_why(run, name):
    recs = _clips(run, f"edge/{name}.mp4")
    assert recs
    assert not [r for r in recs if r["status"] == "kept"]
    assert all(r["reasons"] for r in recs)


def test_stage_cuts_found_on_the_presentation_clock(run):
    part = json.loads((run["out"] / ".talkset/parts" / f"{video_id_for(run['media'] / STAGE)}.json").read_text())
    cuts = part["cuts"]
    frame = 1 / 29.97
    for expected in STAGE_CUTS:
        assert min(abs(c - expected) for c in cuts) <= 2 * frame, (expected, cuts)
    assert len(cuts) == 3


def test_stage_clips_never_span_a_cut_nor_come_from_the_audience(run):
    recs = _clips(run, STAGE)
    for r in recs:
        s, e = r["source"]["start"], r["source"]["end"]
        assert not any(s < c < e for c in STAGE_CUTS), r["source"]
        if r["status"] == "kept":
            assert STAGE_CUTS[1] <= s and e <= STAGE_CUTS[2], "kept a clip from an audience shot"


def test_hand_over_face_is_not_a_cut(run):
    vid = video_id_for(run["media"] / "talking/vox_woman_hand_occlusion_224.mp4")
    part = json.loads((run["out"] / ".talkset/parts" / f"{vid}.json").read_text())
    assert not [c for c in part["cuts"] if 0.4 < c < 1.2]


@pytest.mark.parametrize("name, why", [("empty.mp4", "empty"), ("truncated.mp4", ""),
                                       ("notes.mp4", "not a readable media file"),
                                       ("speech_only.wav", "audio only")])
def test_bad_inputs_get_one_line_reasons(run, name, why):
    recs = [r for r in run["records"] if r["video-id"] == video_id_for(run["bad"] / name)]
    assert len(recs) == 1 and recs[0]["status"] == "failed"
    (reason,) = recs[0]["reasons"]
    assert "\n" not in reason and name in reason and why in reason


def test_manifest_parquet_matches_json(run):
    table = pq.read_table(run["out"] / "manifest.parquet").to_pylist()
    assert [r["id"] for r in table] == [r["id"] for r in run["records"]]
    assert [r["status"] for r in table] == [r["status"] for r in run["records"]]
    assert table[0]["scores"] == run["records"][0]["scores"] or run["records"][0]["type"] == "source"


def test_summary_counts_what_the_manifest_holds(run):
    s, recs = run["summary"], run["records"]
    kept = [r for r in recs if r["status"] == "kept"]
    assert s.clips_kept == len(kept)
    assert s.hours_kept == pytest.approx(sum(r["metadata"]["duration"] for r in kept) / 3600)
    assert s.failed_videos == 4
    assert s.videos == len({r["video-id"] for r in recs})
    assert "clips kept" in s.table()
    assert s.rejections.get("unusable input") == 4


def test_delaying_the_audio_by_8_frames_moves_the_offset_by_8(media, tmp_path):
    video = media / "talking/vox_man_tv_224.mp4"
    audio = load_audio(video)
    fps = 25
    delay = 8 / fps
    plain = tmp_path / "plain.wav"
    late = tmp_path / "late.wav"
    sf.write(plain, audio.samples, audio.sr)
    sf.write(late, np.concatenate([np.zeros(int(round(delay * audio.sr)), np.float32), audio.samples]), audio.sr)
    # Same video twice: two output folders, since a source's id comes from its path.
    results = {}
    for wav in (plain, late):
        one = tmp_path / f"{wav.stem}.jsonl"
        one.write_text(json.dumps({"path": str(video), "audio_path": str(wav)}))
        out = tmp_path / f"out_{wav.stem}"
        curate([one], out, workers=1, progress=False)
        recs = [r for r in json.loads((out / "manifest.json").read_text()) if r["type"] == "clip"]
        results[wav.stem] = max(recs, key=lambda r: r["metadata"]["duration"])
    moved = results["late"]["scores"]["sync"]["offset_frames"] - results["plain"]["scores"]["sync"]["offset_frames"]
    assert abs(moved - 8) <= 1
    assert results["plain"]["status"] == "kept"
    assert results["late"]["status"] == "rejected"
    assert any(r.startswith("sync: offset") for r in results["late"]["reasons"])
