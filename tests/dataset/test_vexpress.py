"""V-Express export on a real curated clip: kps.pth and face_info.pt per frame, the training JSON, the files."""
import json
import os
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from talkset.cli import app
from talkset.dataset.vexpress import LIP_SLICE, export_vexpress
from talkset.dataset.webdataset import ExportError
from talkset.vision.kps import KPS_SIZE, load_kps

runner = CliRunner()
CLIP = "talking/man_worldmap_844.mp4"


def _frames(path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


@pytest.fixture(scope="module")
def curated(tmp_path_factory, media):
    """A real curated clip with the annotation curate writes, plus a record whose mp4 is missing and one whose npz has no
    face at all."""
    from talkset.curate.run import curate

    out = tmp_path_factory.mktemp("vx") / "out"
    curate([media / CLIP], out, workers=1, progress=False)
    records = json.loads((out / "manifest.json").read_text())
    kept = [r for r in records if r["status"] == "kept"]
    assert kept
    assert all(r["annotations"]["keypoints"] for r in kept), "curate wrote no annotation npz"
    lost = json.loads(json.dumps(kept[0]))
    lost.update({"id": "lost-0001", "video-path": "clips/lost.mp4"})
    blank = json.loads(json.dumps(kept[0]))
    blank.update({"id": "blank-0001"})
    with np.load(out / kept[0]["annotations"]["keypoints"]) as z:
        arrays = dict(z)
    arrays["face"] = np.full_like(arrays["face"], np.nan)
    np.savez_compressed(out / "annotations/blank-0001.npz", **arrays)
    blank["annotations"]["keypoints"] = "annotations/blank-0001.npz"
    (out / "manifest.json").write_text(json.dumps(records + [lost, blank]))
    return out


N_FRAMES, FPS, SIDE = 40, 25, 312


@pytest.fixture(scope="module")
def photo_clip(tmp_path_factory, media):
    """A tiny curated-looking folder (fast, exact truth): a real photograph moved 1 px every 4 frames as a 40-frame
    25 fps mp4 with a 1.6 s wav, and an annotation npz holding the photo's real face mesh moved the same way, with
    no face on frame 5."""
    import cv2
    import soundfile as sf

    from talkset.testing import write_rgb_video
    from talkset.vision.face import FaceDetector, FaceMesher

    rgb = cv2.cvtColor(cv2.imread(str(media / "images/woman_frontal_624.jpg")), cv2.COLOR_BGR2RGB)
    rgb = cv2.resize(rgb, (SIDE, SIDE), interpolation=cv2.INTER_AREA)
    lm = FaceMesher(tracking=False)(rgb, FaceDetector()(rgb)[0])
    assert lm is not None and lm.shape == (478, 3)
    shift = np.arange(N_FRAMES) // 4
    out = tmp_path_factory.mktemp("photo") / "out"
    (out / "clips").mkdir(parents=True)
    (out / "annotations").mkdir()
    write_rgb_video(out / "clips/p-0000.mp4", [np.roll(rgb, int(d), axis=1) for d in shift], fps=FPS)
    t = np.arange(int(N_FRAMES / FPS * 16000)) / 16000
    sf.write(out / "clips/p-0000.wav", (0.3 * np.sin(2 * np.pi * 220 * t) * (t % 0.4 < 0.2)).astype(np.float32), 16000)
    face = np.stack([lm + [d, 0, 0] for d in shift]).astype(np.float16)
    face[5] = np.nan
    pose = np.zeros((N_FRAMES, 3), np.float32)
    np.savez_compressed(out / "annotations/p-0000.npz", size=np.array([SIDE, SIDE], np.int32), face=face,
                        t=np.arange(N_FRAMES) / FPS, head_pose=pose)
    rec = {"id": "p-0000", "type": "clip", "status": "kept", "video-path": "clips/p-0000.mp4",
           "audio-path": "clips/p-0000.wav", "source": {"path": "/x/p.mp4", "start": 0.0, "end": N_FRAMES / FPS},
           "metadata": {"resolution": f"{SIDE}x{SIDE}", "fps": float(FPS), "duration": N_FRAMES / FPS,
                        "language": "en", "gender": "female", "age_group": None, "ethnicity": None,
                        "speaker_id": "spk-1"},
           "annotations": {"keypoints": "annotations/p-0000.npz"}}
    (out / "manifest.json").write_text(json.dumps([rec, {**rec, "id": "q-0000", "status": "rejected"}]))
    return out, lm.astype(np.float16).astype(np.float32), shift


@pytest.fixture(scope="module")
def wav2vec2_dir(tmp_path_factory):
    from talkset.testing import tiny_wav2vec2

    return tiny_wav2vec2(tmp_path_factory.mktemp("w2v") / "wav2vec2-tiny")


def test_cropped_export_meets_the_trainers_contract(photo_clip, wav2vec2_dir, tmp_path, monkeypatch):
    from talkset.dataset.trainer_mirror import check_export

    out, lm, shift = photo_clip
    dest = tmp_path / "vx"
    result = export_vexpress(out, dest, wav2vec2=wav2vec2_dir)
    assert result.samples == 1 and not result.skipped and not result.incomplete
    entry = json.loads((dest / "vexpress.json").read_text())[0]
    assert all(Path(entry[k]).is_absolute() for k in ("video", "face_info", "audio_embeds"))
    assert entry["info"]["language"] == "English" and entry["info"]["gender"] == "female"
    with av.open(entry["video"]) as c:
        s = c.streams.video[0]
        assert (s.width, s.height) == (512, 512) and c.streams.audio
    assert _frames(entry["video"]) == N_FRAMES

    # every .pt loads with torch's default weights_only=True; nothing is NaN; one entry per frame of gt.mp4
    info = torch.load(entry["face_info"], weights_only=True)
    assert len(info) == N_FRAMES and all(len(f) == 1 for f in info)
    emb = torch.load(entry["audio_embeds"], weights_only=True)["global_embeds"]
    assert emb.dtype == torch.float32 and emb.shape[1:] == (1, 768)
    assert abs(emb.shape[0] - 50 * N_FRAMES / FPS) <= 2  # wav2vec2's 20 ms hop
    kps = np.stack(load_kps(dest / "p-0000/kps.pth"))
    for i, f in enumerate(info):
        face = f[0]
        assert face["bbox"].shape == (4,) and face["kps"].shape == (5, 2) and face["landmark_2d_106"].shape == (106, 2)
        assert all(torch.isfinite(face[k]).all() for k in ("bbox", "kps", "landmark_2d_106"))
        x1, y1, x2, y2 = face["bbox"].tolist()
        assert 0 <= x1 < x2 < 512 and 0 <= y1 < y2 < 512 and (x2 - x1) > 150  # the face fills the crop
        # kps.pth is in gt.mp4's pixels, the same points as face_info's kps
        np.testing.assert_allclose(kps[i], face["kps"][:3].numpy(), atol=1e-3)
    # frame 5 had no face: it repeats frame 4; the photo moved 9 px (of 312) by the last frame, so 9·s in the crop
    np.testing.assert_array_equal(info[5][0]["kps"].numpy(), info[4][0]["kps"].numpy())
    crop_scale = (info[-1][0]["kps"][:, 0] - info[0][0]["kps"][:, 0]) / float(shift[-1] - shift[0])
    side = 512 / crop_scale.mean().item()
    assert 150 < side <= SIDE  # a crop of the clip (1.6 × the face), scaled to 512
    # the 106 points: mouth inside the lip area, the chin below the nose, the image-left eye left of the other
    lm106 = info[0][0]["landmark_2d_106"].numpy()
    assert lm106[52:72, 1].min() > lm106[86, 1] and lm106[0, 1] > lm106[53, 1]
    assert lm106[38, 0] < lm106[92, 0] and lm106[52, 0] < lm106[61, 0]

    # the trainer's own steps, from another working directory
    monkeypatch.chdir(tmp_path)
    check_export(dest / "vexpress.json")


def test_no_model_names_the_missing_files_and_lists_only_complete_samples(photo_clip, tmp_path):
    out, _, _ = photo_clip
    result = export_vexpress(out, tmp_path / "a", crop="none", paths="relative", link="copy")
    assert result.samples == 0 and [s.id for s in result.incomplete] == ["p-0000"]
    assert str(tmp_path / "a/p-0000/aud_embeds.pt") in result.incomplete[0].reason
    assert "--wav2vec2" in result.notes[0] and "extract_audio_embeddings.py" in result.notes[0]
    assert json.loads((tmp_path / "a/vexpress.json").read_text()) == []
    again = export_vexpress(out, tmp_path / "b", crop="none", paths="relative", allow_incomplete=True)
    entry = json.loads((tmp_path / "b/vexpress.json").read_text())[0]
    assert entry["video"] == "p-0000/gt.mp4" and again.samples == 1
    # uncropped: gt.mp4 is the clip itself, face_info in its pixels, kps.pth at 512 of it stretched
    assert (tmp_path / "b/p-0000/gt.mp4").read_bytes() == (out / "clips/p-0000.mp4").read_bytes()
    info = torch.load(tmp_path / "b/p-0000/face_info.pt", weights_only=True)
    kps = np.stack(load_kps(tmp_path / "b/p-0000/kps.pth"))
    np.testing.assert_allclose(info[0][0]["kps"][:3].numpy() * KPS_SIZE / SIDE, kps[0], atol=1e-3)
    assert info[0][0]["bbox"][2] < SIDE


def test_frame_rate_option_resamples_frames_and_face_info(photo_clip, tmp_path):
    out, _, _ = photo_clip
    export_vexpress(out, tmp_path / "vx", fps=24, allow_incomplete=True)
    n24 = round(N_FRAMES / FPS * 24)
    assert _frames(tmp_path / "vx/p-0000/gt.mp4") == n24
    with av.open(str(tmp_path / "vx/p-0000/gt.mp4")) as c:
        assert c.streams.video[0].average_rate == 24
    assert len(torch.load(tmp_path / "vx/p-0000/face_info.pt")) == n24 == len(load_kps(tmp_path / "vx/p-0000/kps.pth"))


@pytest.mark.slow
def test_real_clip_export_loads_as_the_trainer_reads_it(curated, wav2vec2_dir, tmp_path, monkeypatch):
    from talkset.dataset.trainer_mirror import check_export
    from talkset.vision.kps import video_kps

    dest = tmp_path / "vx"
    result = export_vexpress(curated, dest, wav2vec2=wav2vec2_dir, fps=24)
    assert sorted(s.id for s in result.skipped) == ["blank-0001", "lost-0001"]
    reasons = {s.id: s.reason for s in result.skipped}
    assert "missing video file" in reasons["lost-0001"] and "no face on any" in reasons["blank-0001"]
    entries = json.loads((dest / "vexpress.json").read_text())
    assert result.samples == len(entries) >= 1 and not result.incomplete
    records = {r["id"]: r for r in json.loads((curated / "manifest.json").read_text())}
    for entry in entries:
        cid = Path(entry["video"]).parent.name
        n = _frames(entry["video"])
        assert n == round(records[cid]["metadata"]["duration"] * 24)
        info = torch.load(entry["face_info"], weights_only=True)
        kps = np.stack(load_kps(dest / cid / "kps.pth"))
        assert len(info) == n == len(kps)
        assert np.all((kps >= 0) & (kps <= KPS_SIZE)) and np.all(kps[:, 0, 0] < kps[:, 1, 0])
        # kps.pth and face_info are in gt.mp4's pixels: an independent mesh of gt.mp4 agrees frame by frame
        direct = np.stack(video_kps(entry["video"]))
        err = np.abs(direct - kps).max(axis=(1, 2))
        assert np.median(err) < 5.0 and err.max() < 15.0, np.percentile(err, [50, 90, 100])
        for f in info:
            lm = f[0]["landmark_2d_106"]
            assert torch.isfinite(lm).all() and lm[LIP_SLICE, 1].min() > f[0]["kps"][2, 1]  # mouth under the nose
    monkeypatch.chdir(tmp_path)
    check_export(dest / "vexpress.json")


@pytest.mark.slow
def test_link_modes_and_overwrite(curated, tmp_path):
    dest = tmp_path / "vx"
    export_vexpress(curated, dest, crop="none", link="symlink", allow_incomplete=True)
    entry = json.loads((dest / "vexpress.json").read_text())[0]
    assert Path(entry["video"]).is_symlink()
    with pytest.raises(ExportError, match="pass --force"):
        export_vexpress(curated, dest)
    again = export_vexpress(curated, dest, crop="none", link="hardlink", force=True, allow_incomplete=True)
    assert again.samples >= 1 and not Path(entry["video"]).is_symlink()
    rec = next(r for r in json.loads((curated / "manifest.json").read_text()) if r["id"] == Path(entry["video"]).parent.name)
    assert os.stat(entry["video"]).st_ino == os.stat(curated / rec["video-path"]).st_ino  # hard-linked, not copied
    for bad, match in (({"link": "move"}, "unknown link mode"), ({"crop": "body"}, "unknown crop"),
                       ({"paths": "url"}, "unknown path mode")):
        with pytest.raises(ExportError, match=match):
            export_vexpress(curated, tmp_path / "other", **bad)
    with pytest.raises(ExportError, match="no config.json"):
        export_vexpress(curated, tmp_path / "other", wav2vec2=tmp_path)


@pytest.mark.slow
def test_cli(curated, tmp_path):
    dest = tmp_path / "cli"
    result = runner.invoke(app, ["export", str(curated), "--format", "vexpress", "-o", str(dest), "--crop", "none",
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "0 clips exported" in result.output and "skipped lost-0001" in result.output
    assert "have no aud_embeds.pt" in result.output and "--wav2vec2" in result.output
    assert json.loads((dest / "vexpress.json").read_text()) == []
    wrong = runner.invoke(app, ["export", str(curated), "-f", "vexpress", "-o", str(tmp_path / "w"),
                                "--shard-size", "3"])
    assert wrong.exit_code == 2 and "--format webdataset" in wrong.output
