"""Annotations come from the video pass: they agree with annotating the written clip from its own pixels, and
a run that writes no clips (``clips = "none"``) gets the same annotations, with ``talkset cut`` writing the files
later to match them frame for frame."""
from __future__ import annotations

import json

import av
import numpy as np
import pytest

import talkset.curate.analyze as analyze
import talkset.rows as rows
from talkset.curate.annotate import Annotators, annotate_clip
from talkset.curate.config import Config
from talkset.curate.run import curate, cut_missing
from talkset.vision.face import FaceDetector, FaceMesher

FILES = {"talking/vox_man_tv_224.mp4": (), "talking/woman_outdoor_1080x1920_hevc.mp4": (pytest.mark.slow,),
         "edge/stage_cuts_multiperson_640x360.mp4": (pytest.mark.slow,)}


def _kept(out) -> list[dict]:
    return [r for r in json.loads((out / "manifest.json").read_text()) if r["status"] == "kept"]


def _frames(path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


@pytest.mark.parametrize("name", [pytest.param(n, marks=m, id=n.split("/")[1].split("_")[0]) for n, m in FILES.items()])
def test_no_clips_then_cut_matches_the_clip_annotated_from_its_pixels(media, tmp_path, name):
    cfg = Config.load(None)
    cfg.output["clips"] = "none"
    out = tmp_path / "out"
    curate([media / name], out, config=cfg, workers=1, progress=False)
    kept = _kept(out)
    assert kept, "the footage has a clip to keep"
    assert not (out / "clips").exists() or not any((out / "clips").iterdir())
    npz = {}
    for rec in kept:
        assert rec["clip-mode"] == "none" and rec["video-path"] is None and rec["audio-path"] is None
        assert rec["annotations"]["shot_type"] and rec["metadata"]["speaker_id"]
        npz[rec["id"]] = (out / rec["annotations"]["keypoints"]).read_bytes()

    written, problems = cut_missing(out, Config.load(None))
    assert (written, problems) == (len(kept), [])
    reference = Annotators(FaceDetector(), FaceMesher())
    for rec in _kept(out):
        assert rec["clip-mode"] == "encode" and rec["video-path"] == f"clips/{rec['id']}.mp4"
        path = out / rec["annotations"]["keypoints"]
        assert path.read_bytes() == npz[rec["id"]], "cut keeps the pass's annotation"
        z = np.load(path)
        ref = annotate_clip(out / rec["video-path"], reference).arrays
        n = _frames(out / rec["video-path"])
        assert len(z["t"]) == len(ref["t"]) == n, "one entry per frame of the clip cut later"
        assert np.abs(z["t"] - ref["t"]).max() < 1e-3
        a, b = z["face"][:, :, :2].astype(np.float32), ref["face"][:, :, :2].astype(np.float32)
        both = np.isfinite(a[:, 0, 0]) & np.isfinite(b[:, 0, 0])
        assert both.sum() >= 0.95 * max(np.isfinite(b[:, 0, 0]).sum(), 1)
        error = np.linalg.norm(a[both] - b[both], axis=2).mean()
        assert error <= 1.0, f"{rec['id']}: mean landmark difference {error:.2f} px at clip resolution"
        # Body pose ran at the configured rate and was interpolated between.
        rate = Config.load(None).annotate["pose_sample_fps"]
        measured = z["body_measured"].sum()
        assert abs(measured - rate * rec["metadata"]["duration"]) <= 2
        assert measured < n


@pytest.mark.parametrize("mode, preset, crf", [("encode", "veryfast", 20), ("fast", "ultrafast", 21),
                                               ("none", "veryfast", 20)])
def test_clip_modes_pick_their_encoder_settings(monkeypatch, tmp_path, mode, preset, crf):
    from talkset.curate import pipeline
    from talkset.dataset.records import Record, Span

    used = {}
    monkeypatch.setattr(pipeline, "write_clip", lambda *a, **k: used.update(k))

    class Store:
        root = tmp_path

        def temp_path(self, video_id, name):
            return tmp_path / name

        def place(self, tmp, rel):
            pass

    class Audio:
        sr = 16000

        def slice(self, a, b):
            return np.zeros(int((b - a) * 16000), np.float32)

    cfg = Config.load(None)
    cfg.output["clips"] = mode
    rec = Record(id="c", video_id="v", source=Span("x.mp4", 0.0, 1.0))
    job = pipeline.VideoJob("x.mp4")
    info = type("Info", (), {"rotation_deg": 0})()
    pipeline.write_clip_files(job, info, rec, Audio(), Store(), cfg.output)
    assert (used["preset"], used["crf"]) == (preset, crf)
    # "none" curated nothing; when `talkset cut` writes the files later they are the default encode.
    assert rec.clip_mode == ("fast" if mode == "fast" else "encode") and rec.video_path == "clips/c.mp4"


def test_an_unknown_clip_mode_is_a_config_error(tmp_path):
    from talkset.curate.config import ConfigError

    bad = tmp_path / "bad.toml"
    bad.write_text('[output]\nclips = "copy"\n')
    with pytest.raises(ConfigError, match="output.clips"):
        Config.load(bad)


def test_pose_between_samples_is_interpolated_only_between_two_found_bodies():
    from talkset.curate.annotate import _interpolated

    sample_t = np.array([0.0, 0.2, 0.4, 0.6])
    values = np.array([[0.0, 1.0], [2.0, 3.0], [np.nan, np.nan], [6.0, 7.0]], np.float32)
    t = np.array([0.0, 0.1, 0.2, 0.3, 0.5, 0.6, 0.7])
    out, measured = _interpolated(sample_t, values, t)
    assert measured.tolist() == [True, False, True, False, False, True, False]
    np.testing.assert_allclose(out[:3], [[0, 1], [1, 2], [2, 3]])
    assert np.isnan(out[3:5]).all(), "no body at 0.4 s: nothing is made up on either side of it"
    np.testing.assert_allclose(out[5], [6, 7])
    assert np.isnan(out[6]).all(), "after the last sample there is nothing to interpolate to"


def test_exports_say_a_clip_curated_without_files_needs_talkset_cut(tmp_path):
    from talkset.dataset.webdataset import media_files

    with pytest.raises(ValueError, match="talkset cut"):
        media_files(tmp_path, {"id": "c", "clip-mode": "none", "video-path": None})
    with pytest.raises(ValueError, match="no video-path"):
        media_files(tmp_path, {"id": "c", "video-path": None})


def test_a_pass_that_spills_its_meshes_to_a_file_writes_the_same_annotations(media, tmp_path, monkeypatch):
    cfg = Config.load(None)
    cfg.output["clips"] = "none"
    outs = {}
    files = []
    temporary_file = rows.tempfile.TemporaryFile

    def counted(*args, **kwargs):
        files.append(1)
        return temporary_file(*args, **kwargs)

    monkeypatch.setattr(rows.tempfile, "TemporaryFile", counted)
    for name, spill in (("memory", analyze.SPILL_BYTES), ("file", 1)):
        monkeypatch.setattr(analyze, "SPILL_BYTES", spill)
        outs[name] = tmp_path / name
        curate([media / "talking/vox_man_tv_224.mp4"], outs[name], config=cfg, workers=1, progress=False)
    assert len(files) == 2, "the second pass spilled its meshes and chips"
    kept = {k: _kept(o) for k, o in outs.items()}
    assert kept["memory"] and len(kept["memory"]) == len(kept["file"])
    for a, b in zip(kept["memory"], kept["file"]):
        assert a["annotations"] == b["annotations"]
        assert (outs["memory"] / a["annotations"]["keypoints"]).read_bytes() == \
            (outs["file"] / b["annotations"]["keypoints"]).read_bytes()
