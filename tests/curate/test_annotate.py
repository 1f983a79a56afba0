"""Annotations: keypoints per clip frame, shot types, speaker ids, facts and the template caption."""
from __future__ import annotations

import json
import shutil

import av
import numpy as np
import pytest

from talkset.curate.annotate import ClipAnnotation, audio_facts
from talkset.curate.caption import template_caption
from talkset.curate.config import Config
from talkset.curate.run import curate, refresh_manifest, speaker_ids
from talkset.files import atomic_write_json
from talkset.run.store import OutputStore
from talkset.vision.pose import clip_shot_type, frame_shot_type


def _frames(path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def _kept(out):
    return [r for r in json.loads((out / "manifest.json").read_text()) if r["status"] == "kept"]


@pytest.fixture(scope="module")
def annotated(media, tmp_path_factory):
    """vox_man (close-up) and woman_outdoor (seated, knees in view) curated once."""
    out = tmp_path_factory.mktemp("annotated") / "out"
    curate([media / "talking/vox_man_tv_224.mp4", media / "talking/woman_outdoor_1080x1920_hevc.mp4"], out,
           workers=2, progress=False)
    return out


def _record(out, stem):
    [rec] = [r for r in _kept(out) if r["id"].startswith(stem)]
    return rec


def test_keypoints_one_entry_per_clip_frame_and_face_inside_box(annotated):
    rec = _record(annotated, "vox_man_tv_224")
    z = np.load(annotated / rec["annotations"]["keypoints"])
    n = _frames(annotated / rec["video-path"])
    for key, shape in (("t", ()), ("face", (478, 3)), ("face_box", (4,)), ("head_pose", (3,)),
                       ("body", (33, 4)), ("hands", (2, 21, 3)), ("hand_score", (2,))):
        assert z[key].shape == (n, *shape), key
    assert np.all(np.diff(z["t"]) > 0) and z["t"][0] == 0
    assert abs(z["t"][-1] - (n - 1) / rec["metadata"]["fps"]) < 1e-3
    assert list(z["size"]) == [224, 224]
    face, box = z["face"].astype(np.float32), z["face_box"]
    inside_frames = 0
    for pts, (x, y, w, h) in zip(face[:, :, :2], box):
        share = np.mean((pts[:, 0] >= x) & (pts[:, 0] <= x + w) & (pts[:, 1] >= y) & (pts[:, 1] <= y + h))
        inside_frames += share >= 0.9  # the mesh's forehead rim may rise above the detector's box
    assert inside_frames >= 0.99 * n
    assert np.all(np.isfinite(z["head_pose"]))


def test_shot_types_of_real_clips(annotated):
    assert _record(annotated, "vox_man_tv_224")["annotations"]["shot_type"] == "close-up"
    assert _record(annotated, "woman_outdoor")["annotations"]["shot_type"] in ("half-body", "full-body")
    body = np.load(annotated / _record(annotated, "woman_outdoor")["annotations"]["keypoints"])["body"]
    assert np.isfinite(body[:, 0, 0]).mean() > 0.95  # the pose is found on a seated person


def test_caption_is_built_from_stored_facts(annotated):
    for rec in _kept(annotated):
        ann = rec["annotations"]
        assert ann["caption"] == template_caption(ann["facts"])
        assert ann["facts"]["shot_type"] == ann["shot_type"]
        assert ann["caption_structured"] is None
    assert "close-up" in _record(annotated, "vox_man_tv_224")["annotations"]["caption"]


def test_different_people_get_different_speakers(annotated):
    ids = {r["id"].split("-")[0]: r["metadata"]["speaker_id"] for r in _kept(annotated)}
    assert len(ids) == 2 and None not in ids.values() and len(set(ids.values())) == 2


@pytest.mark.slow  # CI time: runs with the slow set
def test_two_clips_of_one_source_share_a_speaker(media, tmp_path):
    cfg = tmp_path / "short.toml"
    cfg.write_text("[segment]\nmax_clip_s = 8.0\n[annotate]\nbody = false\nhands = false\n")
    out = tmp_path / "out"
    curate([media / "calibration/talking/t17_obama_256_30s_muxed.mp4"], out, config=cfg, workers=1, progress=False)
    kept = _kept(out)
    assert len(kept) >= 2
    assert len({r["metadata"]["speaker_id"] for r in kept}) == 1
    assert kept[0]["metadata"]["speaker_id"] is not None
    # body and hands were switched off: their arrays are all missing, the face is not
    z = np.load(out / kept[0]["annotations"]["keypoints"])
    assert np.isnan(z["body"]).all() and np.isfinite(z["face"]).any()


@pytest.mark.slow
def test_people_across_shared_media_get_distinct_speakers(media, tmp_path):
    files = ["talking/vox_man_tv_224.mp4", "calibration/talking/t17_obama_256_30s_muxed.mp4",
             "talking/hdtf_woman_flag_512_mpeg4.mp4",
             "talking/man_worldmap_844.mp4", "talking/woman_blazer_1920x1080.mp4"]
    cfg = tmp_path / "c.toml"
    cfg.write_text("[annotate]\nbody = false\nhands = false\n")
    out = tmp_path / "out"
    curate([media / f for f in files], out, config=cfg, workers=2, progress=False)
    by_source: dict[str, set] = {}
    for rec in _kept(out):
        by_source.setdefault(rec["video-id"], set()).add(rec["metadata"]["speaker_id"])
    assert len(by_source) == len(files)
    assert all(len(s) == 1 for s in by_source.values())
    assert len(set.union(*by_source.values())) == len(files)


def test_caption_file_is_picked_up_by_refresh(annotated, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(annotated, out)
    rec = _kept(out)[0]
    atomic_write_json(out / "annotations" / f"{rec['id']}.caption.json", {"summary": "x"})
    refresh_manifest(out)
    again = {r["id"]: r for r in _kept(out)}
    assert again[rec["id"]]["annotations"]["caption_structured"] == f"annotations/{rec['id']}.caption.json"
    assert sum(r["annotations"]["caption_structured"] is not None for r in again.values()) == 1


def test_speaker_clustering_is_greedy_and_deterministic(tmp_path):
    store = OutputStore(tmp_path)
    store.create()
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=128), rng.normal(size=128)
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)  # ~1.4 apart: two people
    parts = {"v1": {"v1-0000": a, "v1-0001": b + 0.01}, "v2": {"v2-0000": a + 0.02, "v2-0001": a * 2}}
    for vid, emb in parts.items():
        atomic_write_json(store.parts / f"{vid}.json", {"video_id": vid, "records": [],
                                                         "embeddings": {k: v.tolist() for k, v in emb.items()}})
        (store.done / vid).touch()
    ids = speaker_ids(store, 0.6)
    assert ids["v1-0000"] == ids["v2-0000"]
    assert len({ids["v1-0000"], ids["v1-0001"], ids["v2-0001"]}) == 3  # 2a is 1 away from a: someone else
    assert speaker_ids(store, 0.6) == ids
    # without v1, a's speaker is named after another clip, b's is gone, the 2a speaker keeps its name
    (store.done / "v1").unlink()
    again = speaker_ids(store, 0.6)
    assert again["v2-0001"] == ids["v2-0001"] and again["v2-0000"] != ids["v2-0000"]


def _body(visible: set[int], w=100, h=100) -> np.ndarray:
    body = np.zeros((33, 4), np.float32)
    body[:, :2] = 50
    body[:, 3] = [0.9 if i in visible else 0.1 for i in range(33)]
    return body


def test_shot_type_rules():
    assert frame_shot_type(_body({0, 11, 12}), 100, 100) == "close-up"
    assert frame_shot_type(_body({0, 11, 12, 23, 24}), 100, 100) == "half-body"
    assert frame_shot_type(_body({0, 11, 12, 23, 24, 25, 26}), 100, 100) == "full-body"
    outside = _body({0, 23, 24})
    outside[23:25, 1] = 130  # hips "visible" but below the frame
    assert frame_shot_type(outside, 100, 100) == "close-up"
    assert frame_shot_type(None, 100, 100) is None
    assert clip_shot_type(["close-up", "half-body", "half-body", None], 4) == "half-body"
    assert clip_shot_type([None, None], 2) == "close-up"
    assert clip_shot_type([None, None], 0) is None


def test_template_caption_bands():
    facts = {"shot_type": "half-body", "head_pose": [20.0, -40.0, 0.0], "head_pose_spread": [1.0, 1.0, 1.0],
             "face_area": 0.1, "face_center": [0.2, 0.5], "face_brightness": 0.1, "face_contrast": 0.3,
             "speech_rate_sps": 6.0, "loudness_dbfs": -40.0, "language": "de", "duration": 4.0,
             "resolution": "640x360", "fps": 25.0}
    text = template_caption(facts)
    for phrase in ("A half-body shot", "three-quarter view (yaw 40°)", "head tilted up", "holding the head still",
                   "fills 10%", "left of centre", "dark, high-contrast", "fast speech", "quiet level",
                   "in German", "4.0 s, 640x360 at 25 fps"):
        assert phrase in text, phrase
    assert template_caption({}) == "A shot of one person speaking."
    assert template_caption(facts) == text


def test_speech_rate_counts_syllable_bursts():
    sr = 16000
    t = np.arange(4 * sr) / sr
    rng = np.random.default_rng(1)
    carrier = np.sin(2 * np.pi * 800 * t) + 0.3 * rng.normal(size=t.size)
    for rate in (3.0, 5.0):
        samples = (0.3 * carrier * np.clip(np.sin(2 * np.pi * rate * t), 0, None) ** 2).astype(np.float32)
        assert audio_facts(samples, sr)["speech_rate_sps"] == pytest.approx(rate, rel=0.15)
    quiet = audio_facts((0.01 * carrier).astype(np.float32), sr)["loudness_dbfs"]
    assert quiet == pytest.approx(20 * np.log10(0.01 * np.sqrt(0.5 + 0.09)), abs=0.5)


def test_npz_bytes_are_deterministic_and_loadable():
    arrays = {"t": np.arange(4.0), "face": np.full((4, 478, 3), np.nan, np.float16)}
    a = ClipAnnotation(arrays, None)
    import io

    assert a.npz_bytes() == ClipAnnotation(dict(arrays), None).npz_bytes()
    z = np.load(io.BytesIO(a.npz_bytes()))
    assert np.isnan(z["face"]).all() and list(z["t"]) == [0, 1, 2, 3]


def test_keypoints_off_writes_no_npz(tmp_path, media):
    cfg = Config.load(None)
    assert cfg.annotate["keypoints"] is True
    from talkset.curate.pipeline import clip_files

    cfg.annotate["keypoints"] = False
    assert clip_files("x", cfg) == ["clips/x.mp4", "clips/x.wav"]
