"""Test factories: synthetic manifest parts shaped like real ones, for merge, filter and bench tests; the labels of
the shared footage the verdict tests and ``benchmarks/truth.py`` judge curate by."""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from talkset.curate.verdicts import MIN_COVERAGE, Label
from talkset.dataset.manifest import clip_id_for
from talkset.dataset.records import REJECTED, Metadata, Record, Scores, Span


def synthetic_scores(rng: random.Random) -> dict[str, Any]:
    """Scores with the keys and types curate writes, values drawn at random around passing levels."""
    def avg_min(lo: float) -> dict[str, float]:
        a = rng.uniform(lo, 100.0)
        return {"avg": round(a, 2), "min": round(rng.uniform(lo - 20, a), 2)}

    return {
        "quality": {"score": round(rng.uniform(20, 95), 2), "face_sharpness": 50.0, "frame_sharpness": 50.0,
                    "exposure": 90.0, "noise": 90.0, "blockiness": 90.0, "bits_per_pixel": 80.0},
        "motion": {"track_survival": round(rng.uniform(30, 100), 2), "camera_motion": round(rng.uniform(0, 30), 3)},
        "sync": {"offset_frames": rng.randint(-6, 6), "raw_offset_frames": rng.randint(-3, 9),
                 "confidence": round(rng.uniform(0, 0.5), 4), "peak_correlation": 0.4, "offset_s": 0.0},
        "head_detail": {"movement": avg_min(70), "orientation": avg_min(60), "completeness": avg_min(95),
                        "resolution": avg_min(30), "rotation": avg_min(60), "face_consistency": 100.0,
                        "samples": 5},
    }


def synthetic_manifest(n_clips: int, seed: int = 0) -> list[dict[str, Any]]:
    """Kept clip records with demographic metadata drawn unevenly, for benchmark tests."""
    rng = random.Random(seed)
    languages = ["en"] * 6 + ["zh"] * 3 + ["es", "de", "ja", "ar"]
    out = []
    for i in range(n_clips):
        rec = synthetic_part(i, 1, seed)["records"][0]
        rec["status"] = "kept"
        rec["metadata"].update(language=rng.choice(languages), gender=rng.choice(["female", "male"]),
                               age_group=rng.choice(["0-19", "19-30", "31-45", "46-60", "60+"]),
                               ethnicity=rng.choice(["Asian", "Black", "White"]))
        out.append(rec)
    return out


def synthetic_part(video_index: int, n_clips: int, seed: int = 0) -> dict[str, Any]:
    """One video's part file content with ``n_clips`` candidate records (status left to the thresholds)."""
    rng = random.Random(seed * 1_000_003 + video_index)
    video_id = f"synthetic_{video_index:06d}-{rng.getrandbits(32):08x}"
    records = []
    for i in range(n_clips):
        start = 10.0 * i
        rec = Record(id=clip_id_for(video_id, i), video_id=video_id,
                     source=Span(f"/data/raw/{video_id}.mp4", start, start + 5.0),
                     metadata=Metadata(duration=5.0, resolution="1280x720", fps=25.0, quality_score=70.0,
                                       video_codec="h264"),
                     scores=Scores.from_dict(synthetic_scores(rng)), status=REJECTED)
        records.append(rec.to_dict())
    return {"video_id": video_id, "path": f"/data/raw/{video_id}.mp4", "duration": 10.0 * n_clips,
            "records": records}


def tiny_feature_modules() -> tuple[type, type]:
    """Two tiny random network classes with the call conventions of the published feature files:
    StyleGAN2-ADA's Inception ``forward(x, return_features)`` and StyleGAN-V's I3D ``forward(x, rescale,
    resize, return_features)`` (the loader must ask for raw features: the I3D stand-in asserts it)."""
    import torch
    from torch import nn

    class TinyImageNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 6, kernel_size=5, stride=4)
            self.head = nn.Linear(6, 2)

        def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
            f = torch.relu(self.conv(x)).mean(dim=(2, 3))
            return f if return_features else self.head(f)

    class TinyVideoNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv3d(3, 5, kernel_size=(3, 7, 7), stride=(2, 8, 8))

        def forward(self, x: torch.Tensor, rescale: bool = True, resize: bool = True,
                    return_features: bool = False) -> torch.Tensor:
            assert not rescale and not resize and return_features
            return torch.relu(self.conv(x)).mean(dim=(2, 3, 4))

    return TinyImageNet, TinyVideoNet


def tiny_feature_networks(folder) -> tuple:
    """Saves the tiny networks of ``tiny_feature_modules`` as TorchScript; returns (inception, i3d) paths."""
    from pathlib import Path

    import torch

    folder = Path(folder)
    torch.manual_seed(0)
    paths = folder / "inception.pt", folder / "i3d.pt"
    for cls, path in zip(tiny_feature_modules(), paths):
        torch.jit.script(cls()).save(str(path))
    return paths


def write_rgb_video(path, frames, fps: int = 25, pts: list[int] | None = None, time_base=None) -> None:
    """Writes RGB uint8 frames (all one size, even sides) as an H.264 mp4 without audio.

    Args:
        path: the mp4 to write.
        frames: (h, w, 3) uint8 arrays.
        fps: nominal frame rate.
        pts: each frame's timestamp in ``time_base`` ticks (default: one frame period apart).
        time_base: a Fraction, with ``pts``.
    """
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        if time_base is not None:
            s.time_base = s.codec_context.time_base = time_base
        for i, f in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(f, format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[i], time_base
            c.mux(s.encode(frame))
        c.mux(s.encode())


def tiny_wav2vec2(folder: str | Path, hidden: int = 768, seed: int = 0) -> Path:
    """Saves a randomly initialised, tiny wav2vec2 (one layer, the real 320-sample hop) and its
    preprocessor config to ``folder``: a stand-in for wav2vec2-base-960h in tests."""
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    folder = Path(folder)
    torch.manual_seed(seed)
    config = Wav2Vec2Config(hidden_size=hidden, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64,
                            conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
                            vocab_size=32, do_stable_layer_norm=False, feat_extract_norm="group")
    Wav2Vec2Model(config).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=True).save_pretrained(folder)
    return folder


# Files outside calibration/ and what their README says they are.
MEDIA_LABELS: dict[str, dict[str, Any]] = {
    "edge/man_eating_music_nospeech_512.mp4": {"label": "reject", "cause": {"segment", "sync", "no clear peak"}},
    "edge/woman_music_lips_unsynced_512.mp4": {"label": "reject", "cause": {"sync", "no clear peak", "segment"}},
    # A performer at a microphone between audience shots: anything kept must come from the performer's shot.
    "edge/stage_cuts_multiperson_640x360.mp4": {"label": "spans", "talking_spans": [[3.58, 7.88]],
                                                "cuts": [1.51, 3.58, 7.88], "min_coverage": 0.0},
    "generated/real_man_suit_700_vfr.mp4": {"label": "keep"},
}
# What the calibration negatives must be rejected for (truth.json says why in words).
NEGATIVE_CAUSES = {
    "n01": {"sync", "no clear peak"}, "n02": {"sync", "no clear peak"}, "n03": {"sync"}, "n04": {"sync"},
    "n05": {"segment", "sync", "no clear peak"}, "n06": {"head"}, "n07": {"mouth still"},
    "n08": {"head", "quality"}, "n09": {"quality"}, "n11": {"segment", "mouth still"},
    "n12": {"segment", "mouth still"}, "n13": {"segment", "mouth still"}, "n14": {"head"},
    "n15": {"segment", "head"},
}


@dataclass
class MediaLabel(Label):
    """A labelled file of the media folder, with its separate audio if it has one."""

    audio: str | None = None


def media_labels(media: Path) -> list[MediaLabel]:
    """A label for every file of the shared media folder that says what it is (calibration/truth.json, READMEs)."""
    out = []
    for e in json.loads((media / "calibration/truth.json").read_text()):
        if e["label"] not in ("keep", "reject", "spans") or not (media / "calibration" / e["file"]).is_file():
            continue
        if e["file"].startswith("inputs/"):
            continue  # audio only: not a video curate is meant to take
        stem = Path(e["file"]).name[:3]
        out.append(MediaLabel(f"calibration/{e['file']}", e["label"], NEGATIVE_CAUSES.get(stem, set()),
                              e.get("talking_spans", []), e.get("cuts", [])))
    for f in sorted((media / "talking").glob("*.mp4")):
        wav = f.with_suffix(".wav")
        out.append(MediaLabel(f"talking/{f.name}", "keep", audio=str(wav) if wav.is_file() else None))
    for rel, spec in MEDIA_LABELS.items():
        if (media / rel).is_file():
            out.append(MediaLabel(rel, spec["label"], spec.get("cause", set()), spec.get("talking_spans", []),
                                  spec.get("cuts", []), spec.get("min_coverage", MIN_COVERAGE)))
    return out


def media_digests(path: Path) -> dict[str, str]:
    """sha1 of a clip's decoded video frames, of its audio packets, and of the whole file, so that a test
    comparing clips can say which part differs (pixels, audio, or only the container's bytes)."""
    import hashlib

    import av

    digests = {"file": hashlib.sha1(Path(path).read_bytes()).hexdigest()}
    video, audio = hashlib.sha1(), hashlib.sha1()
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            video.update(frame.to_ndarray(format="yuv420p").tobytes())
    with av.open(str(path)) as container:
        for packet in container.demux(audio=0) if container.streams.audio else ():
            if packet.size:
                audio.update(bytes(packet))
    digests.update(video=video.hexdigest(), audio=audio.hexdigest())
    return digests


def portrait_mesh() -> Any:
    """(478, 3) face mesh of the demo's public-domain portrait (matplotlib's grace_hopper.jpg), meshed once."""
    return _portrait_mesh().copy()


def _portrait_mesh_cached():
    import cv2

    from talkset.animate.render import mesh_face
    from talkset.demo import portrait_path

    rgb = cv2.cvtColor(cv2.imread(str(portrait_path())), cv2.COLOR_BGR2RGB)
    return mesh_face(rgb)


def _portrait_mesh():
    global _MESH
    if _MESH is None:
        _MESH = _portrait_mesh_cached()
    return _MESH


_MESH = None


def synthetic_motion_folder(folder, *, speakers: int = 4, clips_per_speaker: int = 2, seconds: float = 4.0,
                            fps: float = 25.0, seed: int = 0, languages: tuple[str, ...] = ("en", "de")) -> Path:
    """A curated-looking folder for training tests whose mouth motion follows its audio exactly.

    Each clip's audio is the demo's formant speech (``talkset.demo.synth_speech``); its annotation npz holds the
    portrait mesh with the jaw opened by the rig's jaw shape as far as that speech's own opening track says
    (20 ms late, as lips lead sound only in real speech), moved by a random head pose, scale and position, plus
    0.3 px of mesh noise. Speakers differ in face proportions and jaw travel. Written: ``manifest.json``,
    ``clips/*.wav``, ``annotations/*.npz`` (the keys ``t``, ``size``, ``face``, ``face_box``, ``head_pose``).

    Args:
        folder: where to write (created).
        speakers: distinct ``metadata.speaker_id`` values.
        clips_per_speaker: clips each.
        seconds: clip length.
        fps: annotation frame rate.
        seed: everything is a function of it.
        languages: cycled over speakers into ``metadata.language``.
    """
    import numpy as np
    import soundfile as sf

    from talkset.animate.rig import Rig, _rotation
    from talkset.demo import SR, synth_speech

    folder = Path(folder)
    (folder / "clips").mkdir(parents=True, exist_ok=True)
    (folder / "annotations").mkdir(parents=True, exist_ok=True)
    base = _portrait_mesh().astype(np.float64)
    rng = np.random.default_rng(seed)
    records = []
    for s in range(speakers):
        stretch = np.array([rng.uniform(0.9, 1.1), rng.uniform(0.9, 1.1), 1.0])
        centre = base.mean(axis=0)
        mesh = centre + (base - centre) * stretch
        rig = Rig(mesh, 2000, 2000)
        jaw_gain = rng.uniform(0.6, 1.0)
        for c in range(clips_per_speaker):
            clip_id = f"spk{s}-clip{c}"
            n = int(seconds * SR)
            audio, opening = synth_speech(rng, n, [(0.3, seconds - 0.3)])
            sf.write(folder / "clips" / f"{clip_id}.wav", (0.5 * audio).astype(np.float32), SR)
            frames = int(seconds * fps)
            # A stand-in clip video (exports need one; training reads only audio and annotations).
            write_rgb_video(folder / "clips" / f"{clip_id}.mp4", [np.full((16, 16, 3), 128, np.uint8)] * frames,
                            fps=int(fps))
            t = np.arange(frames) / fps
            jaw = jaw_gain * np.interp(t + 0.02, np.arange(n) / SR, opening)
            faces = np.empty((frames, 478, 3))
            poses = rng.normal(0, [4, 6, 3], size=3) + np.cumsum(rng.normal(0, 0.3, (frames, 3)), axis=0)
            for i in range(frames):
                expr = mesh.copy()
                expr[:, :2] += (jaw[i] * rig.basis[0]).reshape(-1, 2)
                pivot = expr.mean(axis=0)
                rot = _rotation(*np.radians(poses[i]))
                scale = 0.9 + 0.05 * np.sin(i / 40)
                faces[i] = pivot + scale * (expr - pivot) @ rot.T + np.array([10 * np.sin(i / 30), 5, 0])
                faces[i] += rng.normal(0, 0.3, (478, 3))
            from talkset.vision.face import head_pose

            arrays = {"t": t, "size": np.array([2000, 2000], np.int32), "face": faces.astype(np.float16),
                      "face_box": np.zeros((frames, 4), np.float32),
                      "head_pose": np.array([head_pose(f) for f in faces], np.float32)}
            np.savez_compressed(folder / "annotations" / f"{clip_id}.npz", **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds oddly
            records.append({"id": clip_id, "video-id": f"spk{s}-video", "type": "clip", "status": "kept",
                            "video-path": f"clips/{clip_id}.mp4", "audio-path": f"clips/{clip_id}.wav",
                            "metadata": {"speaker_id": f"spk{s}", "language": languages[s % len(languages)],
                                         "fps": fps, "duration": seconds},
                            "source": {"path": f"spk{s}.mp4", "start": 0.0, "end": seconds},
                            "annotations": {"keypoints": f"annotations/{clip_id}.npz"}, "reasons": []})
    (folder / "manifest.json").write_text(json.dumps(records))
    return folder
